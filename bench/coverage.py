"""Corpus coverage of real health articles, judged by hand (issues 17 and 18).

For every verifiable sentence of the article set (``annotations/articles``: real health articles, never the seed),
the top 5 items are retrieved from a corpus; a sentence is *covered* when at least one of them is relevant: about
the claim's specific subject, so that it could support or contradict it. Relevance was judged by hand (blind to
which corpus or query found the item) and is stored in ``annotations/coverage/judge-*.jsonl``.

Three retrievals are compared: the corpus as it was before it was re-sourced and grown (``--old-data``), today's
corpus, and, for context-dependent sentences, today's corpus queried with the bare sentence instead of the claim
built in context (issue 17's retrieval check).

    python -m bench.coverage prepare --old-data DIR --out FILE   # the pairs to judge (no labels)
    python -m bench.coverage report --old-data DIR                # coverage from the stored judgments
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import ROOT, results_dir
from training.train_verifiable import read_article_units, unit_kind
from veracity.corpus import builder
from veracity.models.embedder import Embedder
from veracity.service.context import resolve_claims
from veracity.service.retrieve import Retriever, RetrieverConfig
from veracity.service.segment import Segment

JUDGMENTS = ROOT / "annotations" / "coverage"  # judge-*.jsonl: {"key", "item", "relevant", "pass"}
TOP_K = 5
# The 26 articles the corpus was grown against (issue 18); articles labelled later are not judged for coverage yet.
COVERAGE_PASSES = frozenset({"helper-1", "helper-2"})


def queries() -> list[dict[str, Any]]:
    """Every verifiable unit with the claim the service builds for it (the resolver, not the annotators' claim)."""
    by_article: dict[str, list[dict[str, Any]]] = {}
    for u in read_article_units():
        if u["pass"] not in COVERAGE_PASSES:
            continue
        by_article.setdefault(u["article"], []).append(u)
    out = []
    for article, units in by_article.items():
        segments = [Segment(i, u["text"], 0, len(u["text"]), unit_kind(u["form"])) for i, u in enumerate(units)]
        for u, claim in zip(units, resolve_claims(segments)):
            if u["verifiable"]:
                out.append(
                    {
                        "key": f"{article}#{u['index']}",
                        "text": u["text"],
                        "claim": claim or u["text"],
                        "context_dependent": bool(u["context_dependent"]),
                    }
                )
    return out


def retrieve(db: Path, texts: list[str], embedder: Embedder) -> list[list[tuple[str, str]]]:
    from veracity.corpus.store import EvidenceStore

    retriever = Retriever(EvidenceStore(db), RetrieverConfig(top_k=TOP_K))
    hits = retriever.retrieve(texts, embedder.encode(texts), top_k=TOP_K)
    return [[(e.id, e.statement) for e in row] for row in hits]


def build_db(data_dir: Path, db: Path, embedder: Embedder) -> Path:
    if not db.exists():
        builder.build(db, embedder.encode, embedder.name, data_dir=data_dir)
    return db


def runs(old_data: Path, work: Path) -> tuple[list[dict[str, Any]], dict[str, list[list[tuple[str, str]]]]]:
    embedder = Embedder()
    work.mkdir(parents=True, exist_ok=True)
    old_db = build_db(old_data, work / "old.db", embedder)
    new_db = build_db(builder.DATA_DIR, work / f"new-{builder.data_hash(builder.data_files())[:12]}.db", embedder)
    qs = queries()
    claims = [q["claim"] for q in qs]
    return qs, {
        "before (425 items)": retrieve(old_db, claims, embedder),
        "today": retrieve(new_db, claims, embedder),
        "today, bare sentence": retrieve(new_db, [q["text"] for q in qs], embedder),
    }


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["prepare", "report"])
    ap.add_argument("--old-data", type=Path, required=True, help="folder of the corpus files before the change")
    ap.add_argument("--work", type=Path, default=ROOT / ".work" / "coverage")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    qs, found = runs(args.old_data, args.work)
    if args.cmd == "prepare":
        seen: set[tuple[str, str]] = set()
        rows = []
        for i, q in enumerate(qs):
            for hits in found.values():
                for item_id, statement in hits[i]:
                    if (q["key"], item_id) not in seen:
                        seen.add((q["key"], item_id))
                        rows.append({"key": q["key"], "claim": q["claim"], "item": item_id, "statement": statement})
        out = args.out or args.work / "to_judge.jsonl"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(json.dumps({"queries": len(qs), "pairs": len(rows), "out": str(out)}))
        return None
    judged = {}
    for path in sorted(JUDGMENTS.glob("judge-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            judged[(r["key"], r["item"])] = bool(r["relevant"])
    report: dict[str, Any] = {"queries": len(qs), "articles": len({q["key"].split("#")[0] for q in qs})}
    for name, hits in found.items():
        subset = [i for i, q in enumerate(qs) if q["context_dependent"]] if "bare" in name else range(len(qs))
        covered = [any(judged.get((qs[i]["key"], item), False) for item, _ in hits[i]) for i in subset]
        missing = sum((qs[i]["key"], item) not in judged for i in subset for item, _ in hits[i])
        report[name] = {
            "sentences": len(covered),
            "covered": round(sum(covered) / max(len(covered), 1), 4),
            "unjudged_pairs": missing,
        }
    dependent = [i for i, q in enumerate(qs) if q["context_dependent"]]
    resolved = [any(judged.get((qs[i]["key"], item), False) for item, _ in found["today"][i]) for i in dependent]
    report["context-dependent sentences, claim built in context"] = {
        "sentences": len(resolved),
        "covered": round(sum(resolved) / max(len(resolved), 1), 4),
    }
    out = args.out or results_dir()
    (out / "coverage.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Corpus coverage of real health articles (hand-judged)",
        "",
        f"{report['queries']} verifiable sentences of {report['articles']} real health articles (annotations/articles);",
        "covered = at least one of the top 5 retrieved items is about the claim (annotations/coverage, judged blind).",
        "",
        "| retrieval | sentences | covered |",
        "|---|---:|---:|",
    ]
    for name, r in report.items():
        if isinstance(r, dict):
            lines.append(f"| {name} | {r['sentences']} | {r['covered']:.1%} |")
    (out / "coverage.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
