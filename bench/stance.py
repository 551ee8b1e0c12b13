"""Stance benchmark: the trained cross-encoder against two cheap baselines, on the held-out validation split.

    python -m bench.stance                 # validation split of models/stance/splits.json
    python -m bench.stance --quick         # subsampled, about a minute
    python -m bench.stance --data claims_dev.jsonl --corpus corpus.jsonl   # an external SciFact-format set
    python -m bench.stance --data healthver_test.csv                       # HealthVer format
    python -m bench.stance --data pairs.jsonl                              # {claim, evidence, label} lines

Methods, side by side:
* ``stance_model``: models/stance (MiniLM cross-encoder, temperature-scaled; ``--model`` scores another folder);
* ``similarity``: MiniLM cosine > t -> supports, else neutral; t chosen on training pairs, probabilities from
  a 1-D logistic fit of the cosine on training pairs (it never says "contradicts");
* ``tfidf_lr``: TF-IDF of claim, evidence and their shared terms + logistic regression, trained on the same
  training pairs as the stance model.

Reports macro-F1 (with a bootstrap 95% interval), per-class F1, false-supported rate (gold not supports,
predicted supports), ECE, and CPU pairs/s; writes bench/results/stance.{json,md} and a reliability diagram PNG.
``--data`` scores every row of the file: pass held-out data (the shared HealthVer dev and SciFact train files hold
the stance model's training claims). The first run builds the pair cache in bench/results/cache/ (it embeds the
SciFact corpus: about 15 minutes on two busy cores); later runs take a few minutes, ``--quick`` about one.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import results_dir
from training.metrics import stance_metrics
from training.stance_data import (
    NEUTRAL,
    StancePair,
    build_pairs,
    healthver_pairs,
    load_embedder,
    load_split,
    read_splits,
    write_pairs,
)
from training.stance_written import ANNOTATIONS_DIR, EvidenceResolver, read_challenge, read_written, to_pairs
from veracity.models.stance import LABELS, StanceModel
from veracity.models.support_rule import apply_min_support

log = logging.getLogger("bench.stance")

_LABEL_WORDS = {
    "supports": 0,
    "support": 0,
    "supported": 0,
    "entailment": 0,
    "true": 0,
    "contradicts": 1,
    "contradict": 1,
    "contradicted": 1,
    "refutes": 1,
    "refuted": 1,
    "contradiction": 1,
    "false": 1,
    "neutral": 2,
    "nei": 2,
    "not_enough_info": 2,
    "unsupported": 2,
    "not enough info": 2,
}


# ----------------------------------------------------------------------------------------- data


def pairs_cache(datasets: Path, splits: Path, cache: Path) -> Path:
    """Training + validation pairs, rebuilt with the committed split if the cache is missing (minutes)."""
    path = cache / "pairs.jsonl.gz"
    if not path.exists():
        log.info("building pairs into %s (embeds the SciFact corpus on first run)", path)
        tagged, _ = build_pairs(datasets, cache, split=load_split(splits))
        write_pairs(path, tagged)
    return path


def external_pairs(path: Path, corpus: Path | None) -> list[StancePair]:
    """Pairs from a file in one of the shared datasets' formats (see module docstring)."""
    path = Path(path)
    if path.suffix == ".csv":
        return healthver_pairs(path, group_by="claim")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        rows = [json.loads(line) for line in fh if line.strip()]
    if rows and "evidence" in rows[0] and isinstance(rows[0]["evidence"], dict):
        if corpus is None:
            raise SystemExit("a SciFact claims file needs --corpus (corpus.jsonl or corpus_*.csv.gz)")
        return _scifact_external(rows, _read_corpus(corpus))
    out = []
    for i, r in enumerate(rows):
        lab = _LABEL_WORDS.get(str(r["label"]).strip().lower())
        if lab is None:
            raise SystemExit(f"{path}:{i + 1}: unknown label {r['label']!r}")
        out.append(
            StancePair(
                r["claim"],
                r["evidence"],
                lab,
                r.get("source", "external"),
                str(r.get("group", i)),
                claim_id=str(r.get("id", i)),
            )
        )
    return out


