"""Benchmark what gets checked (issue 17): the verifiable model against today's check-worthiness model, and the
context rules that build the claim a sentence makes in context.

Sets, never trained on:
  * the ``test`` articles of ``annotations/articles`` (real health articles, split by article): verifiable-claim
    precision and recall, each model inside the service's stage (rules as hard skips, context resolved);
  * the seed article's headings, outline entries and outline instructions (``bench/data/checkworthy_articles.jsonl``,
    ``source: seed``): all must be skipped;
  * CT24 English dev (= ClaimBuster groundtruth): F1 of the priority model's check-worthy class at its shipped
    threshold, which was chosen by cross-validation on CT24 train;
  * every context-dependent unit of the article set, by split (the rules were written reading train and dev
    only): how many get a resolved claim, how many of those a blind judge accepts
    (``annotations/articles/context_judgments.jsonl``), and how close they are to the annotators' claim (token F1).

    python -m bench.verifiable [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from bench import ROOT, results_dir
from training.train_checkworthy import DEFAULT_DATASETS, load_ct24, prf
from training.train_verifiable import article_split, load_article_units, read_article_units, unit_kind
from veracity.models.checkworthy import CheckworthyModel
from veracity.models.embedder import Embedder
from veracity.service.checkworthy import CheckworthinessStage
from veracity.service.context import resolve_claims
from veracity.service.segment import Segment

MODELS = ROOT / "models"


def stage_predictions(
    stage: CheckworthinessStage, embedder: Embedder, units: list[dict[str, Any]], context: bool
) -> np.ndarray:
    """Checkworthy decisions for the units of whole articles, read in order as the service reads them."""
    out: list[bool] = []
    by_article: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        by_article.setdefault(u["article"], []).append(u)
    for article_units in by_article.values():
        segments = [Segment(i, u["text"], 0, len(u["text"]), unit_kind(u["form"])) for i, u in enumerate(article_units)]
        claims = resolve_claims(segments) if context else [None] * len(segments)
        vectors = embedder.encode([c or s.text for s, c in zip(segments, claims)])
        out += [w.checkworthy for w in stage.assess(segments, vectors, claims)]
    return np.array(out, dtype=int)


CONTEXT_JUDGMENTS = ROOT / "annotations" / "articles" / "context_judgments.jsonl"


def token_f1(a: str, b: str) -> float:
    ta, tb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    common = sum(min(ta.count(t), tb.count(t)) for t in set(ta))
    if not common:
        return 0.0
    p, r = common / len(ta), common / len(tb)
    return 2 * p * r / (p + r)


def read_context_judgments(path: Path = CONTEXT_JUDGMENTS) -> dict[tuple[str, str], bool]:
    """(unit, claim) → accepted, from the blind judges (the first pass where two judged the same claim)."""
    out: dict[tuple[str, str], bool] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            out.setdefault((r["unit"], r["claim"]), bool(r["accept"]))
    return out


def context_report(units: list[dict[str, Any]]) -> dict[str, Any]:
    """How the context rules do on every context-dependent unit, by split (the rules were written reading train/dev).

    *Accepted* is a blind judge's call that the claim checked (the rewrite, or the bare sentence where no rule
    fired) is what the sentence says in context and stands alone; a claim no judge has seen yet is counted apart.
    """
    by_article: dict[str, list[dict[str, Any]]] = {}
    for u in units:
        by_article.setdefault(u["article"], []).append(u)
    judged = read_context_judgments()
    report: dict[str, Any] = {}
    for split_name, splits in (("train_dev", ("train", "dev")), ("test", ("test",)), ("all", ("train", "dev", "test"))):
        dependent = resolved = accepted = unjudged = wrongly = wrongly_ok = 0
        f1_resolved, f1_bare = [], []
        for article, article_units in by_article.items():
            if article_split(article) not in splits:
                continue
            segments = [
                Segment(i, u["text"], 0, len(u["text"]), unit_kind(u["form"])) for i, u in enumerate(article_units)
            ]
            for u, claim in zip(article_units, resolve_claims(segments)):
                verdict = judged.get((f"{article}#{u['index']}", claim or u["text"]))
                if u["context_dependent"]:
                    dependent += 1
                    resolved += claim is not None
                    accepted += verdict is True
                    unjudged += verdict is None
                    f1_resolved.append(token_f1(claim or u["text"], u["claim"]))
                    f1_bare.append(token_f1(u["text"], u["claim"]))
                elif claim is not None and u["verifiable"]:  # a rewrite of a unit that is not checked costs nothing
                    wrongly += 1
                    wrongly_ok += verdict is True
        report[split_name] = {
            "context_dependent": dependent,
            "given_a_claim": resolved,
            "given_a_claim_share": round(resolved / max(dependent, 1), 4),
            "accepted": accepted,
            "accepted_share": round(accepted / max(dependent, 1), 4),
            "not_judged": unjudged,
            "token_f1_with_annotators_claim": round(float(np.mean(f1_resolved)), 4),
            "token_f1_bare_sentence": round(float(np.mean(f1_bare)), 4),
            "standalone_units_rewritten": wrongly,
            "standalone_rewrites_accepted": wrongly_ok,
        }
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = ap.parse_args(argv)
    embedder = Embedder()
    today = CheckworthinessStage(CheckworthyModel.load(MODELS / "checkworthy"))
    shipped = CheckworthinessStage(
        CheckworthyModel.load(MODELS / "verifiable"), CheckworthyModel.load(MODELS / "checkworthy")
    )
    test_ids = {e.group.split(":", 1)[1] for e in load_article_units("test")}
    units = [u for u in read_article_units() if u["article"] in test_ids]
    y = np.array([int(u["verifiable"]) for u in units])
    report: dict[str, Any] = {"article_test": {"units": len(units), "articles": len(test_ids)}}
    for name, stage, context in (
        ("today (check-worthiness model)", today, False),
        ("shipped (verifiable + context)", shipped, True),
    ):
        report["article_test"][name] = prf(y, stage_predictions(stage, embedder, units, context))

    seed = [
        json.loads(line) for line in (ROOT / "bench" / "data" / "checkworthy_articles.jsonl").read_text().splitlines()
    ]
    seed = [
        r
        for r in seed
        if r.get("source") == "seed" and r["form"] in ("heading", "outline_entry", "outline_instruction")
    ]
    segments = [Segment(i, r["text"], 0, len(r["text"]), r["kind"]) for i, r in enumerate(seed)]
    vectors = embedder.encode([r["text"] for r in seed])
    report["seed_scaffolding_skipped"] = {
        name: round(1 - float(np.mean([w.checkworthy for w in stage.assess(segments, vectors)])), 4)
        for name, stage in (("today (check-worthiness model)", today), ("shipped (verifiable + context)", shipped))
    }
    report["seed_scaffolding_lines"] = len(seed)

    if args.datasets.exists():
        dev = load_ct24(args.datasets, "dev")
        if args.quick:
            dev = dev[:300]
        vec = embedder.encode([e.text for e in dev])
        priority = shipped.priority_model
        scores = priority.score([e.text for e in dev], [e.kind for e in dev], vec)
        report["priority_ct24_dev"] = prf(np.array([e.label for e in dev]), (scores >= priority.threshold).astype(int))
        report["priority_ct24_dev"]["threshold"] = priority.threshold
    report["context"] = context_report(read_article_units())

    out = args.out or results_dir(args.quick)
    out.mkdir(parents=True, exist_ok=True)
    (out / "verifiable.json").write_text(json.dumps(report, indent=1) + "\n")
    a = report["article_test"]
    lines = [
        "# What gets checked: verifiable claims, priority, context",
        "",
        f"Article test split: {a['units']} units of {a['articles']} real health articles never trained on.",
        "",
        "| model | precision | recall | F1 | seed headings/outline skipped |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("today (check-worthiness model)", "shipped (verifiable + context)"):
        m = a[name]
        lines.append(
            f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {report['seed_scaffolding_skipped'][name]:.0%} |"
        )
    if "priority_ct24_dev" in report:
        p = report["priority_ct24_dev"]
        lines += [
            "",
            f"Priority (CT24 dev, held out, threshold {p['threshold']}): F1 {p['f1']:.3f}, P {p['precision']:.3f}, R {p['recall']:.3f}.",
        ]
    lines += [
        "",
        "Context (every context-dependent unit; the rules were written reading the train and dev articles only;"
        " *accepted*: a blind judge, `annotations/articles/context_judgments.jsonl`):",
        "",
        "| articles | context-dependent | given a claim | accepted by the judge | not yet judged | token F1 with"
        " annotators' claim (bare sentence) | verifiable standalone units rewritten (judged acceptable) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("train_dev", "train + dev"), ("test", "test"), ("all", "all")):
        c = report["context"][name]
        lines.append(
            f"| {label} | {c['context_dependent']} | {c['given_a_claim']} ({c['given_a_claim_share']:.0%}) |"
            f" {c['accepted']} ({c['accepted_share']:.0%}) | {c['not_judged']} |"
            f" {c['token_f1_with_annotators_claim']:.3f} ({c['token_f1_bare_sentence']:.3f}) |"
            f" {c['standalone_units_rewritten']} ({c['standalone_rewrites_accepted']}) |"
        )
    (out / "verifiable.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
