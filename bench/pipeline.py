"""Benchmark the whole pipeline: open-corpus claim verification, and the seed article's sentence table.

Run ``python -m bench.pipeline`` (``--quick``: a 1,000-abstract SciFact subset; ``--data PATH``: score an
external labelled set with no code changes).

* Open-corpus verification: each held-out SciFact claim goes through ``Pipeline.check_many`` (the one
  path the API uses, built by ``build_pipeline``) against the whole SciFact corpus; whatever verdict maker
  ``build_pipeline`` configures decides. Scored as the SciFact paper's abstract-level, label-only
  precision / recall / F1 (a predicted abstract counts when it is a gold evidence abstract and its label
  matches) and as a 3-way claim-level confusion matrix.
* ``--data PATH`` accepts the shared datasets' formats: SciFact claims JSONL (its corpus next to it),
  HealthVer CSV (its evidence passages become the corpus), COVID-Fact JSONL (likewise), or a JSONL of
  ``{"claim", "label"}`` checked against the bundled corpus. Labels are mapped to supported /
  contradicted / unsupported. Claims of the shared HealthVer / COVID-Fact files that the stance model
  trained on are left out when models/stance/splits.json says which they are.
* The seed article (tests/data/seed_article.txt) is checked against the default corpus and written to
  bench/results/seed.md, one row per sentence.

Writes bench/results/pipeline.json, pipeline.md and seed.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench import CACHE_DIR, DATASETS, ROOT, EmbeddingCache, machine, results_dir, table, write_result
from bench.retrieval import SCIFACT, Query, _corpus_next_to, corpus_items, load_claims, quick_subset, split_claims
from veracity.corpus.schema import MAX_STATEMENT_CHARS, normalise
from veracity.corpus.store import EvidenceStore

log = logging.getLogger(__name__)
LABELS = ("supported", "contradicted", "unsupported")
SEED = ROOT / "tests" / "data" / "seed_article.txt"
_LABEL_MAP = {
    "support": "supported",
    "supports": "supported",
    "supported": "supported",
    "real": "supported",
    "true": "supported",
    "entailment": "supported",
    "contradict": "contradicted",
    "contradicts": "contradicted",
    "contradicted": "contradicted",
    "refutes": "contradicted",
    "refuted": "contradicted",
    "fake": "contradicted",
    "false": "contradicted",
    "contradiction": "contradicted",
    "nei": "unsupported",
    "neutral": "unsupported",
    "unsupported": "unsupported",
    "not enough info": "unsupported",
    "notenoughinfo": "unsupported",
}


def map_label(raw: str) -> str:
    label = _LABEL_MAP.get(str(raw).strip().lower())
    if label is None:
        raise ValueError(f"unknown label {raw!r}; use one of {', '.join(sorted(_LABEL_MAP))}")
    return label


# -- stores -------------------------------------------------------------------------------------------------


def cached_store(name: str, items: list[dict[str, Any]], cache: EmbeddingCache) -> Path:
    """An EvidenceStore of ``items`` under bench/results/cache/, rebuilt only when the items change."""
    digest = hashlib.sha1(
        json.dumps([[i["id"], i["statement"], i["source_title"]] for i in items]).encode()
    ).hexdigest()[:12]
    path = CACHE_DIR / f"{name}-{digest}.db"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        store = EvidenceStore(tmp)
        store.add(items, cache.encode, cache.name)
        store.close()
        tmp.replace(path)
    return path


def _item(item_id: str, statement: str, title: str, url: str, publisher: str, topic: str) -> dict[str, Any]:
    return normalise(
        {
            "id": item_id,
            "statement": statement[:MAX_STATEMENT_CHARS],
            "source_title": title[:300],
            "source_url": url,
            "publisher": publisher,
            "year": 2020,
            "study_type": "unknown",
            "grade": "ungraded",
            "topic": topic,
            "tags": [topic],
        }
    )


# -- external sets ------------------------------------------------------------------------------------------


def load_external(
    path: Path, held_out: dict[str, set[Any]] | None
) -> tuple[list[tuple[str, str]], list[dict[str, Any]] | None, str]:
    """(claims with gold labels, corpus items or None for the bundled corpus, description)."""
    name = path.name.lower()
    if name.endswith(".csv"):  # HealthVer: id, evidence, claim, label, ...
        rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
        if "evidence" not in rows[0] or "claim" not in rows[0]:
            raise ValueError(f"{path}: a CSV needs claim, evidence and label columns (HealthVer)")
        per_claim: dict[str, set[str]] = {}
        for r in rows:
            per_claim.setdefault(r["claim"], set()).add(map_label(r["label"]))
        claims = [(c, _claim_label(ls)) for c, ls in per_claim.items() if _claim_label(ls)]
        return _passage_set(
            path,
            claims,
            {r["evidence"] for r in rows},
            "healthver",
            "HealthVer",
            "HealthVer CSV; corpus = its evidence passages",
            held_out,
        )
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    first = records[0]
    if "cited_doc_ids" in first or ("evidence" in first and isinstance(first.get("evidence"), dict)):
        raise ValueError("SciFact claims are scored by run_scifact")
    if isinstance(first.get("evidence"), list):  # COVID-Fact
        claims = [(r["claim"], map_label(r["label"])) for r in records]
        passages = {" ".join(r["evidence"]) for r in records if r.get("evidence")}
        return _passage_set(
            path,
            claims,
            passages,
            "covidfact",
            "COVID-Fact",
            "COVID-Fact JSONL; corpus = its evidence sentences",
            held_out,
        )
    if "claim" in first and "label" in first:
        return [(r["claim"], map_label(r["label"])) for r in records], None, "JSONL {claim, label}; bundled corpus"
    raise ValueError(f"{path}: expected SciFact claims, HealthVer CSV, COVID-Fact JSONL or JSONL of {{claim, label}}")


def _passage_set(
    path: Path,
    claims: list[tuple[str, str]],
    passages: set[str],
    source: str,
    name: str,
    note: str,
    held_out: dict[str, set[Any]] | None,
) -> tuple[list[tuple[str, str]], list[dict[str, Any]], str]:
    """A set that brings its own evidence: the passages become the corpus, and claims of the shared file that
    the stance model trained on are left out when the split says which they are."""
    items = [
        _item(
            f"ext-{hashlib.sha1(p.encode()).hexdigest()[:10]}",
            p,
            p[:80],
            f"https://example.org/{source}",
            f"{name} evidence",
            source,
        )
        for p in sorted(passages)
    ]
    keep = (held_out or {}).get(source)
    if keep and _is_shared(path):
        return [c for c in claims if c[0] in keep], items, note + "; stance validation claims only"
    return claims, items, note


def _claim_label(labels: set[str]) -> str | None:
    strong = labels - {"unsupported"}
    if len(strong) > 1:
        return None  # evidence both ways: no single gold label
    return strong.pop() if strong else "unsupported"


def _is_shared(path: Path) -> bool:
    return DATASETS.resolve() in path.resolve().parents


def _held_out_texts() -> dict[str, set[Any]] | None:
    from bench import SPLITS_FILE

    if not SPLITS_FILE.exists():
        return None
    data = json.loads(SPLITS_FILE.read_text(encoding="utf-8"))["validation"]
    return {"healthver": set(data.get("healthver_claims", [])), "covidfact": set(data.get("covidfact_claims", []))}


# -- scoring ------------------------------------------------------------------------------------------------


def check_claims(pipeline, claims: list[str]):  # type: ignore[no-untyped-def]
    """One verdict per claim through ``Pipeline.check_many``; a claim split in two keeps its longest part."""
    results = pipeline.check_many(claims, check_all=True)
    out = []
    for result in results:
        scored = [s for s in result.sentences if s.verdict is not None]
        out.append(max(scored, key=lambda s: len(s.segment.text)).verdict if scored else None)
    return out


def predicted_abstracts(verdict) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Abstract-level predictions {evidence id: supported|contradicted} from one verdict.

    With a stance model each retrieved item carries its own stance; without one, the verdict's label is
    the prediction for its top item.
    """
    if verdict is None:
        return {}
    stances = {e.evidence.id: e.stance for e in verdict.evidence if e.stance in ("supports", "contradicts")}
    if any(e.stance is not None for e in verdict.evidence):
        return {i: ("supported" if s == "supports" else "contradicted") for i, s in stances.items()}
    if verdict.label in ("supported", "contradicted") and verdict.evidence:
        return {verdict.evidence[0].evidence.id: verdict.label}
    return {}


