"""``/v1/batches``: jobs stored in SQLite, run by a real worker process, surviving a server restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from veracity.service.app import create_app
from veracity.service.batch import ResultsStore, Source

METHADONE_TEXT = (
    "Methadone maintenance reduced heroin use compared with treatments that did not involve opioid replacement."
)


def make_app(settings, path: Path, **overrides):
    return create_app(replace(settings, batch_db=path, **overrides), pipeline=shared_pipeline(settings))


def shared_pipeline(settings):
    """The models are loaded once for the module: an app only needs its own settings and jobs file."""
    from veracity.service.pipeline import build_pipeline

    if not hasattr(shared_pipeline, "cached"):
        shared_pipeline.cached = build_pipeline(settings)  # type: ignore[attr-defined]
    return shared_pipeline.cached  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def batch_app(settings, tmp_path_factory):
    app = make_app(
        settings,
        tmp_path_factory.mktemp("jobs") / "batches.db",
        allow_private_urls=True,
        batch_delay_s=0.0,
        batch_max_documents=50,
    )
    yield app
    app.extensions["veracity_batches"].stop()


def keyed_client(app):
    """A test client that sends the operator's key, as every batch submitter must (unless open_batches)."""
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = "test-key"
    return client


@pytest.fixture(scope="module")
def batch_client(batch_app):
    return keyed_client(batch_app)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is False and set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["status"] == status and body["error"]["code"] == code
    return body["error"]


def wait_done(get, job: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = get(f"/v1/batches/{job}")
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"job {job} did not finish: {body}")


def test_a_batch_runs_in_a_worker_process_and_reports_progress(web, batch_app, batch_client):
    payload = {
        "urls": [web.base + "/methadone.html", web.base + "/missing", web.base + "/report.pdf"],
        "texts": [METHADONE_TEXT],
    }
    response = batch_client.post("/v1/batches", json=payload)
    assert response.status_code == 202
    body = response.get_json()
    assert body["ok"] is True and body["status"] == "queued" and body["documents"] == 4
    assert response.headers["Location"] == f"/v1/batches/{body['id']}"
    worker = batch_app.extensions["veracity_batches"]._process
    assert worker is not None and worker.pid != os.getpid()  # not the request thread, not this process

    status = wait_done(lambda url: batch_client.get(url).get_json(), body["id"])
    assert status["status"] == "done" and status["error"] is None
    assert status["progress"] == {"total": 4, "done": 4, "pending": 0, "fraction": 1.0}
    assert status["documents"] == {"checked": 2, "failed": 1, "skipped": 1}
    assert status["sentences"]["checkworthy"] > 0 and status["finished_at"]

    first = batch_client.get(f"/v1/batches/{body['id']}/results?limit=3")
    assert first.status_code == 200 and first.mimetype == "application/x-ndjson"
    page1 = [json.loads(line) for line in first.get_data(as_text=True).splitlines()]
    assert len(page1) == 3 and 'rel="next"' in first.headers["Link"]
    second = batch_client.get(f"/v1/batches/{body['id']}/results?cursor={first.headers['X-Next-Cursor']}&limit=3")
    page2 = [json.loads(line) for line in second.get_data(as_text=True).splitlines()]
    assert len(page2) == 1 and "Link" not in second.headers
    docs = {d["url"] or "text": d for d in page1 + page2}
    assert docs[web.base + "/missing"]["error"]["code"] == "http_error"
    assert docs[web.base + "/report.pdf"]["status"] == "skipped"
    text = docs["text"]
    assert text["status"] == "checked" and text["sentences"][0]["text"] == METHADONE_TEXT
    assert text["sentences"][0]["label"] in ("supported", "unsupported", "contradicted")


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "empty_batch"),
        ({"urls": "https://example.org"}, 400, "invalid_batch"),
        ({"urls": [42]}, 400, "invalid_url"),
        ({"urls": ["ftp://example.org/a"]}, 400, "invalid_url"),
        ({"texts": ["  "]}, 400, "empty_text"),
        ({"documents": [{"id": "a"}]}, 400, "invalid_batch"),
        ({"urls": ["https://example.org/a", "https://example.org/a"]}, 400, "duplicate_document"),
        ({"texts": ["x"] * 51}, 413, "batch_too_large"),
        ({"texts": ["x"], "check_all": "yes"}, 400, "invalid_option"),
    ],
)
def test_invalid_batches_are_refused_with_the_json_error_shape(batch_client, payload, status, code):
    error = assert_error(batch_client.post("/v1/batches", json=payload), status, code)
    assert error["message"].endswith(".")


def test_non_json_bodies_and_unknown_jobs_get_json_errors(batch_client):
    assert_error(
        batch_client.post("/v1/batches", data="https://example.org", content_type="text/plain"),
        415,
        "unsupported_media_type",
    )
    assert_error(batch_client.post("/v1/batches", data="{nope", content_type="application/json"), 400, "invalid_json")
    error = assert_error(batch_client.get("/v1/batches/0123456789abcdef"), 404, "batch_not_found")
    assert "POST /v1/batches" in error["message"]
    assert_error(batch_client.get("/v1/batches/0123456789abcdef/results"), 404, "batch_not_found")


