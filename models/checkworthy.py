"""Score how check-worthy a segment is, from the embedding the pipeline already computed.

The retrieval stage embeds every segment with all-MiniLM-L6-v2, so this model takes that vector as
input instead of running a second encoder: scoring costs one small matrix product plus a handful of
regular expressions per sentence. On top of the 384-d embedding it reads a few surface features
(heading or list item, question, leading imperative, numbers, capitalised names, hedges) because
debate transcripts, the bulk of the training data, contain no headings or outline instructions, and
these cues let a few hundred article examples teach those forms.

The weights are plain float32 arrays in ``model.safetensors`` plus ``config.json``: loading executes no
code (no pickle) and needs neither scikit-learn nor torch. ``training/train_checkworthy.py`` writes them.
This module must not import ``service`` (arrows point from service to models), so the surface rules
of ``service.checkworthy.rule_checkworthiness`` are re-implemented here as ``rule_score``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from veracity.models.embedder import DIMENSIONS

EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIMENSIONS = DIMENSIONS
KINDS = ("sentence", "heading", "list_item")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "checkworthy"

# Verbs that open outline instructions and calls to action ("Explain ...", "Highlight ...").
# The first block mirrors service.checkworthy.IMPERATIVE_VERBS so that rule_score matches it exactly;
# EXTRA_IMPERATIVE_VERBS only feeds the separate ``imperative_first`` feature.
RULE_IMPERATIVE_VERBS = frozenset(
    """add analyze analyse ask avoid begin call check choose click compare consider contact continue create
    define describe discover discuss do download download enjoy ensure explain explore find follow get give go
    highlight imagine join keep learn let list look make mention note order outline provide read remember
    review see share sign start stop subscribe summarize summarise take talk tell try understand use visit
    watch""".split()
)
EXTRA_IMPERATIVE_VERBS = frozenset(
    """address always book buy conclude consult don't dont emphasize emphasise illustrate include introduce
    never reach seek schedule speak stay write""".split()
)
_GREETING = re.compile(r"^(hi|hello|hey|welcome|thanks|thank you|dear|cheers|good (morning|afternoon|evening))\b", re.I)
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$")
_QUESTION = re.compile(r"\?[\"'”’)\]]*$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_NUMBER = re.compile(
    r"\d|\b(percent|per cent|million|billion|trillion|thousand|hundred|half|twice|double|triple|"
    r"one in|dozen)\b",
    re.I,
)
_FIRST_PERSON = re.compile(r"\b(I|I'm|I’m|I've|I’ve|me|my|mine)\b")
_SECOND_PERSON = re.compile(r"\b(you|your|you're|you’re|yourself)\b", re.I)
_HEDGE = re.compile(
    r"\b(may|might|could|perhaps|possibly|potential(ly)?|suggests?|unclear|uncertain|(more|further) "
    r"(research|stud(y|ies)|trials?)|not (yet )?(fully )?(known|understood))\b",
    re.I,
)
_OPINION = re.compile(
    r"\b(I think|I believe|I feel|in my (view|opinion)|we believe|should|must|best|worst|great|"
    r"amazing|important|crucial|essential)\b",
    re.I,
)
_FUTURE = re.compile(r"\b(will|won't|going to|in the future|soon)\b", re.I)

SURFACE_FEATURE_NAMES = (
    "is_heading",
    "is_list_item",
    "ends_with_question",
    "ends_with_colon",
    "no_terminal_punctuation",
    "imperative_first",
    "greeting",
    "has_number",
    "capitalised_tokens",
    "log_word_count",
    "rule_score",
    "first_person",
    "second_person",
    "hedge",
    "opinion",
    "future",
)


def rule_score(text: str, kind: str) -> float:
    """The score of ``service.checkworthy.rule_checkworthiness``, re-implemented for use as a feature.

    Kept rule for rule identical to the service's first version so that the model sees the same signal
    the service falls back on; a test compares the two on the seed article.
    """
    text = text.strip()
    words = _WORD.findall(text)
    if kind == "heading":
        return 0.0
    if text.endswith("?"):
        return 0.05
    if text.endswith(":"):
        return 0.05
    if _GREETING.match(text):
        return 0.05
    if words and words[0].lower() in RULE_IMPERATIVE_VERBS:
        return 0.1
    if len(words) < 4:
        return 0.1
    if kind == "list_item" and not _TERMINAL.search(text) and len(words) <= 12:
        return 0.1
    if kind == "list_item" and len(words) < 6:
        return 0.2
    return 0.9


def surface_features(text: str, kind: str) -> np.ndarray:
    """Return the ``SURFACE_FEATURE_NAMES`` values for one segment as float32 (pure; no state).

    Each feature is a cue the debate data cannot teach from embeddings alone, or one that the
    embedding blurs (a digit, a leading imperative, a question mark).
    """
    if kind not in KINDS:
        raise ValueError(f"kind is {kind!r}; expected one of {', '.join(KINDS)} (service.segment kinds).")
    stripped = text.strip()
    words = _WORD.findall(stripped)
    first = words[0].lower() if words else ""
    # Capitalised tokens after the first word stand in for named entities ("FDA", "Kratom", "Lancet").
    capitalised = sum(1 for w in words[1:] if w[0].isupper() and w not in ("I", "I'm", "I’m"))
    values = (
        kind == "heading",
        kind == "list_item",
        bool(_QUESTION.search(stripped)),
        stripped.endswith(":"),
        not _TERMINAL.search(stripped),
        first in RULE_IMPERATIVE_VERBS or first in EXTRA_IMPERATIVE_VERBS,
        bool(_GREETING.match(stripped)),
        bool(_NUMBER.search(stripped)),
        min(capitalised, 5) / 5.0,
        np.log1p(len(words)),
        rule_score(stripped, kind),
        bool(_FIRST_PERSON.search(stripped)),
        bool(_SECOND_PERSON.search(stripped)),
        bool(_HEDGE.search(stripped)),
        bool(_OPINION.search(stripped)),
        bool(_FUTURE.search(stripped)),
    )
    return np.asarray(values, dtype=np.float32)


def feature_matrix(texts: list[str], kinds: list[str], embeddings: np.ndarray) -> np.ndarray:
    """Concatenate the precomputed embeddings with the surface features, one row per segment."""
    if len(texts) != len(kinds):
        raise ValueError(f"Got {len(texts)} texts but {len(kinds)} kinds; pass one kind per text.")
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape != (len(texts), EMBEDDING_DIMENSIONS):
        raise ValueError(
            f"embeddings have shape {embeddings.shape}; expected ({len(texts)}, {EMBEDDING_DIMENSIONS}): "
            f"one normalised {EMBEDDING_MODEL} vector per text, as the retrieval stage computes them."
        )
    if not texts:
        return np.zeros((0, EMBEDDING_DIMENSIONS + len(SURFACE_FEATURE_NAMES)), dtype=np.float32)
    surface = np.stack([surface_features(t, k) for t, k in zip(texts, kinds, strict=True)])
    return np.concatenate([embeddings, surface], axis=1)


def _dense(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` in numpy's own single-threaded loop rather than multi-threaded BLAS.

    One article is ~40 rows: the product takes ~0.5 ms, but waking BLAS threads that sit idle between
    requests cost 3-50 ms per call on the shared 2-core machine (measured by bench/checkworthy.py).
    """
    return np.einsum("ij,jk->ik", x, w)


