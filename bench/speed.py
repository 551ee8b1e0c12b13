"""Benchmark speed and memory: ratios and spreads measured in one run, on this machine.

Run ``python -m bench.speed`` (``--quick``: fewer repetitions, smaller documents, corpus growth to 3k only).

* Seed article end to end (``Pipeline.check``): warm p50 / p95 over repetitions, and cold start (a fresh
  process: imports, model loads, store open, first check), min / median / max.
* Throughput on a 2,000-sentence document (the seed article repeated), and the floor: the models' bare
  forward passes on the same inputs (the embedder on every sentence, plus the stance model on the same
  (claim, evidence) pairs when one is configured). The pipeline / floor ratio is the overhead of
  everything else; the goal is at most 1.5x.
* Peak RSS of ``veracity serve`` (a subprocess, read from /proc/PID/status VmHWM) after it has answered
  the seed article and the 2,000-sentence document; the goal is under 1 GB.
* Retrieval latency as the corpus grows from 1k to 100k items: SciFact abstracts duplicated with
  jittered vectors (same text length, passages and FTS index as the real thing), one claim per query.
  Plotted to bench/results/retrieval_scaling.png.

Shared machines are noisy: quote medians and ratios; the min-max spread shows how noisy the run was.
Writes bench/results/speed.json and speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench import (
    CACHE_DIR,
    ROOT,
    EmbeddingCache,
    fmt_spread,
    machine,
    repeat_ms,
    results_dir,
    spread,
    table,
    write_result,
)
from bench.server import rss_mb, running_server

SEED = ROOT / "tests" / "data" / "seed_article.txt"


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def long_document(n_sentences: int = 2000) -> str:
    """The seed article repeated and cut at ``n_sentences`` segments: real article forms, headings included."""
    from veracity.service.segment import segment

    seed = SEED.read_text(encoding="utf-8")
    text = seed
    while len(segment(text)) < n_sentences:
        text += "\n\n" + seed
    cut = segment(text)[n_sentences - 1].end
    return text[:cut]


def _pipeline(**overrides):  # type: ignore[no-untyped-def]
    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    return build_pipeline(Settings.from_env(**overrides))


# Settings a user can change, timed on the seed article beside the defaults in the same run.
VARIANTS: dict[str, dict[str, Any]] = {
    "VERACITY_PRECISION=fp32 (no bf16)": {"precision": "fp32"},
    "VERACITY_TOP_K=3 (stance reads 3 items, not 5)": {"top_k": 3},
}


def seed_variants(repeats: int) -> dict[str, Any]:
    out = {}
    for name, overrides in VARIANTS.items():
        result = seed_warm(_pipeline(verdict_cache_size=0, **overrides), repeats)
        out[name] = {k: result[k] for k in ("ms", "p50_ms", "p95_ms", "stages_ms")}
    return out


# -- seed article, warm and cold ----------------------------------------------------------------------------


def seed_warm(pipeline, repeats: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    text = SEED.read_text(encoding="utf-8")
    sentences = len(pipeline.check(text).sentences)  # warm-up: lazy initialisation, page cache
    times: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = pipeline.check(text)
        times.append((time.perf_counter() - t0) * 1000.0)
        for stage, ms in result.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {
        "ms": spread(times, 1),
        "p50_ms": _percentile(times, 50),
        "p95_ms": _percentile(times, 95),
        "sentences": sentences,
        "stages_ms": {k: round(float(np.median(v)), 1) for k, v in stages.items()},
    }


def seed_repeat(repeats: int) -> dict[str, Any]:
    """The same page checked again, as the extension re-checks a page: the first check with an empty verdict
    and vector caches against the next one, which they answer. Each round empties both; the models stay loaded."""
    from veracity.service.verdict_cache import LRUCache

    pipeline = _pipeline()
    text = SEED.read_text(encoding="utf-8")
    pipeline.check(text)  # warm-up
    first: list[float] = []
    again: list[float] = []
    hits: list[float] = []
    for _ in range(repeats):
        pipeline.cache = LRUCache(pipeline.cache.size)
        pipeline.vectors = LRUCache(pipeline.vectors.size)
        t0 = time.perf_counter()
        pipeline.check(text)
        first.append((time.perf_counter() - t0) * 1000.0)
        t0 = time.perf_counter()
        result = pipeline.check(text)
        again.append((time.perf_counter() - t0) * 1000.0)
        hits.append(result.timings_ms.get("cache_hits", 0.0))
    return {
        "first_p50_ms": _percentile(first, 50),
        "again_p50_ms": _percentile(again, 50),
        "again_over_first": round(_percentile(again, 50) / _percentile(first, 50), 4),
        "cache_hits": float(np.median(hits)),
    }


_COLD = """
import json, time
t0 = time.perf_counter()
from veracity.service.pipeline import build_pipeline
from veracity.service.settings import Settings
t1 = time.perf_counter()
p = build_pipeline(Settings.from_env())
t2 = time.perf_counter()
p.check(open({seed!r}, encoding="utf-8").read())
t3 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1000, "load_ms": (t2 - t1) * 1000, "first_check_ms": (t3 - t2) * 1000}}))
"""


def seed_cold(repeats: int) -> dict[str, Any]:
    walls, parts = [], []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VERACITY_LOG_LEVEL": "WARNING"}
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _COLD.format(seed=str(SEED))],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append((time.perf_counter() - t0) * 1000)
        parts.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "wall_ms": spread(walls, 0),
        **{k: round(float(np.median([p[k] for p in parts])), 0) for k in ("import_ms", "load_ms", "first_check_ms")},
    }


# -- throughput and the model floor -------------------------------------------------------------------------


def throughput(pipeline, repeats: int, n_sentences: int = 2000) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from veracity.service.segment import segment

    doc = long_document(n_sentences)
    segments = segment(doc)
    runs = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = pipeline.check(doc, max_sentences=None)
        runs.append(time.perf_counter() - t0)
    assert result is not None
    claims = [s.segment.text for s in result.sentences if s.verdict is not None]
    # The floor: the same model work with nothing around it.
    texts = [s.text for s in segments]
    floor_embed = repeat_ms(lambda: pipeline.embedder.encode(texts), repeats)
    floor_ms = list(floor_embed)
    stance = getattr(pipeline.verdict, "stance", None)
    pairs: list[tuple[str, str]] = []
    if stance is not None and hasattr(stance, "predict"):
        vectors = pipeline.embedder.encode(claims)
        evidence = pipeline.retriever.retrieve(claims, vectors)
        pairs = [(c, e.statement) for c, items in zip(claims, evidence) for e in items]
        floor_stance = repeat_ms(lambda: stance.predict(pairs), repeats)
        floor_ms = [a + b for a, b in zip(floor_embed, floor_stance)]
    pipeline_ms = [r * 1000 for r in runs]
    ratios = [p / f for p, f in zip(pipeline_ms, floor_ms)]
    return {
        "sentences": len(segments),
        "checked_claims": len(claims),
        "stance_pairs": len(pairs),
        "pipeline_ms": spread(pipeline_ms, 0),
        "floor_ms": spread(floor_ms, 0),
        "sentences_per_s": spread([len(segments) / r for r in runs], 1),
        "ratio_to_floor": spread(ratios, 2),
        "stages_ms": result.timings_ms,
    }


# -- server memory ------------------------------------------------------------------------------------------


def server_rss(n_sentences: int = 1000) -> dict[str, Any]:
    with running_server() as (base, pid):
        idle = rss_mb(pid)
        for text in (SEED.read_text(encoding="utf-8"), long_document(n_sentences)):
            body = json.dumps({"text": text}).encode()
            req = urllib.request.Request(base + "/check", data=body, headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=600).read()
            except urllib.error.HTTPError as exc:  # e.g. a body-size limit: still measured, and said
                idle.setdefault("errors", []).append(f"{exc.code} {exc.read()[:200]!r}")
        after = rss_mb(pid)
        return {
            "idle_rss_mb": idle["VmRSS"],
            "peak_rss_mb": after["VmHWM"],
            "after_rss_mb": after["VmRSS"],
            "errors": idle.get("errors", []),
            "request_sentences": n_sentences,
        }


# -- retrieval as the corpus grows -----------------------------------------------------------------------------


def scaling(sizes: list[int], queries: int, quick: bool = False) -> list[dict[str, Any]]:
    from bench.retrieval import SCIFACT, corpus_items, load_claims, quick_subset
    from veracity.corpus.store import EvidenceStore, passages
    from veracity.models.embedder import load_embedder
    from veracity.service.retrieve import Retriever, RetrieverConfig

    cache = EmbeddingCache(load_embedder(threads=2))
    base = corpus_items(SCIFACT / "corpus_train.csv.gz", quick_subset() if quick else None)
    vectors: dict[str, np.ndarray] = {}
    texts = [i["statement"] for i in base] + [p for i in base for p in passages(i["statement"], i["source_title"])]
    for text, v in zip(texts, cache.encode(texts)):
        vectors[text] = v
    claims = load_claims(SCIFACT / "claims_train.jsonl")[:queries]
    claim_vectors = cache.encode([c.text for c in claims])
    rng = np.random.default_rng(0)

    def jittered(batch: list[str]) -> np.ndarray:
        out = np.stack([vectors[t] for t in batch]) + rng.normal(0, 0.02, (len(batch), 384)).astype(np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    rows = []
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        store = EvidenceStore(Path(tmp) / "grow.db")
        have = 0
        for size in sorted(sizes):
            items = []
            for n in range(have, size):
                item = dict(base[n % len(base)])
                copy = n // len(base)
                if copy:  # a duplicate: same text (so the same FTS and passage work), new id, jittered vectors
                    item["id"] = f"{item['id']}-c{copy}"
                items.append(item)
            t0 = time.perf_counter()
            store.add(items, jittered, cache.name)
            add_s = time.perf_counter() - t0
            have = size
            t0 = time.perf_counter()
            retriever = Retriever(store, RetrieverConfig())
            load_s = time.perf_counter() - t0
            latencies = []
            for qi, claim in enumerate(claims):
                t0 = time.perf_counter()
                retriever.retrieve([claim.text], claim_vectors[qi : qi + 1], top_k=5)
                latencies.append((time.perf_counter() - t0) * 1000)
            rows.append(
                {
                    "items": size,
                    "passages": len(retriever._passage_ids),
                    "latency_ms": spread(latencies, 1),
                    "p95_ms": _percentile(latencies, 95),
                    "load_s": round(load_s, 2),
                    "add_s": round(add_s, 1),
                    "matrix_mb": round(
                        (retriever._matrix.vectors.nbytes + retriever._passage_vectors.nbytes) / 2**20, 1
                    ),
                }
            )
        store.close()
    cache.close()
    return rows


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["items"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(x, [r["latency_ms"]["median"] for r in rows], "o-", label="median")
    ax.fill_between(
        x, [r["latency_ms"]["min"] for r in rows], [r["latency_ms"]["max"] for r in rows], alpha=0.2, label="min–max"
    )
    ax.plot(x, [r["p95_ms"] for r in rows], "s--", label="p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("evidence items (with their passages)")
    ax.set_ylabel("retrieval latency per claim (ms)")
    ax.set_title("Veracity retriever: one claim, top 5")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- report --------------------------------------------------------------------------------------------------


def render(r: dict[str, Any]) -> str:
    seed, cold, tp = r["seed_warm"], r["seed_cold"], r["throughput"]
    rows = [
        [
            "seed article, warm (p50 / p95)",
            f"{seed['p50_ms']:g} / {seed['p95_ms']:g} ms",
            fmt_spread(seed["ms"], " ms"),
            f"{seed['sentences']} sentences; precision {r['pipeline'].get('precision', 'fp32')}; stages (median ms) {seed['stages_ms']}",
        ],
        *[
            [
                f"seed article, warm, {name}",
                f"{v['p50_ms']:g} / {v['p95_ms']:g} ms",
                fmt_spread(v["ms"], " ms"),
                f"stages (median ms) {v['stages_ms']}",
            ]
            for name, v in (r.get("seed_variants") or {}).items()
        ],
        *(
            [
                [
                    "seed article checked again (verdict cache on)",
                    f"{r['seed_repeat']['again_p50_ms']:g} ms",
                    f"{r['seed_repeat']['again_over_first']:.1%} of the first check",
                    f"first check in a fresh cache {r['seed_repeat']['first_p50_ms']:g} ms (p50); "
                    f"{r['seed_repeat']['cache_hits']:g} claims from the cache (goal: ≤ 10% of the first)",
                ]
            ]
            if r.get("seed_repeat")
            else []
        ),
        [
            "seed article, cold start (new process)",
            f"{cold['wall_ms']['median']:g} ms",
            fmt_spread(cold["wall_ms"], " ms"),
            f"imports {cold['import_ms']:g} ms, model and store load {cold['load_ms']:g} ms, first check {cold['first_check_ms']:g} ms",
        ],
        [
            f"{tp['sentences']:,}-sentence document",
            f"{tp['sentences_per_s']['median']:g} sentences/s",
            fmt_spread(tp["pipeline_ms"], " ms"),
            f"{tp['checked_claims']} check-worthy claims; stages {tp['stages_ms']}",
        ],
        [
            "bare model forward, same inputs (floor)",
            fmt_spread(tp["floor_ms"], " ms"),
            "",
            f"embedder on {tp['sentences']} sentences"
            + (f" + stance model on {tp['stance_pairs']} pairs" if tp["stance_pairs"] else ""),
        ],
        [
            "pipeline / floor (goal ≤ 1.5×)",
            f"{tp['ratio_to_floor']['median']:g}×",
            fmt_spread(tp["ratio_to_floor"], "×"),
            "",
        ],
    ]
    if r.get("server"):  # None when skipped
        s = r["server"]
        rows.append(
            [
                "`veracity serve` peak RSS (goal < 1 GB)",
                f"{s['peak_rss_mb']:g} MB",
                "",
                f"idle after start {s['idle_rss_mb']:g} MB; after the seed article and a {s['request_sentences']:,}-sentence request"
                + (f"; errors: {s['errors']}" if s["errors"] else ""),
            ]
        )
    out = ["## Speed and memory", "", table(["measure", "value (median)", "min–max", "notes"], rows), ""]
    out += [
        "Retrieval latency as the corpus grows (SciFact abstracts duplicated with jittered vectors; one claim per query):",
        "",
    ]
    out += [
        table(
            [
                "items",
                "passages",
                "latency ms median (min–max)",
                "p95 ms",
                "vectors in memory MB",
                "retriever load s",
                "store add s",
            ],
            [
                [
                    f"{g['items']:,}",
                    f"{g['passages']:,}",
                    fmt_spread(g["latency_ms"]),
                    f"{g['p95_ms']:g}",
                    f"{g['matrix_mb']:g}",
                    f"{g['load_s']:g}",
                    f"{g['add_s']:g}",
                ]
                for g in r["scaling"]
            ],
        ),
        "",
    ]
    out += [
        f"Plot: retrieval_scaling.png beside this file. Pipeline: {r['pipeline']}. {r['machine']}; {r['seconds']:.0f} s.",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, a 200-sentence document, corpus growth to 3k items"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the server memory measurement")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pipeline = _pipeline(verdict_cache_size=0)  # every check computes every claim; seed_repeat times the cache
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "pipeline": pipeline.describe()}
    sections = {
        "seed_warm": lambda: seed_warm(pipeline, 5 if args.quick else 20),
        "seed_variants": lambda: seed_variants(3 if args.quick else 10),
        "seed_repeat": lambda: seed_repeat(3 if args.quick else 10),
        "seed_cold": lambda: seed_cold(1 if args.quick else 3),
        "throughput": lambda: throughput(pipeline, 1 if args.quick else 3, 200 if args.quick else 2000),
        "server": lambda: None if args.no_server else server_rss(100 if args.quick else 1000),
        "scaling": lambda: scaling(
            [1000, 3000] if args.quick else [1000, 3000, 10000, 30000, 100000], 10 if args.quick else 50, args.quick
        ),
    }
    results["section_s"] = {}
    for name, fn in sections.items():
        t0 = time.perf_counter()
        results[name] = fn()
        results["section_s"][name] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {results['section_s'][name]} s", file=sys.stderr, flush=True)
    out = results_dir(args.quick)
    out.mkdir(parents=True, exist_ok=True)
    plot_scaling(results["scaling"], out / "retrieval_scaling.png")
    results["seconds"] = round(time.perf_counter() - started, 1)
    markdown = render(results)
    print(markdown)
    write_result("speed", results, markdown, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
