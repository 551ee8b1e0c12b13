"""Benchmark check-worthiness: trained model vs the rule-based first version vs trivial baselines.

Run ``python -m bench.checkworthy`` (about a minute on 2 cores; ``--quick`` uses 300 CT24 dev rows).
Two held-out sets, never trained on:
  * CT24 English dev (1,032 debate sentences, = ClaimBuster groundtruth), the CheckThat! benchmark;
  * the "test" split of bench/data/checkworthy_articles.jsonl (hand-written article forms plus every
    segment of the seed article), because the service reads articles, not debates.
Costs are per 1,000 sentences on this machine's CPU: the model's cost is on top of the MiniLM
embedding, which the pipeline computes anyway for retrieval, and which is reported separately.
Writes bench/results/checkworthy.json and bench/results/checkworthy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import results_dir
from training.train_checkworthy import DEFAULT_DATASETS, Example, load_articles, load_ct24, prf
from veracity.models.checkworthy import DEFAULT_MODEL_DIR, CheckworthyModel
from veracity.models.embedder import Embedder
from veracity.service.checkworthy import rule_checkworthiness
from veracity.service.segment import Segment

SEED_OUTLINE_FORMS = ("heading", "outline_entry", "outline_instruction")


def _timed_ms_per_1000(fn: Callable[[], object], n: int, repeats: int) -> tuple[float, float]:
    """(best, median) wall time of ``fn`` over ``repeats`` runs, in ms per 1,000 sentences.

    The best run is the cost of the code; the median adds whatever the shared CPUs were doing.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    scale = 1000.0 * 1000.0 / max(n, 1)
    return min(times) * scale, statistics.median(times) * scale


def _rule_predictions(examples: list[Example]) -> np.ndarray:
    return np.array(
        [
            int(rule_checkworthiness(Segment(i, e.text, 0, len(e.text), e.kind)).checkworthy)
            for i, e in enumerate(examples)
        ]
    )


def evaluate_set(
    name: str, examples: list[Example], model: CheckworthyModel, embedder: Embedder, repeats: int
) -> dict[str, object]:
    """All systems on one labelled set: F1/P/R of the check-worthy class and cost per 1,000 sentences."""
    from sklearn.metrics import average_precision_score

    texts = [e.text for e in examples]
    kinds = [e.kind for e in examples]
    labels = np.array([e.label for e in examples])
    start = time.perf_counter()
    embeddings = embedder.encode(texts, batch_size=64)
    embed_ms = (time.perf_counter() - start) * 1e6 / len(texts)

    scores = model.score(texts, kinds, embeddings)
    model_pred = (scores >= model.threshold).astype(int)
    rule_pred = _rule_predictions(examples)
    systems = {
        "trained model": (
            model_pred,
            _timed_ms_per_1000(lambda: model.score(texts, kinds, embeddings), len(texts), repeats),
        ),
        "rule-based v1": (rule_pred, _timed_ms_per_1000(lambda: _rule_predictions(examples), len(texts), repeats)),
        "majority (never check-worthy)": (np.zeros_like(labels), (0.0, 0.0)),
        "always check-worthy": (np.ones_like(labels), (0.0, 0.0)),
    }
    rows = {}
    for system, (pred, (best_ms, median_ms)) in systems.items():
        rows[system] = {
            **prf(labels, pred),
            "accuracy": round(float(np.mean(pred == labels)), 4),
            "ms_per_1000": round(best_ms, 2),
            "ms_per_1000_median": round(median_ms, 2),
        }
    rows["trained model"]["average_precision"] = round(float(average_precision_score(labels, scores)), 4)
    # One article at a time (about 40 segments) is how the service calls it.
    k = min(40, len(texts))
    one_call, _ = _timed_ms_per_1000(lambda: model.score(texts[:k], kinds[:k], embeddings[:k]), k, max(repeats, 20))
    result: dict[str, object] = {
        "set": name,
        "rows": len(examples),
        "check_worthy": int(labels.sum()),
        "embedding_ms_per_1000": round(embed_ms, 1),
        "model_ms_per_1000_in_40_segment_calls": round(one_call, 2),
        "systems": rows,
        "_scores": scores,
        "_rule": rule_pred,
    }
    return result


