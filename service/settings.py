"""Configuration: one dataclass, read from ``VERACITY_*`` environment variables.

Every setting has a default and a line of help (the README's table is generated from ``SETTINGS``), and
a bad value stops start-up with the variable's name and a valid example rather than failing later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent.parent  # the repository in a clone; veracity/ inside site-packages
MODELS = PACKAGE / "models"
ROOT = PACKAGE  # kept for callers that read paths relative to the checkout
PREFIX = "VERACITY_"
# Stands for the data folder in a default path, so the default reads "{data_dir}/corpus.db" in the docs.
DATA_DIR_MARK = Path("{data_dir}")


def default_data_dir() -> Path:
    """Where writable files live (the built corpus database, batch jobs): never inside the installed package.

    ``$XDG_DATA_HOME/veracity`` (``~/.local/share/veracity``) on Linux, ``~/Library/Application Support/veracity`` on
    macOS, ``%LOCALAPPDATA%\\veracity`` on Windows; ``VERACITY_DATA_DIR`` overrides it.
    """
    import sys

    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "veracity"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "veracity"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "veracity"


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    host: str = field(default="127.0.0.1", metadata={"help": "Interface the server listens on."})
    port: int = field(default=8080, metadata={"help": "TCP port of the server."})
    data_dir: Path = field(
        default_factory=default_data_dir,
        metadata={"help": "Folder for writable files: the built default corpus and batch jobs (created on use)."},
    )
    corpus_db: Path = field(
        default=DATA_DIR_MARK / "corpus.db",
        metadata={"help": "Evidence database; the default one is built from the bundled corpus when missing or stale."},
    )
    build_corpus: bool = field(
        default=True, metadata={"help": "Build or refresh the default corpus database at start-up when needed."}
    )
    top_k: int = field(default=5, metadata={"help": "Evidence items retrieved per claim."})
    ann_min_items: int = field(
        default=50_000,
        metadata={
            "help": "Statement or passage vectors from which retrieval uses a nearest-neighbour index (needs "
            "veracity[scale]) instead of scoring every vector; 0: always exact. See docs/scale.md."
        },
    )
    max_body_bytes: int = field(default=200_000, metadata={"help": "Largest accepted request body, in bytes."})
    max_sentences: int = field(default=2000, metadata={"help": "Most sentences checked in one request."})
    request_deadline_s: float = field(
        default=60.0,
        metadata={"help": "Seconds a check may run before it is stopped with 503 and Retry-After (0: no deadline)."},
    )
    support_threshold: float = field(
        default=0.75, metadata={"help": "Cosine similarity above which the baseline calls a claim supported."}
    )
    stance_model: Path = field(
        default=MODELS / "stance", metadata={"help": "Folder of the stance cross-encoder (empty: baseline)."}
    )
    verdict_model: Path = field(
        default=MODELS / "verdict", metadata={"help": "Folder of the calibrated verdict combiner."}
    )
    relevance_model: Path = field(
        default=MODELS / "relevance",
        metadata={"help": "Folder of the aboutness model that tells 'not covered' apart (empty: every item is read)."},
    )
    verifiable_model: Path = field(
        default=MODELS / "verifiable",
        metadata={"help": "Folder of the classifier that decides which sentences are verifiable claims (checked)."},
    )
    priority_model: Path = field(
        default=MODELS / "checkworthy",
        metadata={"help": "Folder of the check-worthiness classifier that sets each claim's priority (0-1)."},
    )
    max_in_flight: int = field(
        default=4,
        metadata={"help": "Checks and verifications run at once; more wait up to queue_wait_s, then get 503."},
    )
    max_queued: int = field(
        default=4,
        metadata={"help": "Checks that may wait for a slot while max_in_flight run; any more get 503 at once."},
    )
    queue_wait_s: float = field(
        default=2.0, metadata={"help": "Seconds a request may wait for a free slot before a 503 with Retry-After."}
    )
    rate_limit_per_minute: int = field(
        default=0,
        metadata={
            "help": "Requests per minute one client (an API key, else an address) may make to /v1, in bursts up to "
            "the same number; beyond it 429 with Retry-After (0: no limit)."
        },
    )
    verdict_cache_size: int = field(
        default=4096,
        metadata={
            "help": "Verdicts kept in memory, keyed by claim, corpus version and models, and as many sentence "
            "vectors (0 turns both off)."
        },
    )
    threads: int = field(default=2, metadata={"help": "Torch threads for model inference."})
    precision: str = field(
        default="auto",
        metadata={
            "help": "Model arithmetic: auto (bf16 where the CPU has native bf16, else fp32), fp32 or bf16.",
            "choices": ("auto", "fp32", "bf16"),
        },
    )
    threads_server: int = field(
        default=16,
        metadata={
            "help": "Waitress worker threads; keep above max_in_flight + max_queued, so that a request beyond them "
            "is answered 503 at once instead of waiting unseen in the server's connection queue."
        },
    )
    connection_limit: int = field(
        default=100, metadata={"help": "Open connections waitress accepts; more wait in the operating system's queue."}
    )
    api_keys: tuple[str, ...] = field(
        default=(), metadata={"help": "Comma-separated keys allowed to add evidence and submit batch jobs."}
    )
    cors_origins: str = field(
        default="*", metadata={"help": "Access-Control-Allow-Origin for the read-only routes (checks, searches)."}
    )
    cors_write_origins: tuple[str, ...] = field(
        default=("chrome-extension://*", "moz-extension://*"),
        metadata={"help": "Origins (* wildcards) allowed to add evidence and submit batches from a browser."},
    )
    allowed_hosts: tuple[str, ...] = field(
        default=("localhost", "127.0.0.1", "::1"),
        metadata={"help": "Host names this server answers for (* wildcards; * alone for any): stops DNS rebinding."},
    )
    open_batches: bool = field(
        default=False, metadata={"help": "Let clients without an API key submit batch jobs (POST /v1/batches)."}
    )
    batch_db: Path = field(
        default=DATA_DIR_MARK / "batches.db",
        metadata={"help": "SQLite file holding batch jobs submitted to the API."},
    )
    allow_private_urls: bool = field(
        default=False, metadata={"help": "Let batch jobs fetch private, loopback and link-local addresses."}
    )
    batch_max_documents: int = field(default=1000, metadata={"help": "Most documents in one POST /v1/batches job."})
    batch_max_active_jobs: int = field(
        default=4,
        metadata={
            "help": "Batch jobs one client (an API key, else an address) may have queued or running at once; "
            "with VERACITY_BATCH_MAX_DOCUMENTS this bounds the documents it can queue (0: no limit)."
        },
    )
    batch_retention_days: float = field(
        default=30.0,
        metadata={"help": "Days a finished API batch job and the text it fetched are kept (0: forever)."},
    )
    batch_delay_s: float = field(
        default=1.0, metadata={"help": "Pause between two batch requests to the same host, in seconds."}
    )
    log_level: str = field(default="INFO", metadata={"help": "Python logging level."})

    def __post_init__(self) -> None:
        # Unset database paths follow the data folder; frozen, so set once here.
        for name in ("corpus_db", "batch_db"):
            path = getattr(self, name)
            if path.parts[:1] == (DATA_DIR_MARK.name,):
                object.__setattr__(self, name, Path(self.data_dir).joinpath(*path.parts[1:]))

    @property
    def default_corpus(self) -> bool:
        """True when the database is the data folder's copy of the bundled corpus (built and refreshed here)."""
        return Path(self.corpus_db).resolve() == (Path(self.data_dir) / "corpus.db").resolve()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = PREFIX + f.name.upper()
            if name in environ:
                default = f.default if f.default is not MISSING else Path()  # default_factory fields are paths
                values[f.name] = _parse(name, environ[name], default)
                choices = f.metadata.get("choices")
                if choices and values[f.name] not in choices:
                    raise SettingsError(f"{name}={environ[name]!r} is not valid; choose one of {', '.join(choices)}")
        return cls(**{**values, **overrides})


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if isinstance(default, int):
            value = int(raw)
            if value < 0:
                raise ValueError
            return value
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        if isinstance(default, tuple):
            return tuple(k.strip() for k in raw.split(",") if k.strip())
        return raw
    except ValueError:
        example = {bool: "true", int: "8080", float: "0.75", tuple: "key1,key2"}.get(type(default), "value")
        raise SettingsError(
            f"{name}={raw!r} is not valid; expected a {type(default).__name__}, e.g. {name}={example}"
        ) from None


SETTINGS = [
    (
        PREFIX + f.name.upper(),
        "(per-user data folder)" if f.default is MISSING else f.default,
        f.metadata.get("help", ""),
    )
    for f in fields(Settings)
]


def settings_markdown() -> str:
    """The README's configuration table, generated so that it cannot drift from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, default, help_text in SETTINGS:
        if isinstance(default, Path):
            default = default.relative_to(ROOT) if default.is_relative_to(ROOT) else default
        if isinstance(default, tuple):
            default = ",".join(default) or "(none)"
        rows.append(f"| `{name}` | `{default}` | {help_text} |")
    return "\n".join(rows) + "\n"
