"""Build the default corpus database from the reviewable files in ``corpus/data/``.

The database is a build artefact: it is rebuilt whenever the data files change (their content hash is
kept in the database), so ``make run`` on a fresh clone or after a ``git pull`` always serves what the
files say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from veracity.corpus.importers import read_items
from veracity.corpus.store import EmbedFn, EvidenceStore

DATA_DIR = Path(__file__).parent / "data"


def data_files(data_dir: Path = DATA_DIR) -> list[Path]:
    return sorted(p for p in data_dir.glob("*") if p.suffix in (".jsonl", ".csv"))


def data_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_current(db_path: Path, data_dir: Path = DATA_DIR) -> bool:
    if not db_path.exists():
        return False
    store = EvidenceStore(db_path)
    try:
        return store.meta("data_hash") == data_hash(data_files(data_dir))
    finally:
        store.close()


def build(
    db_path: Path,
    embed: EmbedFn,
    embedding_model: str,
    data_dir: Path = DATA_DIR,
    progress: Callable[[int], None] | None = None,
) -> EvidenceStore:
    """(Re)build ``db_path`` from every data file; written to a temporary file and renamed into place."""
    files = data_files(data_dir)
    if not files:
        raise FileNotFoundError(f"no .jsonl or .csv evidence files in {data_dir}")
    items = [item for path in files for item in read_items(path)]
    seen: set[str] = set()
    duplicates = sorted({i["id"] for i in items if i["id"] in seen or seen.add(i["id"])})  # type: ignore[func-returns-value]
    if duplicates:
        raise ValueError(f"ids used in more than one data file: {', '.join(duplicates[:10])}")
    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    store = EvidenceStore(tmp)
    store.add(items, embed, embedding_model, progress=progress)
    store.set_meta("data_hash", data_hash(files))
    store.close()
    tmp.replace(db_path)
    return EvidenceStore(db_path)
