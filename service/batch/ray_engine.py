"""The Ray engine: the same fetch and check stages as the local engine, as Ray Data actors.

Check actors write their results to shards of their own (``shards``) and send the driver a few numbers per
document, so the driver never holds or writes results; it merges the shards into the results file at the end.

Ray is an optional extra (``veracity[ray]``): nothing here imports it until a batch runs with
``--engine ray``, so importing this module costs no more than the local engine.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veracity.service.batch.check import DocResult, acquire, check_pages
from veracity.service.batch.runner import BatchOptions, RunStats, cpu_seconds, peak_rss_mb
from veracity.service.batch.shards import MissingShards, ShardWriter, merge_shards, shard_dir_for
from veracity.service.batch.sources import Source
from veracity.service.fetch import FILE_TYPES, FetchConfig, Fetcher, Page

if TYPE_CHECKING:
    from veracity.service.settings import Settings


# --- the Ray engine -----------------------------------------------------------------------------------------
# Stages are plain classes: Ray Data builds one per actor (``map_batches`` with ``ActorPoolStrategy``), so the
# models load once per check actor and the fetcher's per-host limiter lives as long as its fetch actor.


class FetchStage:
    def __init__(self, config: FetchConfig) -> None:
        self.fetcher = Fetcher(config)
        self.pool = ThreadPoolExecutor(max(config.concurrency, 1), thread_name_prefix="fetch")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        sources = [
            Source(key=str(k), url=_opt(u), text=_opt(t), path=_opt(p), title=_opt(ti))
            for k, u, t, p, ti in zip(batch["key"], batch["url"], batch["text"], batch["path"], batch["title"])
        ]
        bodies = [_opt(b) for b in batch["body"]]
        pages = list(self.pool.map(lambda sb: acquire(sb[0], self.fetcher, sb[1]), zip(sources, bodies)))
        n = len(pages)
        return {
            "key": np.array([s.key for s in sources], dtype=object),
            "page": np.array([json.dumps(asdict(p)) for p in pages], dtype=object),
            "fetch_worker": np.array([f"ray-fetch-{os.getpid()}"] * n, dtype=object),
            "fetch_cpu_s": np.array([cpu_seconds()] * n),
            "fetch_rss_mb": np.array([peak_rss_mb()] * n),
        }


class CheckStage:
    def __init__(self, settings: Settings, check_all: bool, job: str, shard_dir: str) -> None:
        from veracity.service.pipeline import build_pipeline

        self.pipeline = build_pipeline(settings)
        self.check_all = check_all
        self.job, self.shard_dir = job, shard_dir
        self.shard: ShardWriter | None = None  # opened with the first chunk: an actor given no work leaves no file

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        pages = [(str(k), Page(**json.loads(p))) for k, p in zip(batch["key"], batch["page"])]
        results = check_pages(self.pipeline, pages, self.check_all)
        if self.shard is None:
            self.shard = ShardWriter(self.shard_dir, self.job)
        self.shard.write(results)  # before the acknowledgement: a document the driver counts is on disk
        n = len(results)
        return {  # the acknowledgement: what progress and the run's counts need, not the results
            "key": np.array([r.key for r in results], dtype=object),
            "status": np.array([r.document["status"] for r in results], dtype=object),
            "sentences": np.array([r.document.get("sentences") or 0 for r in results]),
            "checkworthy": np.array([r.document.get("checkworthy") or 0 for r in results]),
            "worker": np.array([f"ray-check-{os.getpid()}"] * n, dtype=object),
            "peak_rss_mb": np.array([peak_rss_mb()] * n),
            "cpu_s": np.array([cpu_seconds()] * n),
            "fetch_worker": batch["fetch_worker"],
            "fetch_cpu_s": batch["fetch_cpu_s"],
            "fetch_rss_mb": batch["fetch_rss_mb"],
        }

    def __del__(self) -> None:
        shard = getattr(self, "shard", None)
        if shard is not None:
            shard.close()


def _acknowledged(batch: dict[str, Any]) -> list[DocResult]:
    """The driver's view of a checked chunk: each document's key, status and counts; its rows are in a shard."""
    return [
        DocResult(str(key), {"status": str(status), "sentences": int(sentences), "checkworthy": int(checkworthy)})
        for key, status, sentences, checkworthy in zip(
            batch["key"], batch["status"], batch["sentences"], batch["checkworthy"]
        )
    ]


def _opt(value: Any) -> Any:
    """Ray Data hands missing values back as None or NaN (of a NumPy type) depending on the column's type."""
    if value is None or isinstance(value, (bytes, str)):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _import_ray() -> Any:
    """Ray is an optional extra: say how to get it instead of a bare ModuleNotFoundError."""
    try:
        import ray
    except ModuleNotFoundError:
        raise ImportError(
            "The Ray engine needs Ray, an optional extra: pip install 'veracity[ray]' (or run without --engine ray)"
        ) from None
    return ray