def _read_corpus(path: Path) -> dict[int, list[str]]:
    from training.stance_data import _abstract_sentences

    if path.suffix == ".gz" and path.name.endswith(".csv.gz") or path.suffix == ".csv":
        csv.field_size_limit(10**9)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            return {
                int(r["doc_id"]): [s.strip() for s in _abstract_sentences(r["abstract"])] for r in csv.DictReader(fh)
            }
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return {int(r["doc_id"]): [s.strip() for s in r["abstract"]] for r in map(json.loads, fh)}


def _scifact_external(rows: list[dict[str, Any]], corpus: dict[int, list[str]]) -> list[StancePair]:
    """Rationale pairs, plus for NEI claims the two cited-abstract sentences closest to the claim."""
    out = []
    nei = []
    for r in rows:
        cid = f"scifact:{r['id']}"
        for doc, sets in r["evidence"].items():
            sents = corpus[int(doc)]
            for s in sets:
                text = " ".join(sents[i] for i in sorted(s["sentences"]))
                lab = 0 if s["label"] == "SUPPORT" else 1
                out.append(StancePair(r["claim"], text, lab, "scifact", cid, "rationale", cid))
        if not r["evidence"]:
            nei.append(r)
    if nei:
        embedder = load_embedder()
        for r in nei:
            sents = [s for d in r.get("cited_doc_ids", []) if int(d) in corpus for s in corpus[int(d)]]
            if not sents:
                continue
            sims = embedder.encode(list(sents)) @ embedder.encode([r["claim"]])[0]
            for j in np.argsort(-sims)[:2]:
                out.append(
                    StancePair(
                        r["claim"],
                        sents[j],
                        NEUTRAL,
                        "scifact",
                        f"scifact:{r['id']}",
                        "nei_cited",
                        f"scifact:{r['id']}",
                    )
                )
    return out


def written_sets(datasets: Path, splits: Path, root: Path = ANNOTATIONS_DIR) -> dict[str, list[StancePair]]:
    """The team-written pairs per split, and the challenge set, joined with their evidence texts."""
    resolver = EvidenceResolver(datasets)
    split = load_split(splits)
    out: dict[str, list[StancePair]] = {}
    if any((root / "written").glob("*.jsonl")):
        for pair, s in to_pairs(read_written(root), resolver, split):
            out.setdefault(s, []).append(pair)
    if (root / "challenge.jsonl").exists():
        out["challenge"] = [p for p, _ in to_pairs(read_challenge(root), resolver, split, source="challenge")]
    return out


