"""Veracity's benchmark suite: ``make bench`` (``python -m bench``) runs one script per area.

Shared here: where results and caches go, where the public datasets are, a markdown table writer, a
timing summary (min / median / max over repetitions) and an embedding cache. The cache is what keeps
reruns on two shared cores fast: MiniLM vectors of the SciFact corpus are computed once, keyed by the
exact text, and reused by every later run (the vectors are the same numbers the store would compute).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE_DIR = RESULTS_DIR / "cache"
DATA_DIR = Path(__file__).resolve().parent / "data"
DATASETS = Path(os.environ.get("VERACITY_DATASETS", "/work/shared/datasets"))
SPLITS_FILE = ROOT / "models" / "stance" / "splits.json"


def results_dir(quick: bool = False) -> Path:
    """Where an area writes its tables: quick runs go to ``results/quick/``, beside the full run's results and
    never over them, so the README's figures always come from a full run."""
    return RESULTS_DIR / "quick" if quick else RESULTS_DIR


def machine() -> str:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = os.cpu_count() or 1
    return f"{platform.machine()} CPU, {cores} cores, Python {platform.python_version()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers are expected to be formatted by the caller."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def spread(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """min / median / max of repeated measurements: quote the median, read the spread as noise."""
    return {
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def fmt_spread(s: dict[str, float], unit: str = "") -> str:
    return f"{s['median']:g}{unit} ({s['min']:g}–{s['max']:g})"


def repeat_ms(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall time of ``fn`` in milliseconds, once per repetition."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def write_result(name: str, data: dict[str, Any], markdown: str, out_dir: Path = RESULTS_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out_dir / f"{name}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_split_ids(path: Path = SPLITS_FILE) -> dict[str, set[int]] | None:
    """SciFact claim ids of the stance model's held-out splits, or None before the model exists.

    Claims the stance model trained on must never be scored: the validation ids are the report set.
    """
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: set(map(int, data[name]["scifact_claim_ids"])) for name in ("validation", "dev") if name in data}


class EmbeddingCache:
    """MiniLM vectors keyed by sha1(model, text), in one SQLite file under bench/results/cache/.

    Each cached vector keeps the seconds its batch took per text, so a run that reads vectors from the
    cache can still report what embedding them cost when they were computed.
    """

    def __init__(self, embedder: Any, path: Path | None = None) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.path = path or CACHE_DIR / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path))
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB, seconds REAL)")
        self.computed = 0
        self.hits = 0
        self.seconds_spent = 0.0  # embedding time in this process
        self.seconds_recorded = 0.0  # embedding cost of every vector handed out, as measured when computed

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.name}\n{text}".encode()).hexdigest()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        found: dict[str, tuple[np.ndarray, float]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 900):
            chunk = unique[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, blob, seconds in self.conn.execute(
                f"SELECT key, vector, seconds FROM vectors WHERE key IN ({marks})", chunk
            ):
                found[key] = (np.frombuffer(blob, dtype=np.float32), seconds)
        missing = [i for i, k in enumerate(keys) if k not in found]
        missing_unique = list({keys[i]: i for i in missing}.values())
        if missing_unique:
            # Long texts first in one sorted pass: the embedder pads per batch, so sorting keeps it cheap.
            order = sorted(missing_unique, key=lambda i: -len(texts[i]))
            step = 512
            for start in range(0, len(order), step):
                idx = order[start : start + step]
                t0 = time.perf_counter()
                vectors = self.embedder.encode([texts[i] for i in idx], batch_size=batch_size)
                per_text = (time.perf_counter() - t0) / len(idx)
                self.seconds_spent += per_text * len(idx)
                rows = []
                for i, v in zip(idx, vectors):
                    found[keys[i]] = (v.astype(np.float32), per_text)
                    rows.append((keys[i], v.astype(np.float32).tobytes(), per_text))
                with self.conn:
                    self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                self.computed += len(idx)
        self.hits += len(keys) - len(missing)
        self.seconds_recorded += sum(found[k][1] for k in keys)
        return np.stack([found[k][0] for k in keys]).astype(np.float32)

    def close(self) -> None:
        self.conn.close()
