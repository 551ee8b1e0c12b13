"""Schema changes as named functions, each applied once and recorded in ``_migrations``.

A copy of the database anywhere replays to the current schema; nothing is changed by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC

import sqlite_utils


def m001_evidence(db: sqlite_utils.Database) -> None:
    db.table("evidence").create(
        {
            "id": str,
            "statement": str,
            "source_title": str,
            "source_url": str,
            "pmid": str,
            "doi": str,
            "publisher": str,
            "year": int,
            "study_type": str,
            "grade": str,
            "grade_reason": str,
            "topic": str,
            "tags": str,
            "embedding": bytes,
            "embedding_model": str,
            "added": str,
        },
        pk="id",
        not_null={"statement", "grade", "study_type"},
    )
    db.table("evidence").enable_fts(["statement", "source_title", "topic"], create_triggers=True, tokenize="porter")
    db.table("evidence").create_index(["topic"])
    db.table("evidence").create_index(["grade"])
    db.table("meta").create({"key": str, "value": str}, pk="key")


def m002_passages(db: sqlite_utils.Database) -> None:
    """Sentence windows of long statements, each with its own vector: a claim usually restates one finding,
    which a single vector for a whole abstract blurs. Written by ``EvidenceStore.add`` with the item."""
    db.table("passages").create(
        {"id": str, "evidence_id": str, "n": int, "text": str, "embedding": bytes, "embedding_model": str},
        pk="id",
        not_null={"evidence_id", "text"},
    )
    db.table("passages").create_index(["evidence_id"])


def m003_source_note(db: sqlite_utils.Database) -> None:
    """Why an item lacks a PMID/DOI or links where it does (GRADING.md), and the date its source was read: kept
    with the item and shown to readers, who can then judge a finding that may have been revised since."""
    db.table("evidence").add_column("source_note", str)
    db.table("evidence").add_column("accessed", str)


Migration = Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[Migration] = [m001_evidence, m002_passages, m003_source_note]


def migrate(
    db: sqlite_utils.Database,
    migrations: Sequence[Migration] = MIGRATIONS,
    transaction: Callable[[], AbstractContextManager[object]] | None = None,
) -> list[str]:
    """Apply pending migrations in order; return the names applied.

    The corpus's by default; another database the project owns (batch results) passes its own list. Each
    migration commits with its record (``with db.conn``), unless a caller that already holds a write
    transaction passes ``transaction=db.atomic``, which nests each one in it as a savepoint.
    """
    db.table("_migrations").create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
    done = {row["name"] for row in db.table("_migrations").rows}
    applied = []
    for migration in migrations:
        if migration.__name__ in done:
            continue
        with transaction() if transaction is not None else db.conn:
            migration(db)
            db.table("_migrations").insert({"name": migration.__name__, "applied_at": _now()})
        applied.append(migration.__name__)
    return applied


def _now() -> str:
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
