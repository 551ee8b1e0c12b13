"""Scores shared by training and ``bench/``: one definition of macro-F1, false-supported and calibration error."""

from __future__ import annotations

from typing import Any

import numpy as np

from veracity.models.stance import LABELS


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE with equal-width bins: the gap between confidence and accuracy, weighted by bin size."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(ece)


def stance_metrics(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Macro-F1, per-class F1, false-supported rate (gold not supports, predicted supports), ECE, NLL."""
    y = np.asarray(y)
    pred = probs.argmax(axis=1)
    f1 = []
    for k in range(len(LABELS)):
        tp = int(((pred == k) & (y == k)).sum())
        fp = int(((pred == k) & (y != k)).sum())
        fn = int(((pred != k) & (y == k)).sum())
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"))
    present = [f for k, f in enumerate(f1) if (y == k).any()]
    not_sup = y != 0
    eps = 1e-12
    return {
        "n": int(len(y)),
        "macro_f1": float(np.mean(present)) if present else float("nan"),
        "f1": {lab: round(float(f), 4) for lab, f in zip(LABELS, f1, strict=True)},
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "false_supported": float((pred[not_sup] == 0).mean()) if not_sup.any() else float("nan"),
        "contradicts_called_supports": float((pred[y == 1] == 0).mean()) if (y == 1).any() else float("nan"),
        "ece": expected_calibration_error(y, probs) if len(y) else float("nan"),
        "nll": float(-np.log(probs[np.arange(len(y)), y] + eps).mean()) if len(y) else float("nan"),
        "support": [int((y == k).sum()) for k in range(len(LABELS))],
    }
