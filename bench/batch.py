"""Benchmark batch checking: local engine vs Ray engine, against the bare embedding forward pass.

Run ``python -m bench.batch`` (200 generated article pages; ``--quick`` uses 10, local engine only; ``--pages N``
another number, written beside the quick results so only a full run replaces the table). The pages are served by
a local HTTP server in this process, so the numbers measure Veracity (fetch, extraction, segmentation,
embedding, check-worthiness, retrieval, verdicts, SQLite writes), not the network. The politeness delay is
0 and the per-host limit equals the concurrency, because every page comes from one host here; real crawls
are bounded by the delay instead (200 pages on one host at 1 s apart take 200 s, whatever the engine).

Reported, on the same pages in the same run:
  * documents/min and sentences/s of ``run_batch`` with the local engine (models loaded beforehand) and
    with the Ray engine, once with 1 check actor and once with 2, of 1 CPU each on one local 2-CPU cluster
    (actor start-up, model loading and the merge of the workers' shards are inside the timing, ``ray.init``
    is not), and the 2-worker run's documents/min as a multiple of the 1-worker run's;
  * the bare model: ``Embedder.encode`` alone on exactly the sentences the batch embedded, with the
    pipeline's thread count (timed after each engine, median), and each engine's sentences/s as a fraction
    of it; and once with 1 torch thread, the per-CPU reference for Ray's single-CPU actors;
  * the same per CPU-second (all processes of the engine: the local process; Ray's driver, fetch actor and
    check actors, whose CPU includes their start-up), which shared cores disturb far less than wall time;
  * peak RSS of each process (the local process; the Ray driver, fetch actor and every check actor).
Writes bench/results/batch.json and bench/results/batch.md, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench import results_dir

ROOT = Path(__file__).resolve().parent.parent
NON_CLAIMS = [
    "What does this mean for you?",
    "Read on to find out.",
    "Talk to your doctor before changing any medication.",
    "Share this article with a friend.",
    "Key points:",
]


def sentence_pool() -> list[str]:
    """Real evidence statements (the default corpus and the test corpus): text shaped like health claims."""
    pool = []
    for path in sorted((ROOT / "corpus" / "data").glob("*.jsonl")) + [ROOT / "tests" / "data" / "evidence.jsonl"]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                pool.append(json.loads(line)["statement"])
    return pool


def article(n: int, pool: list[str]) -> bytes:
    rng = random.Random(n)
    paragraphs = []
    for _ in range(rng.randint(8, 14)):
        sentences = rng.sample(pool, rng.randint(1, 2))
        if rng.random() < 0.25:
            sentences.append(rng.choice(NON_CLAIMS))
        paragraphs.append("<p>" + " ".join(sentences) + "</p>")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Health report {n}</title>"
        f"<meta name='date' content='2024-{1 + n % 12:02d}-{1 + n % 28:02d}'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/subscribe'>Subscribe</a></nav>"
        f"<article><h1>Health report {n}</h1>{''.join(paragraphs)}</article>"
        "<footer>Copyright Health Reports. Privacy policy. Cookie settings.</footer></body></html>"
    ).encode()


def serve(pages: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def time_bare(embedder, texts: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one encode of every text."""
    from veracity.service.batch import cpu_seconds

    started, cpu = time.perf_counter(), cpu_seconds()
    embedder.encode(texts)
    return time.perf_counter() - started, cpu_seconds() - cpu


