"""Fit the check-worthiness classifier and write ``models/checkworthy/`` with its model card.

Run ``python -m training.train_checkworthy``. The first run embeds ~24k sentences with MiniLM (5-10 minutes
on 2 shared cores) and caches the vectors under ``.work/checkworthy/`` (git-ignored); cross-validating
the candidates then takes another 5-10 minutes. Progress goes to stderr.

Data (read from ``--datasets``, default /work/shared/datasets; never copied into the repository):
  * CheckThat! 2024 English train (= ClaimBuster crowdsourced: the same sentences, counted once).
    ClaimBuster's ``File_id`` is joined on ``Sentence_id`` only to keep each debate in one CV fold.
  * CheckThat! 2021 task 1A English COVID tweets (train + dev), a small out-of-domain set some
    candidates add.
  * Our hand-labelled article-style examples, split "train" (bench/data/checkworthy_articles.jsonl).
  * Form variants: check-worthy training sentences recast as questions and outline instructions, label 0
    (``form_variants``), which some candidates add. Questions are labelled 0 in every source.
  * Not used: CLEF 2020 task 5 debates (1.1 % positive, labelled by what fact-checkers happened to pick,
    so most factual sentences are negatives there; ``load_clef20_debates`` is kept for experiments).
Held out entirely: CT24 English dev (= ClaimBuster groundtruth) and the article "test" split, which are
``bench/checkworthy.py``'s benchmark; any training text equal to one of theirs is dropped.

Model and threshold choice: 5-fold cross-validation grouped by debate gives out-of-fold (validation)
scores for every candidate in ``CANDIDATES``. Selection uses validation F1 of the check-worthy class on
the CT24 train rows; between candidates closer than ``F1_TOLERANCE`` the share of article scaffolding
kept below the threshold decides, then article F1. The threshold maximises the winner's validation F1,
and the winner is refitted on the whole pool.
Everything is seeded, so a rerun writes the same weights (same revision).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from veracity.models.checkworthy import (
    DEFAULT_MODEL_DIR,
    EMBEDDING_DIMENSIONS,
    EMBEDDING_MODEL,
    SURFACE_FEATURE_NAMES,
    CheckworthyModel,
    feature_matrix,
    surface_features,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASETS = Path("/work/shared/datasets")
DEFAULT_CACHE = REPO_ROOT / ".work" / "checkworthy"
ARTICLES_FILE = REPO_ROOT / "bench" / "data" / "checkworthy_articles.jsonl"
SEED = 20240611
F1_TOLERANCE = 0.005


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled segment; ``group`` keeps correlated rows (one debate) in the same CV fold."""

    text: str
    kind: str
    label: int
    source: str
    group: str
    form: str = ""  # article rows: heading, question, statistic ... (for per-form error analysis)
    origin: str = ""  # article rows: "written" by us or segmented from the "seed" article


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def normalise(text: str) -> str:
    """Key used to find the same sentence across files (case and spacing differ between mirrors)."""
    return " ".join(text.lower().split())


