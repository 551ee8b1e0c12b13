"""Check many documents at once: read the inputs, fetch them, check them through the one Pipeline, store.

The batch path never copies the checking code: documents are grouped into chunks and each chunk goes
through ``Pipeline.check_many`` (one embedding pass, one verdict pass for all their claims), which is what
lets a batch approach the model's own throughput.

Resumable by construction: every input document gets a row in ``documents`` (status ``pending``) before
any work starts, and each chunk's results (its sentences, the document's status and counts) are written
in one transaction. A run killed at any point leaves whole chunks done and the rest ``pending``; running
it again picks up exactly the pending rows, and ``sentences`` is keyed by (document, index), so nothing
is lost or written twice.

Two engines run the same stages: ``local`` (threads fetch, this process checks) and ``ray`` (Ray Data
``map_batches``: a fetch actor, then check actors that each load the models once). In both the caller's
process is the only writer to SQLite.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import sqlite_utils

from veracity.service.fetch import FILE_TYPES, FetchConfig, Fetcher, Page, now_iso, page_from_file, url_problem

if TYPE_CHECKING:
    from veracity.service.pipeline import CheckResult, Pipeline
    from veracity.service.settings import Settings

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FINISHED = ("checked", "failed", "skipped")
VERDICT_COLUMNS = ("supported", "contradicted", "unsupported", "not_checkworthy")
TOP_EVIDENCE = 3  # evidence ids kept per sentence: enough to audit a verdict without copying the corpus


class BatchInputError(ValueError):
    """The input cannot be read as URLs, JSONL records or a directory; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Source:
    """One input document: a URL to fetch, a text to check as is, or a local file."""

    key: str  # stable id across runs: the URL, the record's id, or the file's path inside the directory
    url: str | None = None
    text: str | None = None
    path: str | None = None
    title: str | None = None


# --- reading inputs -------------------------------------------------------------------------------------


def read_sources(spec: str, stdin: TextIO | None = None) -> tuple[list[Source], int]:
    """Sources from a file of URLs, a JSONL file, a directory of .html/.txt files, or ``-`` (stdin).

    Returns the sources in input order and how many repeated keys were dropped.
    """
    if spec == "-":
        return _dedupe(_parse_lines((stdin or sys.stdin).read(), "stdin"))
    path = Path(spec)
    if path.is_dir():
        return _dedupe(_directory_sources(path))
    if not path.is_file():
        raise BatchInputError(
            f"{spec} does not exist; give a file of URLs (one a line), a JSONL file, a directory, or - for stdin"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BatchInputError(
            f"{spec} is not UTF-8 text; a list of URLs or JSONL records must be UTF-8 (to check HTML files, give their directory)"
        ) from None
    return _dedupe(_parse_lines(text, path.name))


def _directory_sources(root: Path) -> list[Source]:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    sources = [
        Source(key=p.relative_to(root).as_posix(), path=str(p.resolve()))
        for p in files
        if p.suffix.lower() in {*FILE_TYPES, ".pdf"}
    ]
    if not sources:
        raise BatchInputError(f"{root} holds no .html, .htm or .txt files; put the pages to check there")
    return sources


def _parse_lines(text: str, name: str) -> list[Source]:
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not lines:
        raise BatchInputError(f'{name} is empty; give one URL a line, or JSONL records with "url" or "id" and "text"')
    if lines[0][1].startswith("{"):
        return [_record_source(n, line, name) for n, line in lines]
    sources = []
    for n, line in lines:
        problem = url_problem(line, allow_private=True)
        if problem:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise BatchInputError(
                f"{name} line {n}: {shown!r} is not a URL; the input must hold one http(s) URL a line, or JSONL records"
            )
        sources.append(Source(key=line, url=line))
    return sources


def _record_source(n: int, line: str, name: str) -> Source:
    hint = 'each line must be a JSON object with "url", or "text" (and an optional "id" and "title")'
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"{name} line {n}: not valid JSON ({exc.msg}); {hint}") from None
    if not isinstance(record, dict):
        raise BatchInputError(f"{name} line {n}: a JSON {type(record).__name__}, not an object; {hint}")
    title = record.get("title") if isinstance(record.get("title"), str) else None
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise BatchInputError(f'{name} line {n}: "id" must be a string or a number')
    if isinstance(record.get("url"), str) and "text" not in record:
        problem = url_problem(record["url"], allow_private=True)
        if problem:
            raise BatchInputError(f"{name} line {n}: {problem}")
        return Source(key=str(record_id) if record_id is not None else record["url"], url=record["url"], title=title)
    if isinstance(record.get("text"), str):
        return Source(
            key=str(record_id) if record_id is not None else text_key(record["text"]), text=record["text"], title=title
        )
    raise BatchInputError(f'{name} line {n}: no "url" or "text" string; {hint}')


