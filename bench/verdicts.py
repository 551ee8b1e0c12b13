"""The checks a reader makes first, through the real pipeline on the bundled corpus.

    python -m bench.verdicts            # writes bench/results/verdicts.{json,md}
    python -m bench.verdicts --quick    # a sample of each set

* Corpus statements graded low or better, sent word for word as claims: each should come back *supported*.
* Their plain negations (``bench/data/corpus_negations.jsonl``, written by hand): each should come back
  *contradicted*.
* Off-topic sentences (``bench/data/off_topic.jsonl``: technology, sport, geography, politics, everyday facts):
  none may come back supported or contradicted; the honest answer is "not covered by the corpus".
* ``bench/data/health_claims.jsonl``: true claims supported, myths never supported.

Each set runs twice in the same process: with the shipped verdict (relevance first) and, as the baseline,
without the relevance model (every retrieved item read for stance, as before it existed).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import ROOT, results_dir

DATA = Path(__file__).resolve().parent / "data"
log = logging.getLogger("bench.verdicts")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def sets(quick: bool, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
    """(claim, expected label) per set."""
    from training.stance_written import WRITTEN_AGAINST, corpus_statements

    items = corpus_statements()
    graded = [it for it in items.values() if it["grade"] in ("high", "moderate", "low")]
    # A negation was written against the statement as it then read; it still applies only where the item is
    # still in the corpus with the same words (the re-sourcing corrected some and dropped others).
    negated = corpus_statements(WRITTEN_AGAINST)
    out = {
        "corpus_statements": [(it["statement"], "supported") for it in graded],
        "corpus_negations": [
            (r["claim"], "contradicted")
            for r in _jsonl(DATA / "corpus_negations.jsonl")
            if items.get(r["id"], {}).get("grade") in ("high", "moderate", "low")
            and items[r["id"]]["statement"] == negated.get(r["id"], {}).get("statement")
        ],
        "off_topic": [(r["text"], "unsupported") for r in _jsonl(DATA / "off_topic.jsonl")],
        "health_claims": [(r["claim"], r["label"]) for r in _jsonl(DATA / "health_claims.jsonl")],
    }
    if quick:
        rng = random.Random(seed)
        out = {k: rng.sample(v, min(len(v), 60)) if k != "health_claims" else v for k, v in out.items()}
    return out


def verdicts(pipeline: Any, claims: list[str]) -> list[Any]:
    """Each claim checked alone (check_all: a verdict whatever its check-worthiness), as a user would send it."""
    results = pipeline.check_many(claims, check_all=True)
    return [next(s.verdict for s in r.sentences if s.verdict is not None) for r in results]


def score(name: str, rows: list[tuple[str, str]], found: list[Any]) -> dict[str, Any]:
    labels = Counter(v.label for v in found)
    codes = Counter(v.reason_code for v in found)
    out: dict[str, Any] = {"n": len(rows), "labels": dict(labels), "reason_codes": dict(codes)}
    if name == "health_claims":
        true = [v for (_, gold), v in zip(rows, found) if gold == "supported"]
        myths = [v for (_, gold), v in zip(rows, found) if gold != "supported"]
        out["true_supported"] = f"{sum(v.label == 'supported' for v in true)} of {len(true)}"
        out["myths_supported"] = f"{sum(v.label == 'supported' for v in myths)} of {len(myths)}"
    else:
        expected = rows[0][1] if rows else "supported"
        out["as_expected"] = round(sum(v.label == gold for (_, gold), v in zip(rows, found)) / max(1, len(rows)), 4)
        out["misses"] = [
            {"claim": c, "label": v.label, "reason": v.reason} for (c, gold), v in zip(rows, found) if v.label != gold
        ][:15]
        out["expected"] = expected
    return out


def _cell(name: str, x: dict[str, Any]) -> str:
    if name == "health_claims":
        return f"true supported {x['true_supported']}, myths supported {x['myths_supported']}"
    labels = ", ".join(f"{k} {v}" for k, v in sorted(x["labels"].items()))
    return f"{x['as_expected']:.1%} as expected; {labels}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=STANCE[,VERDICT]",
        help="also run the pipeline with another stance model folder (and verdict combiner folder); repeatable",
    )
    ap.add_argument(
        "--no-baseline", action="store_true", help="skip the run without the relevance model (saves a third)"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    settings = Settings()
    configs = {"shipped": settings}
    if not args.no_baseline:
        configs["without relevance (baseline)"] = replace(settings, relevance_model=ROOT / ".no-relevance-model")
    for spec in args.compare:
        name, _, folders = spec.partition("=")
        stance, _, verdict = folders.partition(",")
        configs[name] = replace(
            settings, stance_model=Path(stance), verdict_model=Path(verdict or settings.verdict_model)
        )
    report: dict[str, Any] = {"quick": args.quick, "models": {}, "sets": {}}
    results: dict[str, dict[str, Any]] = {}
    for config_name, config in configs.items():
        pipeline = build_pipeline(config)
        report["models"][config_name] = pipeline.describe()
        for name, rows in sets(args.quick).items():
            claims = [c for c, _ in rows]
            results.setdefault(name, {})[config_name] = score(name, rows, verdicts(pipeline, claims))
            found = results[name][config_name]
            log.info("%s / %s: %s", config_name, name, found.get("as_expected", found.get("true_supported")))
        del pipeline
    report["sets"] = results
    out = args.out or results_dir(args.quick)
    out.mkdir(parents=True, exist_ok=True)
    (out / "verdicts.json").write_text(json.dumps(report, indent=1) + "\n")
    names = list(configs)
    lines = [
        "# Verdict sanity checks",
        "",
        "Each claim checked alone through `Pipeline.check_many` on the bundled corpus.",
        "",
        "| set | n | expected | " + " | ".join(names) + " |",
        "|---|---:|---|" + "---|" * len(names),
    ]
    for name, r in results.items():
        first = r[names[0]]
        expected = "true supported, myths not" if name == "health_claims" else first["expected"]
        cells = " | ".join(_cell(name, r[n]) for n in names)
        lines.append(f"| {name} | {first['n']} | {expected} | {cells} |")
    (out / "verdicts.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
