"""Shards: the files Ray check actors write their own results to, and the merge that folds them into the store.

With one SQLite writer, every result of a Ray run had to travel to the driver and wait its turn there, so adding
check workers stopped helping once the driver was busy. Now each check actor appends its documents to a shard of
its own (JSON lines, one document a line, in ``<results file>.shards/``) and sends the driver only an
acknowledgement; the driver merges the shards into the results file when the run ends, and any run (or
``veracity batch merge``) merges what a killed run left behind before it looks for pending documents.

A shard line holds exactly what ``ResultsStore.save`` writes for one document (the ``documents`` columns and the
``sentences`` rows, plus the job and when it was checked), so a merged document is the same row the local engine
would have written, and exports cannot tell the engines apart. Each line is flushed as it is written and the file
is fsynced once per chunk: a killed worker loses the chunk it was checking (as a killed local run does) and at
most the one line it was writing, which the merge skips; those documents stay ``pending`` and are checked again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from veracity.service.batch.check import DocResult
from veracity.service.batch.store import ResultsStore
from veracity.service.fetch import now_iso

log = logging.getLogger(__name__)

MERGE_DOCS = 200  # shard lines merged per transaction: a short write lock, few commits


def shard_dir_for(db_path: Path | str) -> Path:
    """The default shard directory: beside the results file, named after it, so two results files never share one."""
    return Path(str(db_path) + ".shards")


class MissingShards(Exception):
    """Workers acknowledged documents whose shard lines are not in the shard directory the driver reads."""


# --- writing: one shard per check actor ------------------------------------------------------------------------


class ShardWriter:
    """The shard of one check actor: a file no other process writes (host, process id and a random part in its
    name), appended one document a line, and locked while it is open so a merge never deletes it under the writer."""

    def __init__(self, directory: Path | str, job: str) -> None:
        self.job = job
        host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:40]
        name = f"{host}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        directory = Path(directory)
        self.path = directory / name
        # created under a name merges do not read, locked, then renamed: a merge never sees it unlocked
        opening = directory / f".{name}.new"
        directory.mkdir(parents=True, exist_ok=True)
        try:
            self._file: IO[str] = open(opening, "a", encoding="utf-8")
        except FileNotFoundError:  # a merge that emptied the folder removed it between mkdir and open
            directory.mkdir(parents=True, exist_ok=True)
            self._file = open(opening, "a", encoding="utf-8")
        fcntl.flock(self._file, fcntl.LOCK_EX)  # a fresh name: nobody else holds it, so this never waits
        opening.rename(self.path)

    def write(self, results: list[DocResult]) -> None:
        """Append a chunk's documents, flushing each line; one fsync per chunk, as SQLite commits once per chunk."""
        checked_at = now_iso()
        for r in results:
            document = {**r.document, "checked_at": checked_at}
            line = {"job": self.job, "key": r.key, "document": document, "sentences": r.sentences}
            self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()  # closing releases the lock


# --- reading and merging ---------------------------------------------------------------------------------------


@dataclass
class MergeReport:
    """What a merge did, for the CLI's one-line summary and for the run's check that nothing went missing."""

    files: int = 0  # shard files read
    merged: int = 0  # documents written to the results file
    already: int = 0  # lines for documents the results file already had finished (or a second line for one)
    partial: int = 0  # lines cut short by a killed worker: those documents stay pending and are checked again
    unknown: int = 0  # lines for a job or document this results file does not have
    busy: list[Path] = field(default_factory=list)  # files still being written: merged, left in place
    kept: list[Path] = field(default_factory=list)  # files left in place: busy ones, and those with unknown lines

    def __str__(self) -> str:
        text = f"merged {_count(self.merged, 'document')} from {_count(self.files, 'shard file')}"
        if self.already:
            text += f" ({self.already} already stored)"
        if self.partial:
            text += f"; {_count(self.partial, 'line')} cut short by a stopped worker: checked again by the next run"
        if self.unknown:
            text += f"; {_count(self.unknown, 'line')} for jobs or documents not in this results file, left in place"
        return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def read_shard(path: Path) -> Iterator[tuple[str, DocResult] | None]:
    """(job, result) for each whole line of a shard, and None for a line that cannot be read (a killed writer's
    last line, cut short)."""
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                yield record["job"], DocResult(record["key"], record["document"], record["sentences"])
            except (ValueError, KeyError, TypeError):
                yield None


def merge_shards(store: ResultsStore, directory: Path | str | None = None) -> MergeReport:
    """Fold every shard in ``directory`` (default: beside the results file) into ``store``; safe to run any time.

    Only documents still ``pending`` are written, so merging twice, or merging a document that is already stored,
    changes nothing. A shard is deleted once its lines are committed, unless its worker still holds it (it is
    merged again, harmlessly, next time) or it has lines for documents this results file does not know (merging
    into the wrong file must not lose them).
    """
    directory = Path(directory) if directory is not None else shard_dir_for(store.path)
    report = MergeReport()
    if not directory.is_dir():
        return report
    for path in sorted(directory.glob("*.jsonl")):
        try:
            handle = open(path, "r+b")  # opened for writing: NFS emulates flock with write locks
        except FileNotFoundError:  # merged and removed by another merge meanwhile
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                live = False
            except BlockingIOError:
                live = True
            report.files += 1
            unknown_before = report.unknown
            _merge_file(store, path, live, report)
            if live:
                report.busy.append(path)
            if live or report.unknown > unknown_before:
                report.kept.append(path)
            else:
                path.unlink(missing_ok=True)  # still under our lock: no writer can have it open
    if not report.kept:
        try:
            directory.rmdir()
        except OSError:  # something else in it, or already gone
            pass
    if report.files:
        log.info("%s (%s)", report, directory)
    return report


def _merge_file(store: ResultsStore, path: Path, live: bool, report: MergeReport) -> None:
    chunk: dict[str, list[DocResult]] = {}

    def flush() -> None:
        for job, results in chunk.items():
            merged, already, unknown = store.merge(job, results)
            report.merged += merged
            report.already += already
            report.unknown += unknown
        chunk.clear()

    jobs: dict[str, bool] = {}  # job -> in this results file
    pending = 0
    for item in read_shard(path):
        if item is None:
            if not live:  # a live writer may be halfway through this line; it is merged next time
                report.partial += 1
                log.warning("skipped a line cut short in %s; its document will be checked again", path)
            continue
        job, result = item
        if job not in jobs:
            jobs[job] = store.job(job) is not None
        if not jobs[job]:
            report.unknown += 1
            continue
        chunk.setdefault(job, []).append(result)
        pending += 1
        if pending >= MERGE_DOCS:
            flush()
            pending = 0
    flush()
