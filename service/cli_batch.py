"""``veracity batch ...``: check many pages or texts, resumably, and export the results.

``veracity batch INPUT --out results.db`` is short for ``veracity batch run INPUT --out results.db``.
Progress goes to stderr (tqdm), exports to stdout, so both pipe.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

import click

from veracity.models.labels import VERDICT_LABELS
from veracity.service.batch import (
    BatchInputError,
    BatchOptions,
    DocResult,
    ResultsStore,
    RunStats,
    read_sources,
    run_batch,
)
from veracity.service.batch.export import write_claim_reviews, write_csv, write_jsonl
from veracity.service.batch.shards import MissingShards, merge_shards, shard_dir_for
from veracity.service.cli_common import cli_settings
from veracity.service.errors import database_problem
from veracity.service.fetch import FetchConfig

CLI_JOB = "default"


class DefaultGroup(click.Group):
    """A group that runs ``run`` when the first argument is not one of its commands."""

    default_command = "run"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup)
def batch() -> None:
    """Check many pages or texts at once: run, export, merge, worker.

    `veracity batch INPUT --out results.db` is short for `veracity batch run INPUT --out results.db`
    (name a file called run, export, merge or worker with the long form).
    """


@batch.command()
@click.argument("input_spec", metavar="INPUT")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="SQLite file for the results."
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process; ray: Ray Data actors.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=2,
    show_default=True,
    help="Ray: check actors (each loads the models once).",
)
@click.option(
    "--cpus-per-worker",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Ray: CPUs (and torch threads) per check actor.",
)
@click.option(
    "--ray-address", default=None, help="Ray: cluster address (default RAY_ADDRESS; unset starts a local cluster)."
)
@click.option(
    "--shards",
    "shard_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Ray: folder where workers write their results before the merge (default: --out's name + .shards; "
    "on a cluster, one every node shares).",
)
@click.option("--check-all", is_flag=True, help="Give a verdict for every sentence, check-worthy or not.")
@click.option("--force", is_flag=True, help="Re-check documents already in the results file.")
@click.option("--retry-errors", is_flag=True, help="Fetch and check again the documents that failed last time.")
@click.option("--chunk", type=click.IntRange(1), default=32, show_default=True, help="Documents per model batch.")
@click.option("--concurrency", type=click.IntRange(1), default=8, show_default=True, help="Pages fetched at once.")
@click.option(
    "--per-host", type=click.IntRange(1), default=2, show_default=True, help="Pages fetched at once from one host."
)
@click.option(
    "--delay",
    type=click.FloatRange(0),
    default=None,
    help="Seconds between two requests to one host (default VERACITY_BATCH_DELAY_S or 1).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=15.0,
    show_default=True,
    help="Seconds to wait on a connection or read.",
)
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=2,
    show_default=True,
    help="Retries after timeouts, resets, 429 and 5xx.",
)
@click.option(
    "--max-bytes", type=click.IntRange(1), default=5_000_000, show_default=True, help="Largest page downloaded."
)
@click.option("--max-redirects", type=click.IntRange(0), default=5, show_default=True)
@click.option(
    "--allow-private-urls",
    is_flag=True,
    default=None,
    help="Fetch private, loopback and link-local addresses (default VERACITY_ALLOW_PRIVATE_URLS).",
)
@click.option(
    "--lock-wait",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for another process writing the results file before giving up.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
def run(
    input_spec: str,
    out: Path,
    engine: str,
    workers: int,
    cpus_per_worker: int,
    ray_address: str | None,
    shard_dir: Path | None,
    check_all: bool,
    force: bool,
    retry_errors: bool,
    chunk: int,
    concurrency: int,
    per_host: int,
    delay: float | None,
    timeout: float,
    retries: int,
    max_bytes: int,
    max_redirects: int,
    allow_private_urls: bool | None,
    lock_wait: float,
    quiet: bool,
) -> None:
    """Check every document in INPUT and store the results in --out.

    INPUT is a file of URLs (one a line), a JSONL file of {"url": ...} or {"id": ..., "text": ...}
    records, a directory of .html/.txt files, or - for stdin. Stop it at any time: running the same
    command again finishes the rest, and nothing is checked or stored twice.
    """
    settings = cli_settings()
    try:
        sources, repeated = read_sources(input_spec, click.get_text_stream("stdin"))  # type: ignore[operator]  # click 8.5 types deprecated get_text_stream as object
    except BatchInputError as exc:
        raise click.BadParameter(str(exc), param_hint="INPUT") from None
    fetch = FetchConfig(
        timeout_s=timeout,
        max_redirects=max_redirects,
        max_bytes=max_bytes,
        retries=retries,
        concurrency=concurrency,
        per_host=per_host,
        delay_s=settings.batch_delay_s if delay is None else delay,
        allow_private=settings.allow_private_urls if allow_private_urls is None else allow_private_urls,
    )
    options = BatchOptions(
        check_all=check_all,
        fetch=fetch,
        chunk_docs=chunk,
        engine=engine,
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        ray_address=ray_address,
        shard_dir=str(shard_dir) if shard_dir else None,
    )
    say = (lambda *a, **k: None) if quiet else (lambda msg: click.echo(msg, err=True))
    store = _open_store(out, lock_wait)
    with store:
        # results a stopped Ray run left in shards count as done, before --force or --retry-errors look at them
        merged = merge_shards(store, shard_dir)
        if merged.files:
            say(str(merged))
        previous = store.ensure_job(CLI_JOB, {"check_all": check_all})
        if previous is not None and previous.get("check_all") != check_all and not force:
            say(
                f"note: {out} was checked with check_all={previous.get('check_all')}; documents already there keep those "
                "results (add --force to re-check them)"
            )
        added = store.register(CLI_JOB, sources)
        keys = [s.key for s in sources]
        if force:
            store.reset(CLI_JOB, keys)
        elif retry_errors:
            store.reset(CLI_JOB, keys, statuses=("failed",))
        pending = store.pending_sources(CLI_JOB, keys)
        done_before = len(sources) - len(pending)
        say(
            f"{len(sources)} documents in {input_spec}"
            + (f" ({repeated} repeated, skipped)" if repeated else "")
            + f": {added} new, {done_before} already done, {len(pending)} to check ({engine} engine)"
        )
        pipeline = None
        if engine == "local" and pending:
            from veracity.service.pipeline import build_pipeline

            say("loading models ...")
            try:
                pipeline = build_pipeline(settings)
            except FileNotFoundError as exc:
                raise click.ClickException(str(exc)) from None
        progress, close = _progress_bar(len(pending), quiet)
        store.set_job_status(CLI_JOB, "running")
        try:
            stats = run_batch(store, CLI_JOB, settings, options, pipeline=pipeline, progress=progress)
        except KeyboardInterrupt:
            close()
            merge_shards(store, shard_dir)  # what Ray workers finished before the interrupt counts as done
            raise click.ClickException(
                f"interrupted; run the same command again to finish the {store.progress(CLI_JOB)['pending']} documents left"
            ) from None
        except (ImportError, MissingShards) as exc:
            close()
            raise click.ClickException(str(exc)) from None
        except FileNotFoundError as exc:
            close()
            raise click.ClickException(str(exc)) from None
        close()
        store.set_job_status(CLI_JOB, "done" if store.progress(CLI_JOB)["pending"] == 0 else "running")
        if not quiet:
            click.echo(summary_table(store, stats), err=True)


def _open_store(path: Path, lock_wait: float = 30.0) -> ResultsStore:
    try:
        return ResultsStore(path, busy_timeout_s=lock_wait)
    except sqlite3.OperationalError as exc:
        problem = database_problem(exc)
        if problem is None:
            raise
        raise click.ClickException(f"cannot use {path}: {problem[1]}") from None
    except Exception as exc:  # not SQLite, or a newer schema
        raise click.ClickException(f"cannot use {path} for results ({exc}); give a new file name with --out") from None


def _progress_bar(total: int, quiet: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="doc", file=sys.stderr, disable=quiet or total == 0, dynamic_ncols=True, smoothing=0.1)
    started = time.perf_counter()
    counts = {"sentences": 0, "errors": 0}

    def update(results: list[DocResult]) -> None:
        counts["sentences"] += sum(r.document.get("sentences") or 0 for r in results)
        counts["errors"] += sum(1 for r in results if r.document["status"] == "failed")
        elapsed = max(time.perf_counter() - started, 1e-9)
        bar.set_postfix_str(
            f"{counts['sentences'] / elapsed:.1f} sentences/s, {counts['errors']} errors", refresh=False
        )
        bar.update(len(results))

    return update, bar.close


def summary_table(store: ResultsStore, stats: RunStats) -> str:
    p = store.progress(CLI_JOB)
    errors = store.error_counts(CLI_JOB)
    rows = [("checked", p["checked"]), ("failed", p["failed"]), ("skipped", p["skipped"]), ("pending", p["pending"])]
    lines = ["", "| documents | count |", "| --- | ---: |", *(f"| {name} | {n} |" for name, n in rows)]
    lines += [
        "",
        "| sentences | count |",
        "| --- | ---: |",
        f"| all | {p['sentences']} |",
        f"| check-worthy | {p['checkworthy']} |",
    ]
    lines += [f"| {label} | {p[label]} |" for label in VERDICT_LABELS]
    if errors:
        lines += ["", "| reason | documents |", "| --- | ---: |", *(f"| {code} | {n} |" for code, n in errors.items())]
    lines += [
        "",
        f"this run: {stats.documents} documents in {stats.elapsed_s:.1f} s ({stats.docs_per_min:.0f} documents/min, "
        f"{stats.sentences_per_s:.1f} sentences/s)",
    ]
    if p["pending"]:
        lines.append(f"{p['pending']} documents are still pending; run the same command again to finish them")
    return "\n".join(lines)


@batch.command()
@click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "claimreview"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one document a line with its sentences; csv: one sentence a row; claimreview: schema.org JSON-LD.",
)
@click.option("--job", default=None, help="Only this job (API databases hold several; default: all).")
@click.option("--out", "out", type=click.File("w", encoding="utf-8"), default="-", help="Output file (default stdout).")
def export(db: Path, fmt: str, job: str | None, out) -> None:
    """Write the results in DB as JSONL, CSV or ClaimReview JSON-LD."""
    store = _open_store(db)
    with store:
        documents = store.iter_documents(job)
        if fmt == "jsonl":
            write_jsonl(documents, out)
        elif fmt == "csv":
            write_csv(documents, out)
        else:
            write_claim_reviews(documents, out)


@batch.command()
@click.argument("db", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--shards",
    "shard_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder the Ray workers wrote to (default: DB's name + .shards).",
)
def merge(db: Path, shard_dir: Path | None) -> None:
    """Fold the results Ray workers left in shards into DB, after a run that was killed before its own merge.

    Safe at any time and to repeat: a document already in DB is never written twice, and a line a killed worker
    left half-written is skipped (that document stays pending; `batch run` checks it again). `batch run` does
    this by itself first, so you need it only to export before running again.
    """
    directory = shard_dir or shard_dir_for(db)
    if not directory.is_dir():  # a finished run merged and removed its shards: nothing to do, not an error
        click.echo(
            f"nothing to merge: there is no {directory} (if the workers wrote elsewhere, name it with --shards)",
            err=True,
        )
        return
    with _open_store(db) as store:
        report = merge_shards(store, directory)
        pending = store.progress(CLI_JOB)["pending"] if store.job(CLI_JOB) else 0
    click.echo(str(report), err=True)
    for path in report.busy:
        click.echo(f"{path} is still being written by a running worker; merge again when the run has stopped", err=True)
    if pending:
        click.echo(
            f"{pending} document{' is' if pending == 1 else 's are'} still pending; run the same `batch run` command "
            "again to check them",
            err=True,
        )


@batch.command()
@click.option(
    "--exit-with-parent", is_flag=True, help="Stop (after the current chunk) when the process that started it exits."
)
def worker(exit_with_parent: bool) -> None:
    """Run the API's queued batch jobs (from VERACITY_BATCH_DB) until none are left.

    The server starts one by itself; run it by hand to work through jobs without a server.
    """
    import logging

    from veracity.service.batch.worker import run_worker

    settings = cli_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s batch-worker: %(message)s")
    run_worker(settings, exit_with_parent=exit_with_parent)
