"""Is this evidence item *about* the claim at all? A small aboutness score, separate from the stance model.

The stance model was trained on pairs that are on topic; shown an off-topic pair ("Apple released the iPhone 15"
against overdose statistics) it still has to pick a side, and once in a while it picks "contradicts". A fact-checker
that calls an off-topic sentence contradicted is wrong in the most visible way, so the verdict asks this model
first: items it judges not about the claim are never read for stance, and a claim with no such item is reported
as *not covered by the corpus*.

The score is a logistic regression over a handful of features that need no extra model pass: the retrieval cosine
(already computed), and how much of the claim's content vocabulary the evidence shares. It is fitted by
``training/train_relevance.py`` on on-topic pairs (the team-written stance pairs and the public datasets' gold pairs)
against off-topic sentences (general-knowledge claims and everyday NLI sentences) paired with the items the
retriever returns for them; its coefficients live in ``models/relevance/relevance.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path(__file__).resolve().parent / "relevance"
FEATURES: tuple[str, ...] = ("cosine", "overlap", "shared", "cosine_x_overlap", "claim_terms")

_STOP = frozenset(
    """about above after again against also among and any are because been before being below between both but
    can could did does doing down during each few for from further had has have having her here hers herself him
    himself his how into its itself just more most much must not now off once only other our ours out over own
    same she should some such than that the their theirs them then there these they this those through too under
    until very was were what when where which while who whom why will with would you your yours may might many
    one two three per new use used using who whose shown show shows found study studies people patients""".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")
# Dates say when, not what about: "Apple released the iPhone 15 in September 2023" shared "september 2023" with an
# overdose statistic and passed as on topic, so numbers and month names are not content terms.
_WHEN = frozenset("january february march april may june july august september october november december".split())


def terms(text: str) -> set[str]:
    """Content stems: lower-cased words of 3+ letters minus stop words, numbers and months, cut to 6 characters."""
    return {
        t[:6]
        for t in _TOKEN.findall(text.lower())
        if len(t) >= 3 and t not in _STOP and t not in _WHEN and not t.isdigit()
    }


def features(claim: str, evidence: str, cosine: float) -> np.ndarray:
    c, e = terms(claim), terms(evidence)
    shared = len(c & e)
    overlap = shared / len(c) if c else 0.0
    return np.array([cosine, overlap, min(shared, 5) / 5.0, cosine * overlap, min(len(c), 12) / 12.0])


@dataclass(frozen=True)
class RelevanceModel:
    """P(about) = sigmoid(w · features + b); an item counts as about the claim at P ≥ ``cut``."""

    weights: tuple[float, ...]
    bias: float
    cut: float
    revision: str = ""

    @classmethod
    def load(cls, folder: Path = DEFAULT_DIR) -> RelevanceModel:
        path = Path(folder) / "relevance.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"No relevance model at {path}; train one with `python -m training.train_relevance` "
                "or point VERACITY_RELEVANCE_MODEL at its folder."
            ) from None
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"{path} was fitted on features {data['features']}, this code computes {list(FEATURES)}")
        return cls(tuple(data["weights"]), float(data["bias"]), float(data["cut"]), data.get("revision", ""))

    def score(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float]) -> np.ndarray:
        """P(about) for each (claim, evidence) pair with its retrieval cosine."""
        if not pairs:
            return np.zeros(0)
        x = np.stack([features(c, e, s) for (c, e), s in zip(pairs, cosines, strict=True)])
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))

    def about(self, pairs: Sequence[tuple[str, str]], cosines: Sequence[float]) -> np.ndarray:
        return self.score(pairs, cosines) >= self.cut
