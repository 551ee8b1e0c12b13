"""The stance model's support cut as a rule on probabilities: numpy only, so that the verdict rules (and anything
else that applies it to stored probabilities) need not import torch."""

from __future__ import annotations

import numpy as np

__all__ = ["apply_min_support"]


def apply_min_support(probs: np.ndarray, min_support: float) -> np.ndarray:
    """The decision rule as probabilities, so that the argmax is the pair's label.

    Where P(supports) < ``min_support`` the support is not trusted: its mass moves to *neutral* ("takes no side"),
    unless *contradicts* was the model's own first choice, which then stays the label. (It used to go to the
    likelier of the other two, so a pair at 0.55 supports / 0.30 contradicts was shown as "contradicts", and one
    such item was enough to call a word-for-word quotation of the corpus "conflicting".)"""
    out = np.array(probs, dtype=np.float64).reshape(-1, 3)
    weak = out[:, 0] < min_support
    contra = weak & (out[:, 1] > out[:, 0]) & (out[:, 1] >= out[:, 2])
    out[contra, 0] = 0.0
    out[contra] /= out[contra].sum(axis=1, keepdims=True).clip(min=1e-12)
    rest = weak & ~contra
    out[rest, 2] += out[rest, 0]
    out[rest, 0] = 0.0
    return out