def text_key(text: str) -> str:
    """A stable id for a text given without one, so a re-run finds it again."""
    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _dedupe(sources: list[Source]) -> tuple[list[Source], int]:
    seen: set[str] = set()
    unique = []
    for s in sources:
        if s.key not in seen:
            seen.add(s.key)
            unique.append(s)
    return unique, len(sources) - len(unique)


# --- the results store ----------------------------------------------------------------------------------


class ResultsStore:
    """``jobs``, ``documents`` (one row per input document) and ``sentences`` in one SQLite file.

    The CLI writes one job (``default``) per results file; the API keeps every submitted job in
    ``settings.batch_db``. WAL mode lets the API read progress while a worker writes.
    """

    def __init__(self, path: Path | str, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite_utils.Database(self.path)
        self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.journal_mode != "wal":
            self.db.enable_wal()
        self._ensure_schema()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction that takes the write lock up front, so two writers wait instead of failing."""
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            raise
        else:
            self.db.conn.execute("COMMIT")

    def _ensure_schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Veracity (schema {version}); upgrade Veracity to read it"
            )
        if version == SCHEMA_VERSION:
            return
        with self._write():
            self.db.table("jobs").create(
                {
                    "id": str,
                    "origin": str,
                    "status": str,
                    "options": str,
                    "error": str,
                    "created_at": str,
                    "started_at": str,
                    "finished_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            columns: dict[str, Any] = {
                "id": int,
                "job": str,
                "key": str,
                "position": int,
                "url": str,
                "input_text": str,
                "input_path": str,
                "input_title": str,
                "status": str,
                "error_code": str,
                "error": str,
                "http_status": int,
                "final_url": str,
                "content_type": str,
                "encoding": str,
                "title": str,
                "published": str,
                "text_sha256": str,
                "chars": int,
                "attempts": int,
                "redirects": int,
                "sentences": int,
                "checkworthy": int,
                **{c: int for c in VERDICT_COLUMNS},
                "model": str,
                "fetched_at": str,
                "checked_at": str,
                "seq": int,
            }
            self.db.table("documents").create(columns, pk="id", not_null={"job", "key", "status"}, if_not_exists=True)
            self.db.table("documents").create_index(["job", "key"], unique=True, if_not_exists=True)
            self.db.table("documents").create_index(["job", "status", "position"], if_not_exists=True)
            self.db.table("documents").create_index(["job", "seq"], if_not_exists=True)
            self.db.table("sentences").create(
                {
                    "document_id": int,
                    "idx": int,
                    "start": int,
                    "end": int,
                    "text": str,
                    "kind": str,
                    "checkworthy": int,
                    "checkworthy_reason": str,
                    "label": str,
                    "confidence": float,
                    "method": str,
                    "evidence_ids": str,
                    "top_similarity": float,
                },
                pk=("document_id", "idx"),
                foreign_keys=[("document_id", "documents", "id")],
                if_not_exists=True,
            )
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # jobs

    def ensure_job(self, job: str, options: dict[str, Any], origin: str = "cli") -> dict[str, Any] | None:
        """Create the job row, or update its options; returns the options it had before, if any."""
        with self._write():
            previous = self.job(job)
            if previous is None:
                self.db.table("jobs").insert(
                    {
                        "id": job,
                        "origin": origin,
                        "status": "queued",
                        "options": json.dumps(options),
                        "created_at": now_iso(),
                    }
                )
                return None
            self.db.table("jobs").update(job, {"options": json.dumps(options)})
        return json.loads(previous["options"] or "{}")

    def create_job(self, job: str, sources: list[Source], options: dict[str, Any], origin: str = "api") -> None:
        """A job and all its documents in one transaction: it exists whole or not at all."""
        with self._write():
            self.db.table("jobs").insert(
                {
                    "id": job,
                    "origin": origin,
                    "status": "queued",
                    "options": json.dumps(options),
                    "created_at": now_iso(),
                }
            )
            self._insert_sources(job, sources)

    def job(self, job: str) -> dict[str, Any] | None:
        rows = list(self.db.table("jobs").rows_where("id = ?", [job]))
        return rows[0] if rows else None

    def next_job(self) -> dict[str, Any] | None:
        """The oldest job that is queued, or was running when its worker stopped."""
        rows = list(
            self.db.table("jobs").rows_where("status in ('queued', 'running')", order_by="created_at, rowid", limit=1)
        )
        return rows[0] if rows else None

    def set_job_status(self, job: str, status: str, error: str | None = None) -> None:
        changes: dict[str, Any] = {"status": status, "error": error}
        if status == "running":
            changes["started_at"] = now_iso()
        if status in ("done", "failed"):
            changes["finished_at"] = now_iso()
        with self._write():
            self.db.table("jobs").update(job, changes)

    # documents

    def register(self, job: str, sources: Iterable[Source]) -> int:
        """Add the sources not yet in the job (by key) as pending; returns how many were new."""
        with self._write():
            return self._insert_sources(job, list(sources))

    def _insert_sources(self, job: str, sources: list[Source]) -> int:
        before = self.db.execute(
            "select count(*), coalesce(max(position), -1) from documents where job = ?", [job]
        ).fetchone()
        rows = [
            {
                "job": job,
                "key": s.key,
                "position": before[1] + 1 + i,
                "url": s.url,
                "input_text": s.text,
                "input_path": s.path,
                "input_title": s.title,
                "status": "pending",
            }
            for i, s in enumerate(sources)
        ]
        if rows:
            self.db.table("documents").insert_all(rows, ignore=True, batch_size=500)
        after = self.db.execute("select count(*) from documents where job = ?", [job]).fetchone()[0]
        return after - before[0]

    def reset(self, job: str, keys: Iterable[str] | None = None, statuses: tuple[str, ...] = FINISHED) -> int:
        """Mark finished documents pending again (``--force``, ``--retry-errors``); old sentences stay until replaced."""
        marks = ",".join("?" for _ in statuses)
        sql = f"update documents set status = 'pending' where job = ? and status in ({marks})"
        with self._write():
            if keys is None:
                return self.db.execute(sql, [job, *statuses]).rowcount
            total = 0
            keys = list(keys)
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                total += self.db.execute(
                    f"{sql} and key in ({','.join('?' for _ in part)})", [job, *statuses, *part]
                ).rowcount
            return total

    def pending_sources(self, job: str, keys: Iterable[str] | None = None) -> list[Source]:
        rows = self.db.execute(
            "select key, url, input_text, input_path, input_title from documents where job = ? and status = 'pending' order by position",
            [job],
        ).fetchall()
        wanted = set(keys) if keys is not None else None
        return [
            Source(key=r[0], url=r[1], text=r[2], path=r[3], title=r[4])
            for r in rows
            if wanted is None or r[0] in wanted
        ]

    def save(self, job: str, results: list[DocResult]) -> None:
        """Write a chunk of results in one transaction: sentences replaced, document rows finished."""
        if not results:
            return
        with self._write():
            ids = dict(
                self.db.execute(
                    f"select key, id from documents where job = ? and key in ({','.join('?' for _ in results)})",
                    [job, *(r.key for r in results)],
                ).fetchall()
            )
            seq = self.db.execute("select coalesce(max(seq), 0) from documents where job = ?", [job]).fetchone()[0]
            checked_at = now_iso()
            sentence_rows: list[dict[str, Any]] = []
            for r in results:
                doc_id = ids.get(r.key)
                if doc_id is None:  # not registered: a caller bug, never silently dropped
                    raise KeyError(f"document {r.key!r} is not part of job {job!r}")
                seq += 1
                self.db.execute("delete from sentences where document_id = ?", [doc_id])
                self.db.table("documents").update(doc_id, {**r.document, "checked_at": checked_at, "seq": seq})
                sentence_rows.extend({"document_id": doc_id, **s} for s in r.sentences)
            if sentence_rows:
                self.db.table("sentences").insert_all(sentence_rows, batch_size=500)

    def progress(self, job: str) -> dict[str, int]:
        counts = {"total": 0, "pending": 0, "checked": 0, "failed": 0, "skipped": 0}
        for status, n in self.db.execute(
            "select status, count(*) from documents where job = ? group by status", [job]
        ).fetchall():
            counts[status] = n
            counts["total"] += n
        sums = self.db.execute(
            f"select coalesce(sum(sentences), 0), coalesce(sum(checkworthy), 0), {', '.join(f'coalesce(sum({c}), 0)' for c in VERDICT_COLUMNS)} "
            "from documents where job = ? and status = 'checked'",
            [job],
        ).fetchone()
        counts.update(zip(("sentences", "checkworthy", *VERDICT_COLUMNS), sums))
        return counts

    def error_counts(self, job: str | None = None) -> dict[str, int]:
        where, args = ("where job = ? and", [job]) if job else ("where", [])
        rows = self.db.execute(
            f"select error_code, count(*) from documents {where} error_code is not null group by error_code order by 2 desc",
            args,
        )
        return dict(rows.fetchall())

    def iter_documents(self, job: str | None = None, page: int = 200) -> Iterator[dict[str, Any]]:
        """Every finished document in input order, read a page at a time so exports stay small in memory."""
        where, args = ("job = ? and", [job]) if job else ("", [])
        after = 0
        while True:
            ids = [
                r[0]
                for r in self.db.execute(
                    f"select id from documents where {where} status != 'pending' and id > ? order by id limit ?",
                    [*args, after, page],
                )
            ]
            if not ids:
                return
            after = ids[-1]
            yield from self._with_sentences(
                self._rows(f"select * from documents where id in ({','.join('?' for _ in ids)}) order by id", ids)
            )

    def documents(self, job: str, after_seq: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Finished documents in the order they finished, for paging through a running job's results."""
        rows = self._rows(
            "select * from documents where job = ? and status != 'pending' and seq > ? order by seq limit ?",
            [job, after_seq, limit],
        )
        return self._with_sentences(rows)

    def _rows(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _with_sentences(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sentences: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
        ids = list(sentences)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for s in self._rows(
                f"select * from sentences where document_id in ({','.join('?' for _ in part)}) order by document_id, idx",
                part,
            ):
                sentences[s["document_id"]].append(s)
        return [{**document_json(row, sentences[row["id"]]), "seq": row["seq"]} for row in rows]


def document_json(row: dict[str, Any], sentences: list[dict[str, Any]]) -> dict[str, Any]:
    """The one JSON shape of a finished document: API results pages and ``batch export --format jsonl``."""
    return {
        "id": row["key"],
        "job": row["job"],
        "url": row["url"],
        "final_url": row["final_url"],
        "status": row["status"],
        "error": {"code": row["error_code"], "message": row["error"]} if row["error_code"] else None,
        "http_status": row["http_status"],
        "title": row["title"] or row["input_title"],
        "published": row["published"],
        "text_sha256": row["text_sha256"],
        "fetched_at": row["fetched_at"],
        "checked_at": row["checked_at"],
        "model": json.loads(row["model"]) if row["model"] else None,
        "counts": {
            "sentences": row["sentences"] or 0,
            "checkworthy": row["checkworthy"] or 0,
            **{c: row[c] or 0 for c in VERDICT_COLUMNS},
        },
        "sentences": [
            {
                "index": s["idx"],
                "start": s["start"],
                "end": s["end"],
                "text": s["text"],
                "kind": s["kind"],
                "checkworthy": bool(s["checkworthy"]),
                "checkworthy_reason": s["checkworthy_reason"],
                "label": s["label"],
                "confidence": s["confidence"],
                "method": s["method"],
                "evidence_ids": json.loads(s["evidence_ids"] or "[]"),
                "top_similarity": s["top_similarity"],
            }
            for s in sentences
        ],
    }


# --- checking a chunk -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocResult:
    """What a chunk produces for one document: columns for its row, and its sentence rows."""

    key: str
    document: dict[str, Any]
    sentences: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps([self.key, self.document, self.sentences], ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> DocResult:
        key, document, sentences = json.loads(data)
        return cls(key, document, sentences)


def acquire(source: Source, fetcher: Fetcher, body: bytes | None = None) -> Page:
    """Turn a source into a page of text: fetch a URL, extract a file, or take a record's text as is."""
    try:
        if source.url is not None:
            return fetcher.fetch(source.url)
        if source.path is not None:
            return page_from_file(Path(source.path), source.key, body)
        if not (source.text or "").strip():
            return Page(
                None,
                "failed",
                error_code="no_text",
                error=f'record {source.key!r} has an empty "text"; give the text to check',
            )
        return Page(None, "ok", text=source.text, title=source.title)
    except Exception as exc:  # a bug must cost one document, not the batch
        log.exception("could not acquire %s", source.key)
        return Page(
            source.url, "failed", error_code="internal_error", error=f"{type(exc).__name__}: {exc}; please report this"
        )


def _page_columns(page: Page) -> dict[str, Any]:
    return {
        "status": page.status if page.status != "ok" else "checked",
        "error_code": page.error_code,
        "error": page.error,
        "http_status": page.http_status,
        "final_url": page.final_url,
        "content_type": page.content_type,
        "encoding": page.encoding,
        "title": page.title,
        "published": page.published,
        "text_sha256": page.text_sha256,
        "chars": len(page.text) if page.text is not None else None,
        "attempts": page.attempts,
        "redirects": page.redirects,
        "fetched_at": page.fetched_at,
        "sentences": 0,
        "checkworthy": 0,
        **{c: 0 for c in VERDICT_COLUMNS},
    }


def _sentence_rows(result: CheckResult) -> list[dict[str, Any]]:
    rows = []
    for s in result.sentences:
        v = s.verdict
        rows.append(
            {
                "idx": s.segment.index,
                "start": s.segment.start,
                "end": s.segment.end,
                "text": s.segment.text,
                "kind": s.segment.kind,
                "checkworthy": int(s.checkworthiness.checkworthy),
                "checkworthy_reason": s.checkworthiness.reason,
                "label": v.label if v else None,
                "confidence": v.confidence if v else None,
                "method": v.method if v else None,
                "evidence_ids": json.dumps([e.evidence.id for e in v.evidence[:TOP_EVIDENCE]]) if v else "[]",
                "top_similarity": round(max((e.evidence.similarity for e in v.evidence), default=0.0), 4)
                if v
                else None,
            }
        )
    return rows


def check_pages(pipeline: Pipeline, pages: list[tuple[str, Page]], check_all: bool = False) -> list[DocResult]:
    """Check every page that has text in ONE ``check_many`` call; pages without text pass through."""
    model = json.dumps(pipeline.describe(), sort_keys=True)
    with_text = [(key, page) for key, page in pages if page.status == "ok"]
    checked: dict[str, CheckResult | Exception] = {}
    if with_text:
        try:
            results = pipeline.check_many([p.text or "" for _, p in with_text], check_all=check_all)
            checked = {key: r for (key, _), r in zip(with_text, results)}
        except Exception:  # find the one document that breaks the chunk, check the others
            log.exception("a chunk of %d documents failed; checking them one at a time", len(with_text))
            for key, page in with_text:
                try:
                    checked[key] = pipeline.check(page.text or "", check_all=check_all)
                except Exception as exc:
                    checked[key] = exc
    out = []
    for key, page in pages:
        columns = _page_columns(page)
        result = checked.get(key)
        if isinstance(result, Exception):
            columns.update(
                status="failed",
                error_code="check_error",
                error=f"checking failed ({type(result).__name__}: {result}); please report this",
            )
            out.append(DocResult(key, columns))
        elif result is not None:
            summary = result.summary
            columns.update(
                model=model,
                sentences=len(result.sentences),
                checkworthy=sum(1 for s in result.sentences if s.verdict is not None),
                **{c: summary.get(c, 0) for c in VERDICT_COLUMNS},
            )
            out.append(DocResult(key, columns, _sentence_rows(result)))
        else:
            out.append(DocResult(key, columns))
    return out


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
    """Check every pending document of ``job`` and store the results, chunk by chunk."""
    sources = store.pending_sources(job)
    if options.engine == "ray":
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
    def __init__(self, settings: Settings, check_all: bool) -> None:
        from veracity.service.pipeline import build_pipeline

        self.pipeline = build_pipeline(settings)
        self.check_all = check_all

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        pages = [(str(k), Page(**json.loads(p))) for k, p in zip(batch["key"], batch["page"])]
        results = check_pages(self.pipeline, pages, self.check_all)
        n = len(results)
        return {
            "result": np.array([r.to_json() for r in results], dtype=object),
            "worker": np.array([f"ray-check-{os.getpid()}"] * n, dtype=object),
            "peak_rss_mb": np.array([peak_rss_mb()] * n),
            "cpu_s": np.array([cpu_seconds()] * n),
            "fetch_worker": batch["fetch_worker"],
            "fetch_cpu_s": batch["fetch_cpu_s"],
            "fetch_rss_mb": batch["fetch_rss_mb"],
        }


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


def _stream(ds) -> Iterator[dict[str, Any]]:
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
    open_store(settings).close()  # build the default corpus here, once, not in every actor
    started_ray = _ray_init(options)
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
            fn_constructor_kwargs={"settings": worker_settings, "check_all": options.check_all},
            batch_size=options.chunk_docs,
            compute=ActorPoolStrategy(size=options.workers),
            num_cpus=options.cpus_per_worker,
        )
        for batch in _stream(ds):
            results = [DocResult.from_json(r) for r in batch["result"]]
            store.save(job, results)
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
        if started_ray:
            ray.shutdown()
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_mb["driver"] = peak_rss_mb()
    stats.cpu_s["driver"] = round(cpu_seconds() - cpu_started, 2)
    return stats