def _read_tsv(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_ct24(datasets: Path, split: str) -> list[Example]:
    """CT24 English ``train`` or ``dev`` (Yes = check-worthy); train rows are grouped by debate."""
    folder = datasets / "checkworthiness" / "ct24-english"
    if split == "train":
        rows = _read_tsv(folder / "CT24_checkworthy_english_train.tsv.gz")
        with gzip.open(
            datasets / "checkworthiness" / "claimbuster" / "crowdsourced.csv.gz", "rt", encoding="utf-8", newline=""
        ) as f:
            debate = {r["Sentence_id"]: r["File_id"] for r in csv.DictReader(f)}
    elif split == "dev":
        rows = _read_tsv(folder / "CT24_checkworthy_english_dev.tsv")
        debate = {}
    else:
        raise ValueError(f"split is {split!r}; use 'train' or 'dev'.")
    return [
        Example(
            text=r["Text"].strip(),
            kind="sentence",
            label=int(r["class_label"].strip() == "Yes"),
            source=f"ct24_{split}",
            group=f"ct24:{debate.get(r['Sentence_id'], r['Sentence_id'])}",
        )
        for r in rows
    ]


def load_ct21_tweets(datasets: Path) -> list[Example]:
    """CT21 task 1A English COVID tweets, train + dev (the dev file names its label claim_worthiness)."""
    folder = datasets / "checkworthiness" / "ct21-1a-english-tweets"
    examples = []
    for name in ("dataset_train_v1_english.tsv", "dataset_dev_v1_english.tsv"):
        for r in _read_tsv(folder / name):
            label = r.get("check_worthiness", r.get("claim_worthiness"))
            examples.append(
                Example(
                    text=" ".join(r["tweet_text"].split()),
                    kind="sentence",
                    label=int(label),
                    source="ct21_tweets",
                    group=f"tweet:{r['tweet_id']}",
                )
            )
    return examples


def load_clef20_debates(datasets: Path) -> list[Example]:
    """CLEF 2020 task 5 debates; sparse (1.1 % positive) and labelled by what fact-checkers picked.

    The file lost its debate boundaries, so blocks of 200 consecutive lines stand in for groups.
    """
    rows = _read_tsv(datasets / "checkworthiness" / "clef20-task5-debates" / "train.tsv.gz")
    return [
        Example(
            text=r["text"].strip(), kind="sentence", label=int(r["label"]), source="clef20", group=f"clef20:{i // 200}"
        )
        for i, r in enumerate(rows)
        if r["text"].strip()
    ]


def load_articles(split: str, path: Path = ARTICLES_FILE) -> list[Example]:
    """Our article-style examples of one split; each is its own group (they are independent lines)."""
    examples = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            r = json.loads(line)
            if r["split"] == split:
                examples.append(
                    Example(
                        text=r["text"],
                        kind=r["kind"],
                        label=int(r["label"]),
                        source=f"articles_{split}",
                        group=f"article:{i}",
                        form=r.get("form", ""),
                        origin=r.get("source", ""),
                    )
                )
    return examples


def embed_cached(examples: list[Example], cache_dir: Path, name: str, embedder: object | None = None) -> np.ndarray:
    """Embed the texts with MiniLM once and keep the vectors in ``cache_dir`` keyed by their content."""
    texts = [e.text for e in examples]
    digest = hashlib.sha256("\n".join([EMBEDDING_MODEL, *texts]).encode("utf-8")).hexdigest()[:16]
    file = cache_dir / "embeddings" / f"{name}-{digest}.npy"
    if file.is_file():
        vectors = np.load(file)
        _log(f"  {name}: {len(texts)} embeddings from cache")
        return vectors
    if embedder is None:
        from veracity.models.embedder import Embedder

        embedder = Embedder()
    _log(f"  {name}: embedding {len(texts)} texts with {EMBEDDING_MODEL} ...")
    start = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=64, show_progress=True)  # type: ignore[attr-defined]
    _log(f"  {name}: {len(texts) / (time.perf_counter() - start):.0f} texts/s")
    file.parent.mkdir(parents=True, exist_ok=True)
    np.save(file, vectors)
    return vectors


@dataclass(frozen=True, slots=True)
class Candidate:
    """One configuration tried in cross-validation."""

    name: str
    model: str  # "logreg" or "mlp"
    c: float = 1.0
    class_weight: str | None = None
    article_weight: float = 1.0
    sources: tuple[str, ...] = ("ct24_train", "articles_train")
    hidden: int = 0
    alpha: float = 1e-4


@dataclass(slots=True)
class Pool:
    """Training rows with their features; ``mask(sources)`` selects a candidate's subset."""

    examples: list[Example]
    features: np.ndarray
    labels: np.ndarray = field(init=False)
    sources: np.ndarray = field(init=False)
    groups: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.labels = np.array([e.label for e in self.examples], dtype=np.int64)
        self.sources = np.array([e.source for e in self.examples])
        self.groups = np.array([e.group for e in self.examples])


