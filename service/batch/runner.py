"""Running a batch: every pending document of a job, fetched, checked chunk by chunk, and stored.

Two engines run the same stages: ``local`` (threads fetch, this process checks) and ``ray`` (Ray Data
``map_batches``: a fetch actor, then check actors that each load the models once; see ``ray_engine``). In both
the caller's process is the only writer to SQLite: the local engine writes each chunk, the Ray engine's actors
write shards that the caller merges (``shards``).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from veracity.service.batch.check import DocResult, acquire, check_pages
from veracity.service.batch.shards import merge_shards
from veracity.service.batch.sources import Source
from veracity.service.batch.store import ResultsStore
from veracity.service.fetch import FetchConfig, Fetcher, Page

if TYPE_CHECKING:
    from veracity.service.pipeline import Pipeline
    from veracity.service.settings import Settings


# --- running a batch --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    check_all: bool = False
    fetch: FetchConfig = field(default_factory=FetchConfig)
    chunk_docs: int = 32  # documents per check_many call: hundreds of sentences per embedding pass
    flush_s: float = 2.0  # check a partial chunk rather than wait longer than this for slow pages
    engine: str = "local"  # "local" or "ray"
    workers: int = 2  # ray: check actors, each loading the models once
    cpus_per_worker: int = 1  # ray: CPUs (and torch threads) per check actor
    fetch_workers: int = 1  # ray: fetch actors; the per-host limit applies within each
    ray_address: str | None = None  # ray: cluster address; None uses RAY_ADDRESS, else starts a local cluster
    shard_dir: str | None = None  # ray: where check actors write results; None: "<results file>.shards" beside it


@dataclass
class RunStats:
    documents: int = 0
    checked: int = 0
    failed: int = 0
    skipped: int = 0
    sentences: int = 0
    claims: int = 0
    elapsed_s: float = 0.0
    stopped: bool = False
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # per process: "local", or "ray-check-<pid>" ...
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process (Ray actors: since they started)

    def add(self, results: list[DocResult]) -> None:
        for r in results:
            self.documents += 1
            status = r.document["status"]
            if status in ("checked", "failed", "skipped"):
                setattr(self, status, getattr(self, status) + 1)
            self.sentences += r.document.get("sentences") or 0
            self.claims += r.document.get("checkworthy") or 0

    @property
    def docs_per_min(self) -> float:
        return self.documents / self.elapsed_s * 60 if self.elapsed_s else 0.0

    @property
    def sentences_per_s(self) -> float:
        return self.sentences / self.elapsed_s if self.elapsed_s else 0.0


Progress = Callable[[list[DocResult]], None]


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def cpu_seconds() -> float:
    """CPU time of this process, all threads: throughput per CPU-second is steadier than wall time on shared cores."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_batch(
    store: ResultsStore,
    job: str,
    settings: Settings,
    options: BatchOptions,
    *,
    pipeline: Pipeline | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunStats:
    """Check every pending document of ``job`` and store the results, chunk by chunk.

    Results a stopped Ray run left in shards are merged first, whichever engine runs now: a document whose
    result is already on disk is never checked again.
    """
    merge_shards(store, options.shard_dir)
    sources = store.pending_sources(job)
    if options.engine == "ray":
        from veracity.service.batch.ray_engine import _run_ray  # Ray stays an optional import

        return _run_ray(store, job, settings, options, sources, progress, should_stop)
    if options.engine != "local":
        raise ValueError(f"unknown engine {options.engine!r}; use local or ray")
    if pipeline is None:
        from veracity.service.pipeline import build_pipeline

        pipeline = build_pipeline(settings)
    return _run_local(store, job, pipeline, options, sources, progress, should_stop)


def _run_local(store, job, pipeline, options, sources, progress, should_stop) -> RunStats:
    stats = RunStats()
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    should_stop = should_stop or (lambda: False)
    window = options.chunk_docs + options.fetch.concurrency  # pages fetched ahead while the model works
    todo = iter(sources)
    inflight: dict[Future, Source] = {}
    chunk: list[tuple[str, Page]] = []
    chunk_since = 0.0

    def flush() -> None:
        results = check_pages(pipeline, chunk, options.check_all)
        store.save(job, results)
        stats.add(results)
        stats.elapsed_s = time.perf_counter() - started
        if progress:
            progress(results)
        chunk.clear()

    with (
        Fetcher(options.fetch) as fetcher,
        ThreadPoolExecutor(max(options.fetch.concurrency, 1), thread_name_prefix="fetch") as pool,
    ):

        def top_up() -> None:
            while len(inflight) < window:
                source = next(todo, None)
                if source is None:
                    return
                inflight[pool.submit(acquire, source, fetcher)] = source

        top_up()
        while inflight or chunk:
            if should_stop():
                stats.stopped = True
                for future in inflight:
                    future.cancel()
                break
            if inflight:
                done, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    if not chunk:
                        chunk_since = time.monotonic()
                    chunk.append((inflight.pop(future).key, future.result()))
                top_up()
            if chunk and (
                len(chunk) >= options.chunk_docs or not inflight or time.monotonic() - chunk_since > options.flush_s
            ):
                flush()
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_mb["local"] = peak_rss_mb()
    stats.cpu_s["local"] = round(cpu_seconds() - cpu_started, 2)
    return stats
