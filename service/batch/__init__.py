"""Check many documents at once: read the inputs, fetch them, check them through the one Pipeline, store.

The batch path never copies the checking code: documents are grouped into chunks and each chunk goes
through ``Pipeline.check_many`` (one embedding pass, one verdict pass for all their claims), which is what
lets a batch approach the model's own throughput.

One module per step: ``sources`` (reading inputs), ``store`` (the results file and its schema), ``check``
(checking a chunk), ``runner`` (the local engine and ``run_batch``), ``ray_engine`` (the optional Ray
engine), ``shards`` (the files Ray workers write their results to, and their merge), ``export`` (JSONL, CSV,
ClaimReview) and ``worker`` (the process that runs API jobs). The names below are the ones callers use;
importing them loads no models and not Ray.
"""

from veracity.service.batch.check import DocResult
from veracity.service.batch.runner import BatchOptions, RunStats, cpu_seconds, peak_rss_mb, run_batch
from veracity.service.batch.shards import MergeReport, merge_shards
from veracity.service.batch.sources import BatchInputError, Source, read_sources, text_key
from veracity.service.batch.store import FINISHED, ResultsStore, TooManyJobs, document_json

__all__ = [
    "FINISHED",
    "BatchInputError",
    "BatchOptions",
    "DocResult",
    "MergeReport",
    "ResultsStore",
    "RunStats",
    "Source",
    "TooManyJobs",
    "cpu_seconds",
    "document_json",
    "merge_shards",
    "peak_rss_mb",
    "read_sources",
    "run_batch",
    "text_key",
]
