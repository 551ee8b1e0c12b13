"""Claim-level verdict combiner: top-k evidence stances -> P(supported), P(contradicted), P(unsupported).

The stance model judges one (claim, evidence) pair at a time; a claim's verdict has to weigh several
pieces of evidence of varying relevance and certainty. ``claim_features`` summarises the top-k evidence in a
fixed-length vector, and ``VerdictModel`` wraps a calibrated scikit-learn classifier fitted on held-out claims
by ``training/train_verdict.py``, saved with skops (no pickle, explicit trusted types).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veracity.models.labels import VERDICT_LABELS

DEFAULT_DIR = Path(__file__).resolve().parent / "verdict"
MODEL_FILE = "verdict.skops"
META_FILE = "verdict_meta.json"

# GRADE certainty as a weight on an evidence item's stance. The combiner was fitted on ungraded evidence
# only (public datasets carry no GRADE), so these weights are a prior, not learned: graded 'high' evidence
# counts a little more than ungraded, 'very_low' much less.
GRADE_WEIGHTS: dict[str, float] = {
    "high": 1.0,
    "moderate": 0.85,
    "low": 0.6,
    "very_low": 0.35,
    "ungraded": 0.75,
}

# Kept small on purpose: the combiner is fitted on ~160 held-out claims, and with the 17 features tried first
# its cross-fitted macro-F1 was lower (0.42-0.45) than with these eight (0.49).
FEATURE_NAMES: tuple[str, ...] = (
    "max_p_sup",
    "max_p_con",
    "min_p_neu",
    "max_sim",
    "max_sim_x_p_sup",
    "max_sim_x_p_con",
    "grade_weighted_sup",
    "grade_weighted_con",
)


def claim_features(
    stance_probs: np.ndarray, similarities: Sequence[float] | np.ndarray, grades: Sequence[str]
) -> np.ndarray:
    """Fixed-length summary of a claim's top-k evidence.

    ``stance_probs`` is (k, 3) in stance order (supports, contradicts, neutral), ``similarities`` the k
    retrieval cosines, ``grades`` one of GRADE_WEIGHTS' keys per item. k may be 0 (nothing retrieved).
    The grade-weighted masses are sums capped at 3 items' worth, so k=5 and k=8 stay comparable.
    """
    probs = np.asarray(stance_probs, dtype=np.float64).reshape(-1, 3)
    sims = np.clip(np.asarray(similarities, dtype=np.float64).reshape(-1), 0.0, 1.0)
    k = len(probs)
    if len(sims) != k or len(grades) != k:
        raise ValueError(f"got {k} stance rows, {len(sims)} similarities and {len(grades)} grades")
    if k == 0:
        out = np.zeros(len(FEATURE_NAMES))
        out[FEATURE_NAMES.index("min_p_neu")] = 1.0
        return out
    unknown = [g for g in grades if g not in GRADE_WEIGHTS]
    if unknown:
        raise ValueError(f"unknown grade {unknown[0]!r}; expected one of {sorted(GRADE_WEIGHTS)}")
    g = np.array([GRADE_WEIGHTS[x] for x in grades])
    sup, con, neu = probs[:, 0], probs[:, 1], probs[:, 2]
    cap = 3.0
    feats = {
        "max_p_sup": sup.max(),
        "max_p_con": con.max(),
        "min_p_neu": neu.min(),
        "max_sim": sims.max(),
        "max_sim_x_p_sup": (sims * sup).max(),
        "max_sim_x_p_con": (sims * con).max(),
        "grade_weighted_sup": min(cap, float((g * sup).sum())),
        "grade_weighted_con": min(cap, float((g * con).sum())),
    }
    return np.array([feats[n] for n in FEATURE_NAMES], dtype=np.float64)


# Types skops may rebuild when loading; anything else in the file is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.model_selection._split.GroupKFold",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.model_selection._split.PredefinedSplit",
    "builtins.list",
    "builtins.tuple",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "numpy.ndarray",
)


@dataclass(frozen=True, slots=True)
class VerdictModel:
    """A fitted combiner; ``predict_proba`` columns follow VERDICT_LABELS."""

    estimator: Any
    feature_names: tuple[str, ...] = FEATURE_NAMES
    labels: tuple[str, ...] = VERDICT_LABELS
    # reason_code -> (a, b): the confidence shown is sigmoid(a * logit(p) + b), fitted on held-out claims
    confidence_calibration: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path = DEFAULT_DIR) -> VerdictModel:
        import skops.io as sio

        folder = Path(folder)
        path = folder / MODEL_FILE
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
        if untrusted:
            raise ValueError(f"{path} holds types outside the trusted list: {untrusted}")
        estimator = sio.load(path, trusted=list(sio.get_untrusted_types(file=path)))
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        names = tuple(meta["feature_names"])
        if names != FEATURE_NAMES:
            raise ValueError(f"{path} was fitted on features {names}; this code computes {FEATURE_NAMES}")
        calibration = meta.get("confidence_calibration", {}).get("coef", {})
        return cls(
            estimator, names, tuple(meta["labels"]), {k: (float(a), float(b)) for k, (a, b) in calibration.items()}
        )

    def save(self, folder: str | Path, extra_meta: dict[str, Any] | None = None) -> None:
        import skops.io as sio

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator, folder / MODEL_FILE)
        meta = {"feature_names": list(self.feature_names), "labels": list(self.labels), **(extra_meta or {})}
        (folder / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities, supported / contradicted / unsupported; a 1-D vector is one claim."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        proba = self.estimator.predict_proba(x)
        # estimator classes are label indices 0..2; reorder defensively in case one was absent in training
        out = np.zeros((len(x), len(self.labels)))
        for j, c in enumerate(self.estimator.classes_):
            out[:, int(c)] = proba[:, j]
        return out

    def calibrated_confidence(self, p: float, reason_code: str) -> float:
        """P(the label shown is right), from the combiner's probability for that label and what it rests on.

        The rules after the combiner override its choice (a support held back as "conflicting" shows
        P(unsupported), often under 0.2), so the combiner's probability is not the chance that the label a reader
        sees is right; this mapping, fitted per reason code on held-out claims, is. Codes without one keep ``p``.
        """
        coef = self.confidence_calibration.get(reason_code)
        if coef is None:
            return p
        q = min(max(p, 1e-4), 1 - 1e-4)
        return float(1.0 / (1.0 + np.exp(-(coef[0] * np.log(q / (1 - q)) + coef[1]))))

    def predict(self, features: np.ndarray) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(features).argmax(axis=1)]