def run_engine(engine: str, urls: list[str], settings, db: Path, pipeline=None, workers: int = 2) -> dict:
    from veracity.service.batch import BatchOptions, ResultsStore, Source, run_batch
    from veracity.service.fetch import FetchConfig

    fetch = FetchConfig(allow_private=True, delay_s=0.0, per_host=8, concurrency=8, timeout_s=30)
    options = BatchOptions(fetch=fetch, engine=engine, workers=workers, cpus_per_worker=1, chunk_docs=32)
    with ResultsStore(db) as store:
        store.ensure_job("bench", {})
        store.register("bench", [Source(key=u, url=u) for u in urls])
        stats = run_batch(store, "bench", settings, options, pipeline=pipeline)
        progress = store.progress("bench")
    assert progress["pending"] == 0 and progress["checked"] == len(urls), progress
    return {
        "engine": engine,
        "workers": workers if engine == "ray" else None,
        "documents": stats.documents,
        "sentences": stats.sentences,
        "claims": stats.claims,
        "seconds": round(stats.elapsed_s, 2),
        "documents_per_min": round(stats.docs_per_min, 1),
        "sentences_per_s": round(stats.sentences_per_s, 1),
        "peak_rss_mb": stats.peak_rss_mb,
        "cpu_s": stats.cpu_s,
        "sentences_per_cpu_s": round(stats.sentences / sum(stats.cpu_s.values()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 pages instead of 200, local engine only")
    parser.add_argument("--pages", type=int, default=None)
    parser.add_argument("--no-ray", action="store_true", help="local engine and bare model only")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n_pages = args.pages or (10 if args.quick else 200)
    args.no_ray = args.no_ray or args.quick  # Ray's start-up alone is most of a quick run's budget
    load_start = round(os.getloadavg()[0], 2)

    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    settings = Settings.from_env()
    pool = sentence_pool()
    pages = {f"/article/{n}": article(n, pool) for n in range(n_pages)}
    server = serve(pages)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [base + path for path in pages]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        pipeline = build_pipeline(settings)
        load_s = time.perf_counter() - started
        local = run_engine("local", urls, settings, Path(tmp) / "local.db", pipeline=pipeline)
        local["model_load_s"] = round(load_s, 2)
        rows.append(local)

        # the bare model: the same sentences through Embedder.encode alone, same threads, same batch size;
        # timed after each engine (the median is the reference), since the cores are shared
        with sqlite3.connect(Path(tmp) / "local.db") as conn:
            texts = [t for (t,) in conn.execute("select text from sentences order by document_id, idx")]
        pipeline.embedder.encode(texts[:64])  # warm-up
        bare_runs = [time_bare(pipeline.embedder, texts)]

        if not args.no_ray:
            import ray

            started = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 1024 * 1024)
            ray_init_s = time.perf_counter() - started
            try:  # 1 then 2 check actors on the same cluster and pages: does a second worker add throughput?
                for workers in (1, 2):
                    distributed = run_engine("ray", urls, settings, Path(tmp) / f"ray{workers}.db", workers=workers)
                    distributed["ray_init_s"] = round(ray_init_s, 2)
                    rows.append(distributed)
            finally:
                ray.shutdown()
        bare_runs.append(time_bare(pipeline.embedder, texts))
        # the same with one torch thread: what each single-CPU Ray actor has to work with
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            one_wall, one_cpu = time_bare(pipeline.embedder, texts)
        finally:
            torch.set_num_threads(threads)
    server.shutdown()
    bare_s = statistics.median(wall for wall, _ in bare_runs)
    bare_cpu_s = statistics.median(cpu for _, cpu in bare_runs)
    bare = {
        "sentences": len(texts),
        "seconds": round(bare_s, 2),
        "sentences_per_s": round(len(texts) / bare_s, 1),
        "cpu_s": round(bare_cpu_s, 2),
        "sentences_per_cpu_s": round(len(texts) / bare_cpu_s, 1),
        "seconds_each_run": [round(wall, 2) for wall, _ in bare_runs],
    }
    bare_one = {
        "sentences": len(texts),
        "seconds": round(one_wall, 2),
        "sentences_per_s": round(len(texts) / one_wall, 1),
        "cpu_s": round(one_cpu, 2),
        "sentences_per_cpu_s": round(len(texts) / one_cpu, 1),
    }

    for row in rows:
        row["fraction_of_bare_model"] = round(row["sentences_per_s"] / bare["sentences_per_s"], 3)
        # per CPU-second, against the bare model with the same torch threads per process (local: settings.threads; ray: 1)
        reference = bare if row["engine"] == "local" else bare_one
        row["cpu_fraction_of_bare_model"] = round(row["sentences_per_cpu_s"] / reference["sentences_per_cpu_s"], 3)
    by_workers = {row["workers"]: row for row in rows if row["engine"] == "ray"}
    scaling = (
        round(by_workers[2]["documents_per_min"] / by_workers[1]["documents_per_min"], 2)
        if {1, 2} <= set(by_workers) and by_workers[1]["documents_per_min"]
        else None
    )
    result = {
        "machine": f"{platform.machine()} CPU, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}",
        "pages": n_pages,
        "threads": settings.threads,
        "load_average_1min": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "bare_model": bare,
        "bare_model_1_thread": bare_one,
        "engines": rows,
        "ray_2_over_1_workers": scaling,
        "notes": "local: one process, fetch threads + the pipeline (torch threads = VERACITY_THREADS); ray: a fetch actor and "
        "1 or 2 check actors of 1 CPU on a local 2-CPU cluster, each actor writing its results to its own shard, merged "
        "into SQLite by the driver at the end; actor start-up, model loading and the merge inside the timing.",
    }
    out = results_dir(args.quick or n_pages != 200)  # only the full run replaces the committed table
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (out / "batch.md").write_text(md + "\n")
    print(md)


def render(result: dict) -> str:
    bare = result["bare_model"]
    lines = [
        f"## Batch checking: {result['pages']} local pages ({result['machine']})",
        "",
        "| engine | documents | sentences | seconds | documents/min | sentences/s | of bare model (wall) | sentences per CPU-s | of bare model, same threads (CPU) | peak RSS per process (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in result["engines"]:
        rss = ", ".join(f"{k}: {v:.0f}" for k, v in sorted(row["peak_rss_mb"].items()))
        engine = row["engine"] if not row.get("workers") else f"ray, {_workers(row['workers'])}"
        lines.append(
            f"| {engine} | {row['documents']} | {row['sentences']} | {row['seconds']:.1f} | {row['documents_per_min']:.0f} "
            f"| {row['sentences_per_s']:.1f} | {row['fraction_of_bare_model']:.0%} | {row['sentences_per_cpu_s']:.1f} "
            f"| {row['cpu_fraction_of_bare_model']:.0%} | {rss} |"
        )
    one = result["bare_model_1_thread"]
    lines.append(
        f"| bare model (`Embedder.encode`, {result['threads']} threads) | | {bare['sentences']} | {bare['seconds']:.1f} | | {bare['sentences_per_s']:.1f} | 100% | {bare['sentences_per_cpu_s']:.1f} | 100% (local's reference) | |"
    )
    lines.append(
        f"| bare model, 1 thread | | {one['sentences']} | {one['seconds']:.1f} | | {one['sentences_per_s']:.1f} | {one['sentences_per_s'] / bare['sentences_per_s']:.0%} | {one['sentences_per_cpu_s']:.1f} | 100% (ray's reference) | |"
    )
    extra = [
        f"model load {r['model_load_s']} s (local, outside the timing)"
        for r in result["engines"]
        if "model_load_s" in r
    ]
    extra += [
        f"ray.init {r['ray_init_s']} s (once, outside the timing)" for r in result["engines"] if "ray_init_s" in r
    ][:1]
    extra.append(f"bare model timed {len(bare['seconds_each_run'])} times (s): {bare['seconds_each_run']}, median used")
    load = result["load_average_1min"]
    extra.append(
        f"1-minute load average {load['start']} at the start, {load['end']} at the end (other work shares these cores)"
    )
    lines += ["", "; ".join(extra) + "."]
    if result.get("ray_2_over_1_workers") is not None:
        lines += [
            "",
            f"Ray, 1 → 2 check workers: {result['ray_2_over_1_workers']:.2f}× the documents/min "
            "(2.00× would be perfect scaling; the cluster has 2 CPUs, shared with the driver and the fetch actor).",
        ]
    lines += ["", result["notes"]]
    return "\n".join(lines)


def _workers(n: int) -> str:
    return f"{n} check worker{'' if n == 1 else 's'}"


if __name__ == "__main__":
    main()