def per_form(examples: list[Example], scores: np.ndarray, threshold: float, rule: np.ndarray) -> dict:  # type: ignore[type-arg]
    """Accuracy of model and rules per article form (heading, question, statistic ...)."""
    forms: dict[str, dict[str, float]] = {}
    for form in sorted({e.form for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.form == form]
        labels = np.array([examples[i].label for i in idx])
        model_ok = np.mean((scores[idx] >= threshold).astype(int) == labels)
        rule_ok = np.mean(rule[idx] == labels)
        forms[form] = {
            "rows": len(idx),
            "label": int(round(labels.mean())),
            "model_accuracy": round(float(model_ok), 3),
            "rule_accuracy": round(float(rule_ok), 3),
        }
    return forms


def _table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict) -> str:  # type: ignore[type-arg]
    """The tables printed and written to bench/results/checkworthy.md."""
    out = [
        f"# Check-worthiness benchmark (model revision {results['model_revision']}, "
        f"threshold {results['threshold']:.2f})",
        "",
    ]
    headers = [
        "set",
        "system",
        "F1 (check-worthy)",
        "precision",
        "recall",
        "accuracy",
        "ms / 1,000 sentences (best; median)",
    ]
    rows = []
    for s in results["sets"]:
        for system, m in s["systems"].items():
            rows.append(
                [
                    f"{s['set']} (n={s['rows']}, {s['check_worthy']} yes)",
                    system,
                    f"{m['f1']:.3f}",
                    f"{m['precision']:.3f}",
                    f"{m['recall']:.3f}",
                    f"{m['accuracy']:.3f}",
                    f"{m['ms_per_1000']:.1f}; {m['ms_per_1000_median']:.1f}"
                    + (" + embedding" if system == "trained model" else ""),
                ]
            )
    out += [_table(headers, rows), ""]
    out += ["Embedding cost (all-MiniLM-L6-v2, computed once by the pipeline for retrieval, not counted above):", ""]
    out += [
        f"- {s['set']}: {s['embedding_ms_per_1000']:.0f} ms per 1,000 sentences (one pass); model alone in "
        f"40-segment calls: {s['model_ms_per_1000_in_40_segment_calls']:.1f} ms per 1,000 (best); average precision "
        f"{s['systems']['trained model']['average_precision']:.3f}"
        for s in results["sets"]
    ]
    seed = results["seed_outline"]
    out += [
        "",
        f"Seed article headings and outline instructions marked not check-worthy "
        f"({seed['rows']} segments; target 100%): trained model {seed['model_pct']:.0f}%, "
        f"rule-based {seed['rule_pct']:.0f}%.",
        "",
    ]
    out += ["Article test split by form (accuracy):", ""]
    out += [
        _table(
            ["form", "rows", "label", "model", "rules"],
            [
                [f, v["rows"], v["label"], f"{v['model_accuracy']:.2f}", f"{v['rule_accuracy']:.2f}"]
                for f, v in results["article_forms"].items()
            ],
        ),
        "",
    ]
    if results["article_errors"]:
        out += ["Article test errors of the trained model:", ""]
        out += [
            f"- [{e['label']}→{int(not e['label'])}] ({e['kind']}, {e['form']}, score {e['score']:.2f}) {e['text']}"
            for e in results["article_errors"]
        ]
        out.append("")
    run = f"quick run: {results['ct24_rows']} CT24 dev rows" if results["quick"] else "full run"
    out += [
        f"{results['machine']}, {results['cpu_cores']} cores shared with other jobs "
        f"(load average {results['load_average']:.1f} at start); {run}.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 CT24 dev rows, fewer timing repeats")
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument(
        "--out", type=Path, default=None, help="results folder (default bench/results, or bench/results/quick)"
    )
    args = parser.parse_args(argv)
    args.out = args.out or results_dir(args.quick)

    load_average = os.getloadavg()[0]
    model = CheckworthyModel.load(args.model)
    embedder = Embedder()
    ct24 = load_ct24(args.datasets, "dev")
    if args.quick:
        ct24 = random.Random(0).sample(ct24, 300)
    articles = load_articles("test")
    repeats = 3 if args.quick else 7
    embedder.encode(["Warm-up so that the first timing does not include lazy initialisation."])
    sets = [
        evaluate_set("CT24 English dev", ct24, model, embedder, repeats),
        evaluate_set("Article test split", articles, model, embedder, repeats),
    ]

    art = sets[1]
    scores, rule = art.pop("_scores"), art.pop("_rule")
    sets[0].pop("_scores"), sets[0].pop("_rule")
    seed_idx = [i for i, e in enumerate(articles) if e.origin == "seed" and e.form in SEED_OUTLINE_FORMS]
    results = {
        "model_revision": model.revision,
        "threshold": model.threshold,
        "quick": args.quick,
        "ct24_rows": len(ct24),
        "machine": f"{platform.processor() or platform.machine()} CPU, Python {platform.python_version()}",
        "cpu_cores": os.cpu_count(),
        "load_average": load_average,
        "sets": sets,
        "seed_outline": {
            "rows": len(seed_idx),
            "model_pct": 100.0 * float(np.mean(scores[seed_idx] < model.threshold)),
            "rule_pct": 100.0 * float(np.mean(rule[seed_idx] == 0)),
        },
        "article_forms": per_form(articles, scores, model.threshold, rule),
        "article_errors": [
            {"text": e.text, "kind": e.kind, "form": e.form, "label": e.label, "score": round(float(scores[i]), 3)}
            for i, e in enumerate(articles)
            if int(scores[i] >= model.threshold) != e.label
        ],
    }
    markdown = render_markdown(results)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "checkworthy.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "checkworthy.md").write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