@dataclass(frozen=True, slots=True)
class CheckworthyModel:
    """A standardiser and a small feed-forward net (one layer = logistic regression) in numpy.

    ``threshold`` was chosen on validation data by ``train_checkworthy``; ``score >= threshold`` means
    check-worthy. ``revision`` identifies the fitted weights for ``/v1/health``.
    """

    feature_mean: np.ndarray
    feature_scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    threshold: float
    revision: str
    feature_names: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_DIR) -> CheckworthyModel:
        """Read ``config.json`` and ``model.safetensors`` from ``path``; no network, no pickle."""
        path = Path(path)
        config_file, weights_file = path / "config.json", path / "model.safetensors"
        if not config_file.is_file() or not weights_file.is_file():
            raise FileNotFoundError(
                f"No check-worthiness model in {path} (need config.json and model.safetensors); "
                "run `python -m training.train_checkworthy` to fit one."
            )
        config = json.loads(config_file.read_text(encoding="utf-8"))
        names = tuple(config["surface_features"])
        if names != SURFACE_FEATURE_NAMES:
            raise ValueError(
                f"{path} was trained with surface features {names}, but this code computes "
                f"{SURFACE_FEATURE_NAMES}; retrain with `python -m training.train_checkworthy`."
            )
        if config["embedding_model"] != EMBEDDING_MODEL:
            raise ValueError(f"{path} expects {config['embedding_model']} embeddings, not {EMBEDDING_MODEL}.")
        tensors = load_file(str(weights_file))
        layers = int(config["layers"])
        return cls.from_arrays(
            feature_mean=tensors["feature_mean"],
            feature_scale=tensors["feature_scale"],
            weights=[tensors[f"layers.{i}.weight"] for i in range(layers)],
            biases=[tensors[f"layers.{i}.bias"] for i in range(layers)],
            threshold=float(config["threshold"]),
            revision=str(config["revision"]),
        )

    @classmethod
    def from_arrays(
        cls,
        *,
        feature_mean: np.ndarray,
        feature_scale: np.ndarray,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        threshold: float,
        revision: str,
    ) -> CheckworthyModel:
        """Build a model from fitted arrays (weights are (in, out)); arrays are copied read-only."""

        def frozen(a: np.ndarray) -> np.ndarray:
            a = np.array(a, dtype=np.float32, copy=True)
            a.setflags(write=False)
            return a

        n_features = EMBEDDING_DIMENSIONS + len(SURFACE_FEATURE_NAMES)
        if feature_mean.shape != (n_features,) or weights[0].shape[0] != n_features:
            raise ValueError(f"Expected {n_features} input features; got {weights[0].shape[0]}.")
        if weights[-1].shape[1] != 1:
            raise ValueError("The last layer must have one output (the check-worthy logit).")
        return cls(
            feature_mean=frozen(feature_mean),
            feature_scale=frozen(feature_scale),
            weights=tuple(frozen(w) for w in weights),
            biases=tuple(frozen(b) for b in biases),
            threshold=float(threshold),
            revision=revision,
            feature_names=SURFACE_FEATURE_NAMES,
        )

    def save(self, path: Path, extra_config: dict[str, object] | None = None) -> None:
        """Write ``model.safetensors`` and ``config.json`` (plus any training metadata) to ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {"feature_mean": self.feature_mean, "feature_scale": self.feature_scale}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w)
            tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b)
        save_file(tensors, str(path / "model.safetensors"))
        config: dict[str, object] = {
            "embedding_model": EMBEDDING_MODEL,
            "embedding_dimensions": EMBEDDING_DIMENSIONS,
            "surface_features": list(SURFACE_FEATURE_NAMES),
            "layers": len(self.weights),
            "activation": "relu",
            "output": "sigmoid",
            "threshold": self.threshold,
            "revision": self.revision,
        }
        config.update(extra_config or {})
        (path / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Raw check-worthy logits for rows of ``feature_matrix`` output."""
        h = (np.asarray(features, dtype=np.float32) - self.feature_mean) / self.feature_scale
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = _dense(h, w) + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def score(self, texts: list[str], kinds: list[str], embeddings: np.ndarray) -> np.ndarray:
        """Check-worthiness in [0, 1] per segment, from its text, kind and precomputed embedding.

        Not a calibrated probability (article rows were up-weighted in training and the threshold
        was tuned for F1): compare with ``threshold`` rather than 0.5.
        """
        z = self.logits(feature_matrix(texts, kinds, embeddings)).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def predict(self, texts: list[str], kinds: list[str], embeddings: np.ndarray) -> np.ndarray:
        """Boolean check-worthy decision per segment: ``score >= threshold``."""
        return self.score(texts, kinds, embeddings) >= self.threshold