def by_kind(pairs: Sequence[StancePair], y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy and macro-F1 per phenomenon (the challenge set keeps its phenomenon in ``kind``)."""
    pred = probs.argmax(axis=1)
    out: dict[str, Any] = {}
    for kind in sorted({p.kind for p in pairs}):
        m = np.array([p.kind == kind for p in pairs])
        out[kind] = {
            "n": int(m.sum()),
            "accuracy": float((pred[m] == y[m]).mean()),
            "macro_f1": stance_metrics(y[m], probs[m])["macro_f1"],
            "false_supported": float(((pred[m] == 0) & (y[m] != 0)).sum() / max(1, (y[m] != 0).sum())),
        }
    return out


# ----------------------------------------------------------------------------------------- methods


def cosine(embedder: Any, pairs: Sequence[StancePair]) -> np.ndarray:
    c = embedder.encode([p.claim for p in pairs])
    e = embedder.encode([p.evidence for p in pairs])
    return (c * e).sum(axis=1)


def fit_similarity(train: Sequence[StancePair], embedder: Any) -> tuple[float, Any]:
    """Threshold maximising train macro-F1 for supports-vs-neutral, and a logistic map cos -> P(supports)."""
    from sklearn.linear_model import LogisticRegression

    sims = cosine(embedder, train)
    y = np.array([p.label for p in train])
    best_t, best_f1 = 0.5, -1.0
    for t in np.linspace(0.05, 0.95, 91):
        pred = np.where(sims > t, 0, 2)
        f1 = stance_metrics(y, np.eye(3)[pred])["macro_f1"]
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    lr = LogisticRegression().fit((sims - best_t).reshape(-1, 1), (y == 0).astype(int))
    return best_t, lr


def similarity_probs(sims: np.ndarray, t: float, lr: Any) -> np.ndarray:
    p_sup = lr.predict_proba((sims - t).reshape(-1, 1))[:, 1]
    pred_sup = sims > t
    # keep the thresholded decision, with calibrated confidence on each side
    p_sup = np.where(pred_sup, np.maximum(p_sup, 0.5 + 1e-6), np.minimum(p_sup, 0.5 - 1e-6))
    return np.stack([p_sup, np.zeros_like(p_sup), 1.0 - p_sup], axis=1)


class TfidfLR:
    """Bag-of-words baseline: claim terms, evidence terms and terms shared by both, then logistic regression."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=100_000, sublinear_tf=True)
        self.clf = LogisticRegression(C=4.0, max_iter=2000)

    def _x(self, pairs: Sequence[StancePair]) -> Any:
        from scipy.sparse import hstack

        c = self.vec.transform([p.claim for p in pairs])
        e = self.vec.transform([p.evidence for p in pairs])
        return hstack([c, e, c.multiply(e)]).tocsr()

    def fit(self, pairs: Sequence[StancePair]) -> TfidfLR:
        self.vec.fit([p.claim for p in pairs] + [p.evidence for p in pairs])
        self.clf.fit(self._x(pairs), [p.label for p in pairs])
        return self

    def predict_proba(self, pairs: Sequence[StancePair]) -> np.ndarray:
        return self.clf.predict_proba(self._x(pairs))


# ----------------------------------------------------------------------------------------- report


def bootstrap_macro_f1(y: np.ndarray, probs: np.ndarray, n: int = 500, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    pred = probs.argmax(axis=1)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        f1s = []
        for k in range(3):
            if not (y[i] == k).any():
                continue
            tp = ((pred[i] == k) & (y[i] == k)).sum()
            denom = 2 * tp + ((pred[i] == k) & (y[i] != k)).sum() + ((pred[i] != k) & (y[i] == k)).sum()
            f1s.append(2 * tp / denom if denom else 0.0)
        vals.append(np.mean(f1s))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def reliability_png(path: Path, y: np.ndarray, results: dict[str, np.ndarray], n_bins: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
    edges = np.linspace(0, 1, n_bins + 1)
    for name, probs in results.items():
        conf = probs.max(axis=1)
        correct = probs.argmax(axis=1) == y
        xs, ys = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            m = (conf > lo) & (conf <= hi)
            if m.sum() >= 5:
                xs.append(conf[m].mean())
                ys.append(correct[m].mean())
        ax.plot(xs, ys, "o-", label=name)
    ax.set_xlabel("confidence (top-label probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Stance reliability, validation (n={len(y)})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown_table(report: dict[str, Any]) -> str:
    head = (
        "| method | macro-F1 [95% CI] | F1 sup | F1 con | F1 neu | false-supported | ECE | CPU pairs/s |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for name, r in report["methods"].items():
        m = r["all"]
        lo, hi = r["macro_f1_ci95"]
        lines.append(
            f"| {name} | {m['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}] | {m['f1']['supports']:.3f} | "
            f"{m['f1']['contradicts']:.3f} | {m['f1']['neutral']:.3f} | {m['false_supported']:.3f} | "
            f"{'same probabilities' if r.get('decision_rule') else format(m['ece'], '.3f')} | {r['pairs_per_s']:.0f} |"
        )
    sources = sorted({s for r in report["methods"].values() for s in r if s not in _NOT_SOURCES})
    if sources:
        lines += [
            "",
            "| method | " + " | ".join(f"{s} macro-F1 (n)" for s in sources) + " |",
            "|---|" + "---:|" * len(sources),
        ]
        for name, r in report["methods"].items():
            cells = [_with_ci(r[s]) if s in r else "-" for s in sources]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


_NOT_SOURCES = {"all", "macro_f1_ci95", "pairs_per_s", "seconds", "decision_rule"}


def _with_ci(m: dict[str, Any]) -> str:
    lo, hi = m.get("macro_f1_ci95", (float("nan"), float("nan")))
    return f"{m['macro_f1']:.3f} [{lo:.2f}, {hi:.2f}] ({m['n']})"


def per_source(pairs: Sequence[StancePair], y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {"all": stance_metrics(y, probs)}
    for src in sorted({p.source for p in pairs}):
        m = np.array([p.source == src for p in pairs])
        out[src] = {**stance_metrics(y[m], probs[m]), "macro_f1_ci95": bootstrap_macro_f1(y[m], probs[m], n=300)}
    return out


def set_table(name: str, rows: dict[str, Any], phenomena: bool = False) -> str:
    """One evaluation set: macro-F1 [CI] and false-supported per method; per phenomenon for the challenge set."""
    lines = [
        f"### {name}",
        "",
        "| method | n | macro-F1 [95% CI] | F1 con | false-supported |",
        "|---|---:|---|---:|---:|",
    ]
    for method, r in rows.items():
        m, (lo, hi) = r["all"], r["macro_f1_ci95"]
        lines.append(
            f"| {method} | {m['n']} | {m['macro_f1']:.3f} [{lo:.3f}, {hi:.3f}] | "
            f"{m['f1']['contradicts']:.3f} | {m['false_supported']:.3f} |"
        )
    sources = sorted({k for r in rows.values() for k in r if k not in _NOT_SOURCES and k != "by_kind"})
    if len(sources) > 1:
        lines += [
            "",
            "| method | " + " | ".join(f"{s} macro-F1 [95% CI] (n)" for s in sources) + " |",
            "|---|" + "---:|" * len(sources),
        ]
        for method, r in rows.items():
            lines.append(f"| {method} | " + " | ".join(_with_ci(r[s]) if s in r else "-" for s in sources) + " |")
    if phenomena:
        kinds = sorted({k for r in rows.values() for k in r.get("by_kind", {})})
        lines += ["", "| method | " + " | ".join(f"{k} acc" for k in kinds) + " |", "|---|" + "---:|" * len(kinds)]
        for method, r in rows.items():
            lines.append(f"| {method} | " + " | ".join(f"{r['by_kind'][k]['accuracy']:.2f}" for k in kinds) + " |")
    return "\n".join(lines)


def timed_predict(model: StanceModel, pairs: list[tuple[str, str]]) -> tuple[np.ndarray, float]:
    """(probabilities, pairs/s), timed after a small warm-up batch so lazy initialisation is not counted."""
    model.predict(pairs[:16])
    t0 = time.perf_counter()
    probs = model.predict(pairs)
    return probs, len(pairs) / (time.perf_counter() - t0)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/stance"))
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--splits", type=Path, default=Path("models/stance/splits.json"))
    ap.add_argument("--cache", type=Path, default=Path("bench/results/cache"))
    ap.add_argument("--data", type=Path, help="external evaluation file (see module docstring)")
    ap.add_argument("--corpus", type=Path, help="SciFact corpus for --data in SciFact claims format")
    ap.add_argument("--quick", action="store_true", help="subsample to about a minute")
    ap.add_argument(
        "--out", type=Path, default=None, help="results folder (default bench/results, or bench/results/quick)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="also score another stance model folder on every set (repeatable)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    rng = random.Random(args.seed)

    cached = pairs_cache(args.datasets, args.splits, args.cache)
    by_split = read_splits(cached)
    written = written_sets(args.datasets, args.splits) if not args.data else {}
    train = by_split.get("train", []) + written.get("train", [])
    evaluation = external_pairs(args.data, args.corpus) if args.data else by_split.get("validation", [])
    n_train, n_eval = (5000, 300) if args.quick else (len(train), len(evaluation))
    if n_train < len(train):
        train = rng.sample(train, n_train)
    if n_eval < len(evaluation):
        evaluation = rng.sample(evaluation, n_eval)
    y = np.array([p.label for p in evaluation])
    log.info("evaluating %d pairs; baselines trained on %d pairs", len(evaluation), len(train))

    probs: dict[str, np.ndarray] = {}
    speed: dict[str, float] = {}
    model = StanceModel.load(args.model)  # the service's precision (bf16 where the CPU has it)
    pairs = [(p.claim, p.evidence) for p in evaluation]
    probs["stance_model"], speed["stance_model"] = timed_predict(model, pairs)
    # The service's decision rule: a pair supports only at P(supports) >= min_support (set on dev). The
    # probabilities shown to users stay the calibrated ones; this row scores the labels the rule gives.
    cut = model.config.min_support
    rule = f"stance_model, supports at P>={cut:g}"
    probs[rule] = apply_min_support(probs["stance_model"], cut)
    speed[rule] = speed["stance_model"]
    if model.precision != "fp32":  # the same weights at full precision, to show what bf16 costs in quality
        probs["stance_model_fp32"], speed["stance_model_fp32"] = timed_predict(
            StanceModel.load(args.model, precision="fp32"), pairs
        )

    embedder = load_embedder()
    n_sim = 400 if args.quick else 6000  # a threshold needs few pairs; embedding is the slow part
    sim_train = train if len(train) <= n_sim else rng.sample(train, n_sim)
    t_sim, sim_lr = fit_similarity(sim_train, embedder)
    t0 = time.perf_counter()
    probs["similarity"] = similarity_probs(cosine(embedder, evaluation), t_sim, sim_lr)
    speed["similarity"] = len(evaluation) / (time.perf_counter() - t0)

    tfidf = TfidfLR().fit(train)
    t0 = time.perf_counter()
    probs["tfidf_lr"] = tfidf.predict_proba(evaluation)
    speed["tfidf_lr"] = len(evaluation) / (time.perf_counter() - t0)

    others = {name: StanceModel.load(Path(folder)) for name, folder in (c.split("=", 1) for c in args.compare)}
    rules = {rule}
    for name, other in others.items():
        probs[name], speed[name] = timed_predict(other, pairs)
        other_rule = f"{name}, supports at P>={other.config.min_support:g}"
        probs[other_rule], speed[other_rule] = apply_min_support(probs[name], other.config.min_support), speed[name]
        rules.add(other_rule)

    report: dict[str, Any] = {
        "data": str(args.data) if args.data else f"validation split of {args.splits}",
        "n_eval": len(evaluation),
        "n_train_baselines": len(train),
        "quick": args.quick,
        "labels": list(LABELS),
        "similarity_threshold": t_sim,
        "stance_model": {
            "path": str(args.model),
            "temperature": model.config.temperature,
            "precision": model.precision,
            "min_support": cut,
        },
        "methods": {},
    }
    for name, p in probs.items():
        report["methods"][name] = {
            **per_source(evaluation, y, p),
            "macro_f1_ci95": bootstrap_macro_f1(y, p),
            "pairs_per_s": speed[name],
            "decision_rule": name in rules,
        }
    report["sets"] = {}
    for set_name in ("validation", "challenge"):
        extra = written.get(set_name, [])
        if args.quick:
            extra = rng.sample(extra, min(len(extra), 300))
        if not extra:
            continue
        ys = np.array([p.label for p in extra])
        sp = [(p.claim, p.evidence) for p in extra]
        set_probs = {"stance_model": model.predict(sp)}
        set_probs[rule] = apply_min_support(set_probs["stance_model"], cut)
        for name, other in others.items():
            set_probs[name] = other.predict(sp)
            set_probs[f"{name}, supports at P>={other.config.min_support:g}"] = apply_min_support(
                set_probs[name], other.config.min_support
            )
        set_probs["tfidf_lr"] = tfidf.predict_proba(extra)
        set_probs["similarity"] = similarity_probs(cosine(embedder, extra), t_sim, sim_lr)
        report["sets"]["written_" + set_name if set_name == "validation" else set_name] = {
            name: {
                **per_source(extra, ys, p),
                "macro_f1_ci95": bootstrap_macro_f1(ys, p),
                "by_kind": by_kind(extra, ys, p),
            }
            for name, p in set_probs.items()
        }
    args.out = args.out or results_dir(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "_" + args.data.stem.replace(".", "_") if args.data else ""
    reliability_png(args.out / f"stance_reliability{suffix}.png", y, {k: v for k, v in probs.items() if k not in rules})
    (args.out / f"stance{suffix}.json").write_text(json.dumps(report, indent=1) + "\n")
    table = markdown_table(report)
    for set_name, rows in report["sets"].items():
        title = {
            "written_validation": "Written pairs, validation split (claims about evidence sources never trained on)",
            "challenge": "Challenge set (minimal pairs, never trained on), accuracy per phenomenon",
        }[set_name]
        table += "\n\n" + set_table(title, rows, phenomena=True)
    (args.out / f"stance{suffix}.md").write_text(
        f"# Stance benchmark\n\nData: {report['data']}; {len(evaluation)} pairs; baselines trained on "
        f"{len(train)} pairs. Per-source macro-F1 averages the classes present (COVID-Fact has no neutral). "
        f"CPU pairs/s on this machine's shared 2 cores.\n\n{table}\n"
    )
    print(table)
    return report


if __name__ == "__main__":
    main()