def test_private_loopback_and_link_local_urls_are_refused_by_default(web, settings, tmp_path):
    app = make_app(settings, tmp_path / "batches.db", batch_delay_s=0.0)  # allow_private_urls is off by default
    client = keyed_client(app)
    try:
        for url in (
            "http://127.0.0.1:8080/",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
        ):
            error = assert_error(client.post("/v1/batches", json={"urls": [url]}), 400, "blocked_url")
            assert "VERACITY_ALLOW_PRIVATE_URLS" in error["message"]
        # a name is vetted after DNS resolution, in the worker: localhost resolves to loopback
        port = web.server_address[1]
        before = web.count("/kratom.html")
        job = client.post("/v1/batches", json={"urls": [f"http://localhost:{port}/kratom.html"]}).get_json()["id"]
        status = wait_done(lambda url: client.get(url).get_json(), job)
        assert status["documents"]["failed"] == 1
        (doc,) = [
            json.loads(line) for line in client.get(f"/v1/batches/{job}/results").get_data(as_text=True).splitlines()
        ]
        assert doc["error"]["code"] == "blocked_address" and "loopback" in doc["error"]["message"]
        assert web.count("/kratom.html") == before  # the request never reached the server
    finally:
        app.extensions["veracity_batches"].stop()


# --- the real server, killed mid-job and started again -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env: dict[str, str]) -> subprocess.Popen:
    veracity = Path(sys.executable).parent / "veracity"
    # its own process group, so killing the group kills the server and the worker it started, like a power cut
    process = subprocess.Popen(
        [str(veracity), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    base = f"http://127.0.0.1:{env['VERACITY_PORT']}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("server did not start within 120 s")


def test_jobs_survive_a_server_restart(web, built_corpus_db, tmp_path):
    db = tmp_path / "batches.db"
    port = _free_port()
    env = {
        **os.environ,
        "VERACITY_PORT": str(port),
        "VERACITY_CORPUS_DB": str(built_corpus_db),
        "VERACITY_BATCH_DB": str(db),
        "VERACITY_ALLOW_PRIVATE_URLS": "true",
        "VERACITY_BATCH_DELAY_S": "0.5",
        "VERACITY_OPEN_BATCHES": "true",
        "HF_HUB_OFFLINE": "1",
    }
    base = f"http://127.0.0.1:{port}"
    paths = [f"/page/{n}" for n in range(200, 210)]
    server = _serve(env)
    try:
        response = httpx.post(base + "/v1/batches", json={"urls": [web.base + p for p in paths]}, timeout=10)
        assert response.status_code == 202
        job = response.json()["id"]
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/v1/batches/{job}", timeout=10).json()["progress"]["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    with sqlite3.connect(db) as conn:
        (state,) = conn.execute("select status from jobs where id = ?", [job]).fetchone()
        (pending,) = conn.execute(
            "select count(*) from documents where job = ? and status = 'pending'", [job]
        ).fetchone()
        done_before = [
            k for (k,) in conn.execute("select key from documents where job = ? and status != 'pending'", [job])
        ]
    assert state == "running" and pending > 0

    server = _serve({**env, "VERACITY_BATCH_DELAY_S": "0"})
    try:
        status = wait_done(lambda url: httpx.get(base + url, timeout=10).json(), job)
        assert status["status"] == "done"
        assert status["documents"] == {"checked": len(paths), "failed": 0, "skipped": 0}
        lines = httpx.get(f"{base}/v1/batches/{job}/results?limit=100", timeout=10).text.splitlines()
    finally:
        server.terminate()
        server.wait(10)
        if _group_alive(server.pid):  # the worker, if it is still finishing a chunk
            os.killpg(server.pid, signal.SIGKILL)
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(web.base + p for p in paths)
    for key in done_before:
        assert web.count(key.removeprefix(web.base)) == 1


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_cursor_beyond_sqlite_integers_is_a_400(batch_client):
    created = batch_client.post("/v1/batches", json={"documents": [{"id": "d1", "text": "Kratom is not approved."}]})
    job = created.get_json()["id"]
    assert_error(batch_client.get(f"/v1/batches/{job}/results?cursor={2**63}"), 400, "invalid_cursor")


def test_a_locked_jobs_database_answers_503_with_retry_after(settings, tmp_path):
    app = make_app(settings, tmp_path / "batches.db", batch_delay_s=0.0)
    client = keyed_client(app)
    holder = sqlite3.connect(tmp_path / "batches.db")
    holder.execute("BEGIN EXCLUSIVE")  # e.g. a backup or a CLI run holding the file
    try:
        started = time.monotonic()
        response = client.post("/v1/batches", json={"texts": [METHADONE_TEXT]})
        assert time.monotonic() - started < 10  # not the old 30-second wait
    finally:
        holder.rollback()
        holder.close()
        app.extensions["veracity_batches"].stop()
    error = assert_error(response, 503, "database_busy")
    assert "try again" in error["message"] and response.headers["Retry-After"] == "5"


def test_creating_an_app_starts_no_worker_even_with_unfinished_jobs(settings, tmp_path):
    """Side effects belong to `veracity serve` (test_jobs_survive_a_server_restart), not to the factory."""
    db = tmp_path / "batches.db"
    first = make_app(settings, db, batch_delay_s=0.0)
    job = keyed_client(first).post("/v1/batches", json={"texts": [METHADONE_TEXT]})
    assert job.status_code == 202
    first.extensions["veracity_batches"].stop()  # the server goes away with its job unfinished (or just done)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE jobs SET status = 'queued'")  # as a stopped server leaves it
    second = make_app(settings, db, batch_delay_s=0.0)
    assert second.extensions["veracity_batches"]._process is None


def test_a_killed_worker_is_restarted_and_its_job_finishes(web, settings, tmp_path):
    app = make_app(settings, tmp_path / "batches.db", allow_private_urls=True, batch_delay_s=0.05)
    client = keyed_client(app)
    supervisor = app.extensions["veracity_batches"]
    paths = [f"/page/{n}" for n in range(300, 340)]  # two chunks of documents: the kill lands between them
    try:
        job = client.post("/v1/batches", json={"urls": [web.base + p for p in paths]}).get_json()["id"]
        supervisor.watch(interval_s=0.2)
        deadline = time.monotonic() + 120
        while client.get(f"/v1/batches/{job}").get_json()["progress"]["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first = supervisor._process
        first.kill()  # out of memory, or an operator's mistake
        first.wait()
        status = wait_done(lambda url: client.get(url).get_json(), job)
        assert supervisor._process is not None and supervisor._process.pid != first.pid
    finally:
        supervisor.stop()
    assert status["status"] == "done" and status["documents"]["checked"] == len(paths)
    lines = client.get(f"/v1/batches/{job}/results?limit=100").get_data(as_text=True).splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(web.base + p for p in paths)  # none twice


def test_finished_jobs_and_their_text_are_deleted_after_the_retention_period(settings, tmp_path):
    db = tmp_path / "batches.db"
    with ResultsStore(db) as store:
        for job in ("old", "recent", "stuck"):
            store.create_job(job, [Source(key=f"{job}-doc", text=METHADONE_TEXT)], {"check_all": False})
        store.set_job_status("old", "done")
        store.set_job_status("recent", "failed", "network down")
    with sqlite3.connect(db) as conn:  # "old" ended long ago; "stuck" is still queued, however old
        conn.execute("UPDATE jobs SET finished_at = '2000-01-01T00:00:00+00:00' WHERE id = 'old'")
        conn.execute("UPDATE jobs SET created_at = '2000-01-01T00:00:00+00:00' WHERE id = 'stuck'")
    app = make_app(settings, db, batch_delay_s=0.0, batch_retention_days=30.0)
    client = keyed_client(app)
    try:
        assert client.post("/v1/batches", json={"texts": [METHADONE_TEXT]}).status_code == 202
        assert_error(client.get("/v1/batches/old"), 404, "batch_not_found")
        assert client.get("/v1/batches/recent").status_code == 200
        assert client.get("/v1/batches/stuck").status_code == 200
    finally:
        app.extensions["veracity_batches"].stop()
    with sqlite3.connect(db) as conn:  # its documents and sentences went with it
        assert conn.execute("SELECT count(*) FROM documents WHERE job = 'old'").fetchone() == (0,)


def test_a_client_with_too_many_active_jobs_gets_429_until_one_finishes(settings, tmp_path):
    from veracity.service.access import key_id

    db = tmp_path / "batches.db"
    keyholder = "key:" + key_id("test-key")
    with ResultsStore(db) as store:
        for job in ("first", "second"):
            store.create_job(job, [Source(key=f"{job}-doc", text=METHADONE_TEXT)], {}, client=keyholder)
    app = make_app(settings, db, batch_delay_s=0.0, batch_max_active_jobs=2, open_batches=True)
    try:
        error = assert_error(
            keyed_client(app).post("/v1/batches", json={"texts": [METHADONE_TEXT]}), 429, "too_many_jobs"
        )
        assert "2 batch jobs" in error["message"] and "VERACITY_BATCH_MAX_ACTIVE_JOBS" in error["message"]
        # another client (no key, an open server) is not held back by this one's jobs
        assert app.test_client().post("/v1/batches", json={"texts": [METHADONE_TEXT]}).status_code == 202
        with ResultsStore(db) as store:
            store.set_job_status("first", "done")
        assert keyed_client(app).post("/v1/batches", json={"texts": [METHADONE_TEXT]}).status_code == 202
    finally:
        app.extensions["veracity_batches"].stop()
