"""Shared fixtures: a real evidence database built from tests/data with the real embedder, and an app on it.

The database is built once per session (embedding is the slow part) and copied for tests that write.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def embedder():
    from models.embedder import load_embedder

    return load_embedder(threads=2)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (DATA / "seed_article.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def built_corpus_db(tmp_path_factory, embedder) -> Path:
    from corpus.importers import read_items
    from corpus.store import EvidenceStore

    path = tmp_path_factory.mktemp("corpus") / "evidence.db"
    store = EvidenceStore(path)
    store.add(read_items(DATA / "evidence.jsonl"), embedder.encode, embedder.name)
    store.close()
    return path


@pytest.fixture
def corpus_db(built_corpus_db, tmp_path) -> Path:
    """A private copy of the test corpus that a test may write to."""
    path = tmp_path / "evidence.db"
    shutil.copy(built_corpus_db, path)
    return path


@pytest.fixture(scope="session")
def settings(built_corpus_db):
    from service.settings import Settings

    return Settings(corpus_db=built_corpus_db, build_corpus=False, api_keys=("test-key",), max_body_bytes=20_000)


@pytest.fixture(scope="session")
def app(settings):
    from service.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()