def _make_estimator(candidate: Candidate, seed: int):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if candidate.model == "logreg":
        clf = LogisticRegression(C=candidate.c, class_weight=candidate.class_weight, max_iter=3000, random_state=seed)
    elif candidate.model == "mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(candidate.hidden,),
            alpha=candidate.alpha,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=5,
            max_iter=200,
            random_state=seed,
        )
    else:
        raise ValueError(f"unknown model {candidate.model!r}")
    return make_pipeline(StandardScaler(), clf)


def _sample_weight(candidate: Candidate, labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    weight = np.where(sources == "articles_train", candidate.article_weight, 1.0)
    if candidate.class_weight == "balanced" and candidate.model == "mlp":
        # MLPClassifier has no class_weight; resample-free equivalent is per-row weights.
        pos = labels.mean()
        weight = weight * np.where(labels == 1, 0.5 / pos, 0.5 / (1 - pos))
    return weight


def fit(candidate: Candidate, features: np.ndarray, labels: np.ndarray, sources: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    """Fit one candidate's scaler + classifier with its row weights."""
    estimator = _make_estimator(candidate, seed)
    weight = _sample_weight(candidate, labels, sources)
    step = estimator.steps[-1][0]
    estimator.fit(features, labels, **{f"{step}__sample_weight": weight})
    return estimator


def to_checkworthy_model(estimator, threshold: float, revision: str) -> CheckworthyModel:  # type: ignore[no-untyped-def]
    """Copy a fitted StandardScaler + LogisticRegression/MLPClassifier into plain numpy arrays."""
    scaler, clf = estimator.steps[0][1], estimator.steps[-1][1]
    if hasattr(clf, "coefs_"):
        weights, biases = list(clf.coefs_), list(clf.intercepts_)
    else:
        weights, biases = [clf.coef_.T], [clf.intercept_]
    return CheckworthyModel.from_arrays(
        feature_mean=scaler.mean_,
        feature_scale=scaler.scale_,
        weights=weights,
        biases=biases,
        threshold=threshold,
        revision=revision,
    )


def prf(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the check-worthy class (1)."""
    tp = int(np.sum((predicted == 1) & (labels == 1)))
    fp = int(np.sum((predicted == 1) & (labels == 0)))
    fn = int(np.sum((predicted == 0) & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


def best_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The threshold on a 0.01 grid that maximises F1 of the check-worthy class, and that F1."""
    best = (0.5, -1.0)
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        f1 = prf(labels, (scores >= t).astype(int))["f1"]
        if f1 > best[1]:
            best = (float(t), f1)
    return best


def cross_validate(candidate: Candidate, pool: Pool, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold scores for every pool row the candidate trains on (NaN for the others)."""
    from sklearn.model_selection import StratifiedGroupKFold

    use = np.isin(pool.sources, candidate.sources)
    idx = np.flatnonzero(use)
    scores = np.full(len(pool.examples), np.nan)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_i, val_i in splitter.split(idx, pool.labels[idx], pool.groups[idx]):
        tr, va = idx[train_i], idx[val_i]
        estimator = fit(candidate, pool.features[tr], pool.labels[tr], pool.sources[tr], seed)
        scores[va] = estimator.predict_proba(pool.features[va])[:, 1]
    return scores


def validation_report(pool: Pool, scores: np.ndarray) -> dict[str, object]:
    """Validation metrics on the debate (CT24 train) and article rows of the out-of-fold scores.

    The threshold maximises F1 on the debate rows: they are 99 % of the validation data and the
    benchmark's domain; the article rows are reported at that same threshold.
    """
    debate = pool.sources == "ct24_train"
    article = pool.sources == "articles_train"
    threshold, _ = best_threshold(pool.labels[debate], scores[debate])
    report: dict[str, object] = {"threshold": threshold}
    for name, mask in (("ct24_train_oof", debate), ("articles_train_oof", article)):
        report[name] = prf(pool.labels[mask], (scores[mask] >= threshold).astype(int))
    forms = np.array([e.form for e in pool.examples])
    scaffold = article & np.isin(forms, SCAFFOLD_FORMS)
    report["articles_train_oof_scaffolding_not_checkworthy_pct"] = round(
        100.0 * float(np.mean(scores[scaffold] < threshold)), 1
    )
    return report


# Article forms that must never be reported as claims (the lead's service overrides them as well).
SCAFFOLD_FORMS = ("heading", "outline_entry", "outline_instruction", "question", "call_to_action", "greeting")


TWEETS = ("ct24_train", "articles_train", "ct21_tweets")
FORMS = (*TWEETS, "augmented_forms")
# The search, kept small for 2 CPU cores: regularisation, class weighting, article weight, the tweets,
# and a one-hidden-layer MLP. Out-of-fold CT24 F1 differs by < 0.01 across all of them (noise level),
# so the article F1 tie-break is what separates them.
CANDIDATES = (
    Candidate("logreg C=1", "logreg", c=1.0),
    Candidate("logreg C=0.1", "logreg", c=0.1),
    Candidate("logreg C=0.01", "logreg", c=0.01),
    Candidate("logreg C=0.1 balanced", "logreg", c=0.1, class_weight="balanced"),
    Candidate("logreg C=0.01 articles x10 +tweets", "logreg", c=0.01, article_weight=10.0, sources=TWEETS),
    Candidate("mlp 256 alpha=1e-3 articles x10", "mlp", hidden=256, alpha=1e-3, article_weight=10.0),
    Candidate(
        "mlp 256 alpha=1e-3 articles x10 +tweets", "mlp", hidden=256, alpha=1e-3, article_weight=10.0, sources=TWEETS
    ),
    Candidate(
        "mlp 256 alpha=1e-2 articles x10 +tweets", "mlp", hidden=256, alpha=1e-2, article_weight=10.0, sources=TWEETS
    ),
    Candidate("logreg C=0.01 articles x10 +tweets +forms", "logreg", c=0.01, article_weight=10.0, sources=FORMS),
    Candidate(
        "mlp 256 alpha=1e-3 articles x10 +tweets +forms",
        "mlp",
        hidden=256,
        alpha=1e-3,
        article_weight=10.0,
        sources=FORMS,
    ),
    Candidate(
        "mlp 256 alpha=1e-2 articles x10 +tweets +forms",
        "mlp",
        hidden=256,
        alpha=1e-2,
        article_weight=10.0,
        sources=FORMS,
    ),
)


# Claims recast as questions and outline instructions, labelled 0: debates hold almost no instructions
# and only 700 questions, so without these the model lets a claim-like topic ("Is kratom legal in the
# United States?") outweigh the form. Templates are deliberately varied so no single prefix is learnt.
QUESTION_TEMPLATES = (
    "Is it true that {}?",
    "Did you know that {}?",
    "Have you heard that {}?",
    "Is it really the case that {}?",
    "Why do people say that {}?",
    "Can we be sure that {}?",
    "What if {}?",
    "Do you believe that {}?",
)
INSTRUCTION_TEMPLATES = (
    "Explain why {}.",
    "Describe how {}.",
    "Discuss whether {}.",
    "Summarize the evidence that {}.",
    "Outline the claim that {}.",
    "Highlight that {}.",
    "Mention that {}.",
    "Examine whether {}.",
    "Compare sources on whether {}.",
    "Tell readers that {}.",
)
FORM_VARIANTS_PER_SOURCE = 1200


def form_variants(claims: list[Example], n: int, seed: int) -> list[Example]:
    """One question and one instruction (label 0) per sampled check-worthy example, in its CV group."""
    import random

    rng = random.Random(seed)
    positives = [e for e in claims if e.label == 1]
    sample = rng.sample(positives, min(n, len(positives)))
    variants = []
    for e in sample:
        body = e.text.strip().rstrip(".!?…\"'”’ ").strip()
        first = body.split(" ", 1)[0]
        if first[1:2].islower() or len(first) == 1 and first != "I":
            body = body[0].lower() + body[1:]  # "Smoking causes ..." -> "smoking causes ..."; keep "FDA", "I"
        variants.append(
            Example(
                rng.choice(QUESTION_TEMPLATES).format(body),
                "sentence",
                0,
                "augmented_forms",
                e.group,
                "augmented_question",
            )
        )
        variants.append(
            Example(
                rng.choice(INSTRUCTION_TEMPLATES).format(body),
                rng.choice(("sentence", "list_item")),
                0,
                "augmented_forms",
                e.group,
                "augmented_instruction",
            )
        )
    return variants


def apply_question_policy(examples: list[Example]) -> tuple[list[Example], int]:
    """Label every question 0, as the service does: a rhetorical question's claim is not extracted."""
    changed = 0
    out = []
    for e in examples:
        if e.label == 1 and surface_features(e.text, e.kind)[SURFACE_FEATURE_NAMES.index("ends_with_question")]:
            e = replace(e, label=0)
            changed += 1
        out.append(e)
    return out, changed


def build_pool(datasets: Path, cache_dir: Path, sources: Iterable[str]) -> tuple[Pool, dict[str, object]]:
    """Load, de-duplicate against the held-out sets, embed (cached) and featurise the training pool."""
    held_out = load_ct24(datasets, "dev") + load_articles("test")
    held_out_keys = {normalise(e.text) for e in held_out}
    loaders = {
        "ct24_train": lambda: load_ct24(datasets, "train"),
        "articles_train": lambda: load_articles("train"),
        "ct21_tweets": lambda: load_ct21_tweets(datasets),
        "clef20": lambda: load_clef20_debates(datasets),
        "augmented_forms": lambda: (
            form_variants(load_ct24(datasets, "train"), FORM_VARIANTS_PER_SOURCE, SEED)
            + form_variants(load_articles("train"), FORM_VARIANTS_PER_SOURCE, SEED)
        ),
    }
    examples: list[Example] = []
    vectors: list[np.ndarray] = []
    dropped: dict[str, int] = {}
    relabelled: dict[str, int] = {}
    for source in sources:
        loaded = loaders[source]()
        vecs = embed_cached(loaded, cache_dir, source)
        loaded, relabelled[source] = apply_question_policy(loaded)
        keep = [i for i, e in enumerate(loaded) if normalise(e.text) not in held_out_keys]
        dropped[source] = len(loaded) - len(keep)
        examples += [loaded[i] for i in keep]
        vectors.append(vecs[keep])
    embeddings = np.concatenate(vectors)
    features = feature_matrix([e.text for e in examples], [e.kind for e in examples], embeddings)
    counts = Counter((e.source, e.label) for e in examples)
    data = {
        s: {
            "rows": counts[(s, 0)] + counts[(s, 1)],
            "check_worthy": counts[(s, 1)],
            "dropped_as_held_out_duplicates": dropped[s],
            "questions_relabelled_0": relabelled[s],
        }
        for s in sources
    }
    return Pool(examples, features), data


def _revision(config: dict[str, object], model: CheckworthyModel) -> str:
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for a in (model.feature_mean, model.feature_scale, *model.weights, *model.biases):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:12]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache (git-ignored)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    np.random.seed(args.seed)
    started = time.perf_counter()
    sources = sorted({s for c in CANDIDATES for s in c.sources})
    _log(f"Loading and embedding training data ({', '.join(sources)}) ...")
    pool, data = build_pool(args.datasets, args.cache, sources)
    _log(f"Training pool: {len(pool.examples)} rows; {json.dumps(data)}")

    results = []
    for candidate in CANDIDATES:
        t0 = time.perf_counter()
        scores = cross_validate(candidate, pool, args.folds, args.seed)
        report = validation_report(pool, scores)
        results.append((candidate, report))
        _log(
            f"  {candidate.name:42s} threshold {report['threshold']:.2f}  "
            f"CT24-train OOF {report['ct24_train_oof']}  articles OOF {report['articles_train_oof']}  "
            f"({time.perf_counter() - t0:.0f}s)"
        )

    # Validation F1 on debates decides, but differences under 0.005 are noise (one fold's worth of
    # label disagreement), so among candidates that close to the best, the one that keeps the most
    # article scaffolding (headings, outlines, questions ...) below the threshold wins, then article F1.
    top = max(r["ct24_train_oof"]["f1"] for _, r in results)
    eligible = [(c, r) for c, r in results if r["ct24_train_oof"]["f1"] >= top - F1_TOLERANCE]
    best, best_report = max(
        eligible,
        key=lambda item: (
            item[1]["articles_train_oof_scaffolding_not_checkworthy_pct"],
            item[1]["articles_train_oof"]["f1"],
        ),
    )
    _log(f"Chosen: {best.name} (threshold {best_report['threshold']:.2f}); refitting on the whole pool ...")
    use = np.isin(pool.sources, best.sources)
    estimator = fit(best, pool.features[use], pool.labels[use], pool.sources[use], args.seed)
    import sklearn

    clf = estimator.steps[-1][1]
    training = {
        "iterations": int(np.max(clf.n_iter_)),
        "candidate": best.name,
        "model": best.model,
        "C": best.c if best.model == "logreg" else None,
        "hidden": best.hidden or None,
        "alpha": best.alpha if best.model == "mlp" else None,
        "class_weight": best.class_weight,
        "article_weight": best.article_weight,
        "sources": list(best.sources),
        "seed": args.seed,
        "folds": args.folds,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    draft = to_checkworthy_model(estimator, best_report["threshold"], revision="")
    model = to_checkworthy_model(estimator, best_report["threshold"], _revision(training, draft))
    model.save(args.out, extra_config={"training": training})
    _log("Scoring the held-out sets for the model card (reported only; nothing is chosen on them) ...")
    held_out = {}
    for name, examples in (
        ("CT24 English dev", load_ct24(args.datasets, "dev")),
        ("article test split", load_articles("test")),
    ):
        vecs = embed_cached(examples, args.cache, "ct24_dev" if name.startswith("CT24") else "articles_test")
        predicted = model.predict([e.text for e in examples], [e.kind for e in examples], vecs).astype(int)
        held_out[name] = prf(np.array([e.label for e in examples]), predicted)
        _log(f"  {name}: {held_out[name]}")
    metrics = {
        "revision": model.revision,
        "threshold": model.threshold,
        "training": training,
        "data": {s: data[s] for s in best.sources},
        "selection": f"among candidates within {F1_TOLERANCE} of the best CT24-train out-of-fold F1: most "
        "article scaffolding below the threshold, then best article-train out-of-fold F1",
        "validation": best_report,
        "held_out": held_out,
        "candidates": [{"name": c.name, **r} for c, r in results],
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_model_card(args.out, metrics)
    _log(f"Wrote {args.out} (revision {model.revision}) in {time.perf_counter() - started:.0f}s")
    return 0


def write_model_card(out: Path, metrics: dict) -> None:  # type: ignore[type-arg]
    """Regenerate README.md from metrics.json so that card and weights never disagree."""
    (out / "README.md").write_text(render_card(metrics), encoding="utf-8")


ARTICLE_LABEL_GUIDE = """\
`bench/data/checkworthy_articles.jsonl` holds {"text", "kind", "label", "split", "form", "source"} rows,
written by us (`source: written`, 277 rows) plus all 39 segments of the seed article (`source: seed`, all
`test`), with `text`/`kind` as `service.segment` produces them. In the first 230 written rows every third
row of each form is `test`; the last 47 (outline entries, headings, questions, instructions, normative
sentences, false claims) were added as `train` after a first benchmark run showed those forms failing,
so the article test numbers are somewhat optimistic; CT24 dev is untouched by this.
Label 1 (check-worthy): a sentence asserting something verifiable about the world: statistics, dates
and approvals, causal and mechanistic claims, what studies found, symptom lists, definitions, and false
or dubious claims too (a claim is worth checking *because* it may be false; the seed's assertions about
kratom and prolactin are 1, hedged with "may" or not). Label 0: headings (always), outline entries and
instructions ("Explain ...: physical and psychological."), calls to action, questions (always, even
rhetorical ones carrying a fact), greetings and sign-offs, hedged summaries ("More research is
needed"), opinions and normative statements ("... is essential"), predictions, personal anecdotes,
vague truisms ("Managing cravings can be a formidable challenge") and meta text ("Read on to learn
more").
"""

KNOWN_FAILURE_MODES = """\
Seen on the held-out article test split (`bench/results/checkworthy.md` lists every error):
- **Debate-trained notion of check-worthy.** 99 % of the natural training rows are US presidential
  debate sentences. Descriptive health statements without a number, name or causal verb are scored
  as not check-worthy: 8 of the seed article's 25 claims are missed, mostly symptom descriptions
  ("Physically, individuals may experience nausea, vomiting, ...", "This can include intense cravings
  ...") and "Opioid withdrawal is a challenging process with intense ... symptoms".
- **Folk-health myths** phrased as short causal claims ("Cracking your knuckles causes arthritis")
  can score low: nothing like them is in the debate data.
- **Normative and evaluative sentences with domain words** score as claims ("Understanding the
  relationship between kratom and prolactin is essential ...", "Detox teas are, frankly, a waste of
  money"), as do statements about the state of knowledge ("The mechanism ... is not yet fully
  understood") and disclaimers.
- **Scaffolding is learnt from a few hundred hand-written rows plus templated variants.** Headings,
  outline entries and instructions, questions and calls to action were all below the threshold on the
  test split and in validation, but unusual outline styles may slip through; the service keeps the
  rule-based version as a hard fallback for headings, questions and instructions.
- **Questions are never check-worthy by policy**, including rhetorical ones that carry a claim ("Did
  you know that one in three adults ...?"); the claim inside is not extracted.
- **English only, one sentence at a time**: no context from neighbouring sentences, so pronoun-led
  sentences ("This can include ...") are scored without knowing what "this" is.
- **Scores are not calibrated probabilities**; compare them with the threshold. The threshold was
  tuned on debate sentences; on articles it trades a little recall for precision.
"""


def _metric_row(name: str, m: dict) -> str:  # type: ignore[type-arg]
    return f"| {name} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} |"


def render_card(metrics: dict) -> str:  # type: ignore[type-arg]
    """The model card: what it was trained on, how it was chosen, how well it does, where it fails."""
    t = metrics["training"]
    v = metrics["validation"]
    lines = [
        "# Check-worthiness classifier",
        "",
        "Scores each segment of a submitted text 0–1 for whether it is a factual claim worth checking;",
        f"`score >= threshold` ({metrics['threshold']:.2f}) means check-worthy. Load it with",
        "`models.checkworthy.CheckworthyModel.load(Path('models/checkworthy'))` and call",
        "`.score(texts, kinds, embeddings)` with the segments' precomputed embeddings.",
        "",
        "| | |",
        "| --- | --- |",
        f"| revision | `{metrics['revision']}` |",
        f"| input | {EMBEDDING_MODEL} embedding ({EMBEDDING_DIMENSIONS}-d, normalised; the retrieval stage's "
        f"vector, not recomputed) + {len(SURFACE_FEATURE_NAMES)} surface features |",
        f"| surface features | {', '.join(f'`{n}`' for n in SURFACE_FEATURE_NAMES)} |",
        f"| classifier | {t['candidate']} (scikit-learn {t['sklearn']}), standardised inputs |",
        "| files | `model.safetensors` (float32 arrays, no pickle), `config.json`, `metrics.json` |",
        f"| seed | {t['seed']} (`python -m training.train_checkworthy` rewrites identical weights) |",
        "",
        "## Training data",
        "",
        "| source | rows | check-worthy | dropped (same text as a held-out row) | questions relabelled 0 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    names = {
        "ct24_train": "CheckThat! 2024 English train (= ClaimBuster crowdsourced; counted once)",
        "articles_train": "hand-written article-style examples, split `train` "
        "(`bench/data/checkworthy_articles.jsonl`)",
        "ct21_tweets": "CheckThat! 2021 1A English COVID tweets (train + dev)",
        "clef20": "CLEF 2020 task 5 debates",
        "augmented_forms": "check-worthy training rows recast as questions / outline instructions "
        f"(label 0; up to {FORM_VARIANTS_PER_SOURCE:,} CT24 claims + all article claims, in their CV group)",
    }
    for source, d in metrics["data"].items():
        lines.append(
            f"| {names.get(source, source)} | {d['rows']:,} | {d['check_worthy']:,} | "
            f"{d['dropped_as_held_out_duplicates']} | {d['questions_relabelled_0']} |"
        )
    lines += [
        "",
        f"Article rows are weighted ×{t['article_weight']:g} so that headings, list items, outline "
        "instructions, calls to action, questions, hedges, opinions, predictions and anecdotes (absent "
        "from debates) shape the decision. Questions are labelled 0 everywhere (the service never reports "
        "a question as a claim; CT24 calls 31 rhetorical questions check-worthy).",
        "Held out, never trained on: CT24 English dev (= ClaimBuster groundtruth, 1,032 rows) and the "
        "article `test` split (with every segment of the seed article); they are "
        "`bench/checkworthy.py`'s benchmark.",
        "",
        "## Model selection and threshold",
        "",
        f"{t['folds']}-fold cross-validation on the training pool, grouped by debate (a whole debate is "
        "in one fold), stratified by label. Each candidate's out-of-fold scores give its validation F1 "
        "of the check-worthy class on the CT24 train rows at the F1-maximising threshold. Among the "
        f"candidates within {F1_TOLERANCE} of the best such F1 (closer is noise), the one keeping the most "
        "article scaffolding (headings, outline entries and instructions, questions, calls to action, "
        "greetings) below the threshold wins, then the best article F1; it is refitted on the whole pool. The threshold "
        f"**{metrics['threshold']:.2f}** is the F1-maximising one for the winner's out-of-fold scores.",
        "",
        "In the open: the `+forms` variants, the question relabelling and the scaffolding criterion were "
        "added after early benchmark runs (and new unit-test sentences) showed outline entries, questions "
        "and instructions scored as claims; the test sentences themselves were never trained on.",
        "",
        "| candidate | threshold | CT24 train F1 (out-of-fold) | P | R | article train F1 (out-of-fold) "
        "| article scaffolding not check-worthy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in metrics["candidates"]:
        d, a = c["ct24_train_oof"], c["articles_train_oof"]
        mark = " **(chosen)**" if c["name"] == t["candidate"] else ""
        lines.append(
            f"| {c['name']}{mark} | {c['threshold']:.2f} | {d['f1']:.3f} | {d['precision']:.3f} | "
            f"{d['recall']:.3f} | {a['f1']:.3f} | "
            f"{c['articles_train_oof_scaffolding_not_checkworthy_pct']:.0f}% |"
        )
    lines += [
        "",
        "## Validation metrics of the chosen model (out-of-fold)",
        "",
        "| set | F1 (check-worthy) | precision | recall |",
        "| --- | ---: | ---: | ---: |",
        _metric_row("CT24 train, out-of-fold", v["ct24_train_oof"]),
        _metric_row("article train, out-of-fold", v["articles_train_oof"]),
        "",
        "Article scaffolding (headings, outline entries and instructions, questions, calls to action, "
        f"greetings) scored below the threshold, out-of-fold: "
        f"{v['articles_train_oof_scaffolding_not_checkworthy_pct']:.0f}%.",
    ]
    held = metrics.get("held_out")
    if held:
        lines += [
            "",
            "## Held-out benchmark (reported only; nothing was chosen on it)",
            "",
            "| set | F1 (check-worthy) | precision | recall |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [_metric_row(name, m) for name, m in held.items()]
        lines += [
            "",
            "Side by side with the rule-based version and baselines, with costs: "
            "`bench/results/checkworthy.md` (`python -m bench.checkworthy`).",
        ]
    lines += ["", "## Article data labelling guideline", "", ARTICLE_LABEL_GUIDE]
    lines += ["## Known failure modes", "", KNOWN_FAILURE_MODES]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
