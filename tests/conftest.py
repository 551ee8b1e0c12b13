"""Shared fixtures: a real evidence database built from tests/data with the real embedder, and an app on it.

The database is built once per session (embedding is the slow part) and copied for tests that write.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def embedder():
    from veracity.models.embedder import load_embedder

    return load_embedder(threads=2)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (DATA / "seed_article.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def built_corpus_db(tmp_path_factory, embedder) -> Path:
    from veracity.corpus.importers import read_items
    from veracity.corpus.store import EvidenceStore

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
    from veracity.service.settings import Settings

    return Settings(corpus_db=built_corpus_db, build_corpus=False, api_keys=("test-key",), max_body_bytes=20_000)


@pytest.fixture(scope="session")
def app(settings):
    from veracity.service.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerURL(str):
    """The server's base URL (a str, as the tests use it), with its log file as ``log_path``."""

    log_path: Path


@pytest.fixture(scope="module")
def server(request, built_corpus_db, tmp_path_factory):
    """`veracity serve` (waitress) in a subprocess on a free loopback port; yields its base URL.

    A test module can set ``SERVER_ENV = {"VERACITY_...": "..."}`` to start it with other settings.
    """
    port = free_port()
    env = dict(os.environ, VERACITY_PORT=str(port), VERACITY_CORPUS_DB=str(built_corpus_db), HF_HUB_OFFLINE="1")
    env.update(getattr(request.module, "SERVER_ENV", {}))
    veracity = Path(sys.executable).parent / "veracity"
    # The log goes to a file, not a pipe: an unread pipe fills up and blocks a chatty server.
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen([str(veracity), "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("server exited: " + log_path.read_text(errors="replace")[-4000:])
        try:
            if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not start within 120 s")
    url = ServerURL(base)
    url.log_path = log_path
    yield url
    process.terminate()
    process.wait(timeout=10)
    log_file.close()


@pytest.fixture(scope="module")
def web():
    """The misbehaving local web server of tests/fixtures_web (redirects, timeouts, encodings...)."""
    from fixtures_web.server import start

    server = start()
    yield server
    server.stop()