def _ray_init(options: BatchOptions) -> bool:
    """Connect to the cluster named by --ray-address or RAY_ADDRESS, else start a local one; True if we started it."""
    ray = _import_ray()

    if ray.is_initialized():
        return False
    address = options.ray_address or os.environ.get("RAY_ADDRESS")
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    else:
        ray.init(
            num_cpus=options.workers * options.cpus_per_worker,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
            object_store_memory=256 * 1024 * 1024,
        )
    return True


def _stream(ds) -> Generator[dict[str, Any]]:
    """Results as Ray Data produces them; Ray's warning that a small batch leaves an actor idle is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)
        yield from ds.iter_batches(batch_size=None, batch_format="numpy")


def _run_ray(store, job, settings, options, sources, progress, should_stop) -> RunStats:
    ray = _import_ray()
    from ray.data import ActorPoolStrategy, DataContext, Dataset

    from veracity.service.pipeline import open_store

    stats = RunStats()
    started = time.perf_counter()
    cpu_started = cpu_seconds()
    if not sources:
        return stats
    shard_dir = Path(options.shard_dir) if options.shard_dir else shard_dir_for(store.path)
    open_store(settings).close()  # build the default corpus here, once, not in every actor
    started_ray = _ray_init(options)
    acknowledged: list[str] = []
    try:
        context = DataContext.get_current()
        context.enable_progress_bars = False
        items = []
        for s in sources:
            body = Path(s.path).read_bytes() if s.path and Path(s.path).suffix.lower() in FILE_TYPES else None
            items.append({"key": s.key, "url": s.url, "text": s.text, "path": s.path, "title": s.title, "body": body})
        worker_settings = replace(settings, threads=options.cpus_per_worker, build_corpus=False)
        # enough blocks that every check actor gets work, and no block larger than a chunk
        blocks = min(len(items), max(options.workers * 2, -(-len(items) // max(options.chunk_docs, 1))))
        ds: Dataset = ray.data.from_items(items, override_num_blocks=blocks)
        ds = ds.map_batches(
            FetchStage,
            fn_constructor_kwargs={"config": options.fetch},
            batch_size=options.chunk_docs,
            compute=ActorPoolStrategy(size=options.fetch_workers),
            num_cpus=0,
        )
        ds = ds.map_batches(
            CheckStage,
            fn_constructor_kwargs={
                "settings": worker_settings,
                "check_all": options.check_all,
                "job": job,
                "shard_dir": str(shard_dir.absolute()),
            },
            batch_size=options.chunk_docs,
            compute=ActorPoolStrategy(size=options.workers),
            num_cpus=options.cpus_per_worker,
        )
        batches = _stream(ds)
        try:
            for batch in batches:
                results = _acknowledged(batch)
                acknowledged.extend(r.key for r in results)
                stats.add(results)
                for prefix in ("", "fetch_"):
                    workers = batch[f"{prefix}worker"]
                    rss_column = batch["peak_rss_mb" if not prefix else "fetch_rss_mb"]
                    for worker, rss, cpu in zip(workers, rss_column, batch[f"{prefix}cpu_s"]):
                        stats.peak_rss_mb[str(worker)] = max(float(rss), stats.peak_rss_mb.get(str(worker), 0.0))
                        stats.cpu_s[str(worker)] = round(max(float(cpu), stats.cpu_s.get(str(worker), 0.0)), 2)
                stats.elapsed_s = time.perf_counter() - started
                if progress:
                    progress(results)
                if should_stop and should_stop():
                    stats.stopped = True
                    break
        finally:
            batches.close()  # stops the pipeline now if we left early, rather than when it is collected
    finally:
        if started_ray:
            ray.shutdown()
    _merge_after_run(store, job, shard_dir, acknowledged)
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_mb["driver"] = peak_rss_mb()
    stats.cpu_s["driver"] = round(cpu_seconds() - cpu_started, 2)
    return stats


def _merge_after_run(store, job: str, shard_dir: Path, acknowledged: list[str], wait_s: float = 10.0) -> None:
    """Merge the run's shards, waiting a little for actors that Ray is still stopping to let go of theirs.

    A shard still held is merged all the same and only kept on disk; the next run or ``batch merge`` removes it.
    Every acknowledged document must now be stored: if not, the workers wrote where this process cannot read.
    """
    deadline = time.monotonic() + wait_s
    report = merge_shards(store, shard_dir)
    while report.busy and time.monotonic() < deadline:
        time.sleep(0.2)
        report = merge_shards(store, shard_dir)
    missing = store.pending_sources(job, acknowledged)
    if missing:
        raise MissingShards(
            f"{len(missing)} documents were checked by Ray workers but their results are not in {shard_dir}: "
            "workers on other machines wrote them to that path on their own disks. Copy those files into "
            f"{shard_dir} here and run `veracity batch merge {store.path}`; next time give --shards a directory "
            "every node shares (the same path on each)."
        )
