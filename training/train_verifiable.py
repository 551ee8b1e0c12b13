"""Fit the *verifiable* classifier: is this segment a factual assertion about the world that evidence could check?

This is the question that decides whether a sentence gets a verdict (issue 17). It is not the check-worthiness
model's question ("worth a journalist's time in a debate", CT24), which now only orders claims as ``priority``:
that model skipped 11 of 28 true claims of a health article (symptom lists, "more research is needed"), because a
debate annotator would not have picked them.

Data:
  * ClaimBuster crowdsourced (= CT24 train): NFS (-1) against UFS (0) + CFS (1), grouped by debate.
  * Our article units (``annotations/articles``: real health articles, one row per heading, sentence and list item),
    split by article: ``train`` is fitted, ``dev`` picks the model and the threshold, ``test`` is reported only.
  * The hand-written article-style rows of ``bench/data/checkworthy_articles.jsonl`` (split ``train``, never the
    seed article's rows) whose form settles verifiability: scaffolding forms 0, factual forms 1; opinion,
    anecdote and the like were labelled for check-worthiness, not verifiability, and are left out.

The threshold is the highest that keeps article-dev recall at 0.96 or more: a sentence checked and found
"unsupported" costs the reader less than a claim never looked at.

    python -m training.train_verifiable [--datasets ../shared/datasets] [--out models/verifiable]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.train_checkworthy import (
    ARTICLES_FILE,
    DEFAULT_CACHE,
    DEFAULT_DATASETS,
    REPO_ROOT,
    SEED,
    Candidate,
    Example,
    _log,
    embed_cached,
    fit,
    prf,
    to_checkworthy_model,
)
from veracity.models.checkworthy import feature_matrix

ARTICLES_DIR = REPO_ROOT / "annotations" / "articles"
DEFAULT_OUT = REPO_ROOT / "models" / "verifiable"
MIN_RECALL = 0.96
VERIFIABLE_FORMS = frozenset(
    {
        "claim",
        "statistic",
        "causal",
        "mechanism",
        "study",
        "definition",
        "list_claim",
        "false_claim",
        "history",
        "hedge",
    }
)
NOT_VERIFIABLE_FORMS = frozenset(
    {"heading", "outline_entry", "outline_instruction", "question", "call_to_action", "greeting"}
)
CANDIDATES = (
    Candidate("logreg C=0.1 articles x10", "logreg", c=0.1, article_weight=10.0),
    Candidate("mlp 256 alpha=1e-2 articles x10", "mlp", hidden=256, alpha=1e-2, article_weight=10.0),
    Candidate("mlp 256 alpha=1e-2 articles x30", "mlp", hidden=256, alpha=1e-2, article_weight=30.0),
)


def article_split(article: str) -> str:
    """Whole articles land in one split (50/20/30 by a hash of the id), so test measures unseen articles."""
    x = int(hashlib.sha256(article.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if x < 0.5 else "dev" if x < 0.7 else "test"


def unit_kind(form: str) -> str:
    """The segmenter's kind for an article unit's form (what the service will see)."""
    return form if form in ("heading", "list_item") else "sentence"


def read_article_units(folder: Path = ARTICLES_DIR) -> list[dict[str, Any]]:
    """Every first-pass unit (``helper-*.jsonl``; ``second_pass.jsonl`` is the blind relabel of a sample)."""
    rows = []
    for path in sorted(folder.glob("helper-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def load_article_units(split: str, folder: Path = ARTICLES_DIR) -> list[Example]:
    return [
        Example(
            text=r["text"],
            kind=unit_kind(r["form"]),
            label=int(r["verifiable"]),
            source=f"articles_{split}",
            group=f"article:{r['article']}",
            form=r["form"],
            origin="article",
        )
        for r in read_article_units(folder)
        if article_split(r["article"]) == split
    ]


def load_written_forms(path: Path = ARTICLES_FILE) -> list[Example]:
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        r = json.loads(line)
        if r["split"] != "train" or r.get("source") == "seed":
            continue
        if r["form"] in VERIFIABLE_FORMS:
            label = 1
        elif r["form"] in NOT_VERIFIABLE_FORMS:
            label = 0
        else:
            continue
        out.append(Example(r["text"], r["kind"], label, "articles_train", f"written:{i}", r["form"], "written"))
    return out


def load_claimbuster(datasets: Path, name: str) -> list[Example]:
    """``crowdsourced`` (training) or ``groundtruth`` (held out); verifiable = UFS or CFS."""
    folder = datasets / "checkworthiness" / "claimbuster"
    path = folder / ("crowdsourced.csv.gz" if name == "crowdsourced" else "groundtruth.csv")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        Example(r["Text"].strip(), "sentence", int(int(r["Verdict"]) >= 0), f"claimbuster_{name}", f"cb:{r['File_id']}")
        for r in rows
        if r["Text"].strip()
    ]


def features(examples: list[Example], cache: Path, name: str) -> np.ndarray:
    vectors = embed_cached(examples, cache, name)
    return feature_matrix([e.text for e in examples], [e.kind for e in examples], vectors)


def threshold_for_recall(labels: np.ndarray, scores: np.ndarray, min_recall: float) -> float:
    """The highest threshold on a 0.01 grid whose recall is at least ``min_recall``."""
    for t in np.round(np.arange(0.95, 0.0, -0.01), 2):
        if prf(labels, (scores >= t).astype(int))["recall"] >= min_recall:
            return float(t)
    return 0.01


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    train = load_claimbuster(args.datasets, "crowdsourced") + load_article_units("train") + load_written_forms()
    dev = load_article_units("dev")
    test = load_article_units("test")
    groundtruth = load_claimbuster(args.datasets, "groundtruth")
    _log(
        f"train {len(train)}, article dev {len(dev)}, article test {len(test)}, ClaimBuster groundtruth {len(groundtruth)}"
    )
    x_train, x_dev, x_test, x_gt = (
        features(e, args.cache, n)
        for e, n in (
            (train, "verifiable-train"),
            (dev, "verifiable-dev"),
            (test, "verifiable-test"),
            (groundtruth, "cb-gt"),
        )
    )
    y = {
        n: np.array([e.label for e in ex])
        for n, ex in (("train", train), ("dev", dev), ("test", test), ("gt", groundtruth))
    }
    sources = np.array([e.source for e in train])

    results = []
    for cand in CANDIDATES:
        est = fit(cand, x_train, y["train"], sources, SEED)
        dev_scores = est.predict_proba(x_dev)[:, 1]
        t = threshold_for_recall(y["dev"], dev_scores, MIN_RECALL)
        dev_m = prf(y["dev"], (dev_scores >= t).astype(int))
        results.append((dev_m["precision"], cand, est, t, dev_m))
        _log(f"  {cand.name}: threshold {t:.2f}, article dev {dev_m}")
    _, cand, est, threshold, dev_m = max(results, key=lambda r: (r[0], r[4]["f1"]))
    test_scores = est.predict_proba(x_test)[:, 1]
    gt_scores = est.predict_proba(x_gt)[:, 1]
    forms = np.array([e.form for e in test])
    scaffold = np.isin(forms, ["heading", "question", "instruction"])
    metrics: dict[str, Any] = {
        "chosen": cand.name,
        "threshold": threshold,
        "min_recall_on_dev": MIN_RECALL,
        "candidates": {c.name: {"threshold": t, "article_dev": m} for _, c, _, t, m in results},
        "article_dev": dev_m,
        "article_test": prf(y["test"], (test_scores >= threshold).astype(int)),
        "article_test_headings_questions_instructions_skipped": round(
            float(np.mean(test_scores[scaffold] < threshold)), 4
        ),
        "claimbuster_groundtruth_nfs_vs_factual": prf(y["gt"], (gt_scores >= threshold).astype(int)),
        "rows": {
            "train": len(train),
            "article_dev": len(dev),
            "article_test": len(test),
            "groundtruth": len(groundtruth),
        },
        "articles": {s: sorted({e.group for e in ex}) for s, ex in (("dev", dev), ("test", test))},
    }
    model = to_checkworthy_model(est, threshold, revision="")
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in model.weights)).hexdigest()[:12]
    model = to_checkworthy_model(est, threshold, revision=digest)
    model.save(args.out, {"question": "verifiable", "classifier": cand.name})
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                k: metrics[k]
                for k in (
                    "chosen",
                    "threshold",
                    "article_dev",
                    "article_test",
                    "claimbuster_groundtruth_nfs_vs_factual",
                    "article_test_headings_questions_instructions_skipped",
                )
            },
            indent=1,
        )
    )
    return metrics


if __name__ == "__main__":
    main()