def abstract_level(queries: list[Query], gold: list[dict[str, str]], verdicts: list[Any]) -> dict[str, float]:
    """SciFact abstract-level, label-only P/R/F1."""
    correct = predicted = relevant = 0
    for g, v in zip(gold, verdicts):
        pred = predicted_abstracts(v)
        predicted += len(pred)
        relevant += len(g)
        correct += sum(1 for doc, label in pred.items() if g.get(doc) == label)
    p = correct / predicted if predicted else 0.0
    r = correct / relevant if relevant else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "predicted": predicted,
        "gold_abstracts": relevant,
        "correct": correct,
    }


def claim_level(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    matrix = [[sum(1 for g, p in zip(gold, predicted) if g == gl and p == pl) for pl in LABELS] for gl in LABELS]
    f1s = []
    for i, _ in enumerate(LABELS):
        tp = matrix[i][i]
        fp = sum(matrix[j][i] for j in range(3)) - tp
        fn = sum(matrix[i]) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    # The costliest error: a claim whose gold label is not "supported" called supported.
    wrong, not_supported = matrix[1][0] + matrix[2][0], sum(matrix[1]) + sum(matrix[2])
    return {
        "confusion": matrix,
        "accuracy": round(sum(matrix[i][i] for i in range(3)) / max(len(gold), 1), 4),
        "false_supported": round(wrong / not_supported, 4) if not_supported else float("nan"),
        "false_supported_counts": [wrong, not_supported],
        "macro_f1": round(float(np.mean(f1s)), 4),
        "f1": dict(zip(LABELS, (round(f, 4) for f in f1s))),
        "gold_counts": dict(Counter(gold)),
        "n": len(gold),
    }


def _false_supported(claim_level_result: dict[str, Any]) -> str:
    wrong, of = claim_level_result["false_supported_counts"]
    return f"{claim_level_result['false_supported']:.1%} ({wrong} of {of})" if of else "n/a"


def _scifact_gold(claims_path: Path) -> dict[int, dict[str, str]]:
    out = {}
    for line in claims_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[int(r["id"])] = {
                f"scifact-{d}": ("supported" if sets[0]["label"] == "SUPPORT" else "contradicted")
                for d, sets in (r.get("evidence") or {}).items()
            }
    return out


def _pipeline_for(db: Path):  # type: ignore[no-untyped-def]
    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    return build_pipeline(Settings.from_env(corpus_db=db, build_corpus=False))


def run_scifact(quick: bool, cache: EmbeddingCache, claims_path: Path | None = None) -> dict[str, Any]:
    claims_path = claims_path or SCIFACT / "claims_train.jsonl"
    queries = load_claims(claims_path)
    if claims_path.resolve() == (SCIFACT / "claims_train.jsonl").resolve():
        _, queries, split = split_claims(queries)
    else:
        split = f"all claims of {claims_path}"
    corpus_path = _corpus_next_to(claims_path)
    items = corpus_items(corpus_path, quick_subset(claims_path) if quick else None)
    db = cached_store("scifact", items, cache)
    pipeline = _pipeline_for(db)
    t0 = time.perf_counter()
    verdicts = check_claims(pipeline, [q.text for q in queries])
    seconds = time.perf_counter() - t0
    gold_docs = _scifact_gold(claims_path)
    gold = [gold_docs.get(q.id, {}) for q in queries]
    return {
        "set": f"SciFact ({split})",
        "corpus_size": len(items),
        "claims": len(queries),
        "pipeline": pipeline.describe(),
        "abstract_level": abstract_level(queries, gold, verdicts),
        "claim_level": claim_level([q.label for q in queries], [v.label if v else "unsupported" for v in verdicts]),
        "ms_per_claim": round(seconds * 1000 / max(len(queries), 1), 1),
        "false_supported_claims": false_supported_claims([(q.text, q.label) for q in queries], verdicts),
    }


def run_external(path: Path, cache: EmbeddingCache) -> dict[str, Any]:
    if path.suffix == ".jsonl" and _looks_like_scifact(path):
        result = run_scifact(False, cache, path)
        result["set"] = f"{path} (SciFact format)"
        return result
    claims, items, note = load_external(path, _held_out_texts())
    if items is None:
        from veracity.service.pipeline import build_pipeline
        from veracity.service.settings import Settings

        pipeline = build_pipeline(Settings.from_env())
        corpus_size = pipeline.retriever.size
    else:
        pipeline = _pipeline_for(cached_store(f"ext-{path.stem}", items, cache))
        corpus_size = len(items)
    t0 = time.perf_counter()
    verdicts = check_claims(pipeline, [c for c, _ in claims])
    seconds = time.perf_counter() - t0
    shown = path.relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    return {
        "set": f"{shown} ({note})",
        "corpus_size": corpus_size,
        "claims": len(claims),
        "pipeline": pipeline.describe(),
        "claim_level": claim_level([g for _, g in claims], [v.label if v else "unsupported" for v in verdicts]),
        "ms_per_claim": round(seconds * 1000 / max(len(claims), 1), 1),
        "false_supported_claims": false_supported_claims(claims, verdicts),
    }


def false_supported_claims(claims: list[tuple[str, str]], verdicts: list[Any]) -> list[dict[str, Any]]:
    """Every claim called supported whose gold label is not, with the evidence that drove it: the error to read."""
    return [
        {"claim": c, "gold": g, "driven_by": v.driver, "confidence": round(v.confidence, 3)}
        for (c, g), v in zip(claims, verdicts)
        if v and v.label == "supported" and g != "supported"
    ]


# 13 claims restating specific items of the bundled corpus and 13 myths negating them (evidence_id names the
# item); written for this benchmark, so it checks the product on its own domain, not generalisation.
HEALTH_CLAIMS = Path(__file__).resolve().parent / "data" / "health_claims.jsonl"


def _looks_like_scifact(path: Path) -> bool:
    with path.open(encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    return "cited_doc_ids" in first or isinstance(first.get("evidence"), dict)


# -- seed article --------------------------------------------------------------------------------------------


def seed_table(text: str | None = None) -> tuple[str, dict[str, Any]]:
    """Check the seed article against the default corpus; one markdown row per sentence."""
    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    settings = Settings.from_env()
    pipeline = build_pipeline(settings)
    text = text if text is not None else SEED.read_text(encoding="utf-8")
    result = pipeline.check(text)
    rows = []
    for s in result.sentences:
        v = s.verdict
        top = v.evidence[0].evidence if v and v.evidence else None
        evidence = (
            (
                f"{top.id} [{top.grade}, {top.study_type}] {top.source_title} ({top.publisher}, {top.year}"
                f"{', ' + top.source_url if top.source_url else ''}); cosine {top.similarity:.2f}"
            )
            if top
            else ""
        )
        rows.append(
            [
                s.segment.index,
                s.segment.text,
                f"{'yes' if s.checkworthiness.checkworthy else 'no'} ({s.checkworthiness.reason})"
                if not s.checkworthiness.checkworthy
                else "yes",
                v.label if v else "—",
                f"{v.confidence:.2f}" if v else "",
                evidence,
            ]
        )
    summary = result.summary
    md = "\n".join(
        [
            f"# Seed article, checked against the default corpus ({pipeline.retriever.size} items, version "
            f"{pipeline.retriever.store.version})",
            "",
            f"Pipeline: {pipeline.describe()}. Summary: {summary}.",
            "",
            table(
                ["#", "sentence", "check-worthy", "verdict", "confidence", "top evidence (grade, study type, source)"],
                rows,
            ),
            "",
        ]
    )
    return md, {
        "summary": summary,
        "sentences": len(rows),
        "pipeline": pipeline.describe(),
        "timings_ms": result.timings_ms,
    }


# -- report -------------------------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    out = ["## Whole pipeline: open-corpus claim verification", ""]
    rows = []
    for r in results["sets"]:
        al = r.get("abstract_level")
        cl = r["claim_level"]
        rows.append(
            [
                r["set"],
                f"{r['claims']}",
                f"{r['corpus_size']:,}",
                r["pipeline"]["verdict"],
                f"{al['precision']:.3f} / {al['recall']:.3f} / {al['f1']:.3f}" if al else "n/a",
                f"{cl['accuracy']:.3f}",
                f"{cl['macro_f1']:.3f}",
                _false_supported(cl),
                f"{r['ms_per_claim']:g}",
            ]
        )
    out += [
        table(
            [
                "set",
                "claims",
                "corpus",
                "verdict maker",
                "abstract-level label-only P / R / F1",
                "claim accuracy",
                "claim macro-F1",
                "false-supported claims",
                "ms / claim",
            ],
            rows,
        ),
        "",
    ]
    for r in results["sets"]:
        cl = r["claim_level"]
        out += [f"Confusion matrix, {r['set']} (rows gold, columns predicted):", ""]
        out += [table(["gold \\ predicted", *LABELS], [[g, *row] for g, row in zip(LABELS, cl["confusion"])]), ""]
        if r.get("false_supported_claims"):
            out += ["Called supported, gold label not:", ""]
            out += [
                f"- {f['claim']} (gold {f['gold']}; driven by {f['driven_by']}, confidence {f['confidence']:.2f})"
                for f in r["false_supported_claims"][:20]
            ] + [""]
    if results.get("seed"):
        out += [
            f"Seed article: {results['seed']['sentences']} sentences, {results['seed']['summary']}; "
            "the per-sentence table is in seed.md beside this file.",
            "",
        ]
    out += [f"{results['machine']}; {results['seconds']:.0f} s.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SciFact against a 1,000-abstract subset")
    parser.add_argument("--data", type=Path, action="append", default=[], help="an external labelled set (repeatable)")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed article table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    from veracity.models.embedder import load_embedder

    cache = EmbeddingCache(load_embedder(threads=2))
    out = results_dir(args.quick)
    results: dict[str, Any] = {"sets": [], "machine": machine(), "quick": args.quick}
    if args.data:
        for path in args.data:
            results["sets"].append(run_external(path, cache))
    else:
        results["sets"].append(run_scifact(args.quick, cache))
        results["sets"].append(run_external(HEALTH_CLAIMS, cache))
    if not args.no_seed and not args.data:
        md, seed = seed_table()
        out.mkdir(parents=True, exist_ok=True)
        (out / "seed.md").write_text(md, encoding="utf-8")
        results["seed"] = seed
    results["seconds"] = round(time.perf_counter() - started, 1)
    markdown = render(results)
    print(markdown)
    name = "pipeline" if not args.data else "pipeline_" + "_".join(p.stem for p in args.data)
    write_result(name, results, markdown, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
