"""``veracity batch``: real fetching from a local server, the real pipeline, real SQLite results."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from veracity.service.batch import BatchInputError, ResultsStore, read_sources
from veracity.service.cli import main

FIXTURES = Path(__file__).parent / "fixtures_web"
FAST = [
    "--allow-private-urls",
    "--delay",
    "0",
    "--timeout",
    "0.5",
    "--retries",
    "1",
    "--max-bytes",
    "1000000",
    "--quiet",
]


@pytest.fixture
def env(built_corpus_db):
    return {"VERACITY_CORPUS_DB": str(built_corpus_db), "HF_HUB_OFFLINE": "1"}


def invoke(env, *args, input=None):
    result = CliRunner().invoke(main, ["batch", *args], env=env, input=input)
    return result


def rows(db: Path, sql: str, args=()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


EXPECTED = {
    "/methadone.html": ("checked", None),
    "/redirect/3": ("checked", None),
    "/loop/a": ("failed", "redirect_loop"),
    "/missing": ("failed", "http_error"),
    "/flaky/batch": ("checked", None),
    "/slow": ("failed", "timeout"),
    "/huge": ("skipped", "too_large"),
    "/report.pdf": ("skipped", "pdf"),
    "/image.png": ("skipped", "unsupported_content_type"),
    "/broken.html": ("checked", None),
    "/latin1.html": ("checked", None),
    "/cp1252_meta.html": ("checked", None),
    "/plain.txt": ("checked", None),
}


@pytest.fixture(scope="module")
def batch_db(web, built_corpus_db, tmp_path_factory):
    """One batch over every kind of page the fixture server has, run through the CLI."""
    tmp = tmp_path_factory.mktemp("batch")
    urls = tmp / "urls.txt"
    urls.write_text(
        "# fixture pages\n" + "\n".join(web.base + p for p in EXPECTED) + "\n" + web.base + "/methadone.html\n"
    )
    out = tmp / "results.db"
    env = {"VERACITY_CORPUS_DB": str(built_corpus_db), "HF_HUB_OFFLINE": "1"}
    result = CliRunner().invoke(main, ["batch", "run", str(urls), "--out", str(out), *FAST[:-1]], env=env)
    assert result.exit_code == 0, result.output
    return urls, out, result.output


def test_every_document_gets_a_status_and_an_error_that_says_why(web, batch_db):
    _, out, _ = batch_db
    got = {
        url.removeprefix(web.base): (status, code)
        for url, status, code in rows(out, "select url, status, error_code from documents")
    }
    assert got == EXPECTED
    (error,) = rows(out, "select error from documents where url like '%/missing'")[0]
    assert "404" in error and "check the URL" in error


def test_checked_documents_store_extracted_text_facts_and_sentences(web, batch_db):
    _, out, _ = batch_db
    with ResultsStore(out) as store:
        docs = {d["url"].removeprefix(web.base): d for d in store.iter_documents()}
    methadone = docs["/methadone.html"]
    assert methadone["title"] == "Methadone saves lives, the data show" and methadone["published"] == "2024-03-18"
    assert methadone["final_url"] == web.base + "/methadone.html" and len(methadone["text_sha256"]) == 64
    assert docs["/redirect/3"]["final_url"] == web.base + "/methadone.html"
    assert docs["/redirect/3"]["text_sha256"] == methadone["text_sha256"]
    texts = [s["text"] for s in methadone["sentences"]]
    assert any("11.3 per 1000 person-years" in t for t in texts)
    assert not any("Copyright" in t or "Subscribe" in t for t in texts)
    assert [s["index"] for s in methadone["sentences"]] == list(range(methadone["counts"]["sentences"]))
    claims = [s for s in methadone["sentences"] if s["label"]]
    assert len(claims) == methadone["counts"]["checkworthy"] > 0
    assert all(s["evidence_ids"] and 0 <= s["confidence"] <= 1 for s in claims)
    counts = methadone["counts"]
    assert counts["supported"] + counts["unsupported"] + counts["contradicted"] == len(claims)
    assert any("café" in s["text"] for s in docs["/latin1.html"]["sentences"])
    assert any("€40" in s["text"] for s in docs["/cp1252_meta.html"]["sentences"])


def test_summary_table_reports_counts_and_reasons(batch_db):
    _, _, output = batch_db
    assert "| checked | 7 |" in output and "| failed | 3 |" in output and "| skipped | 3 |" in output
    assert "| redirect_loop | 1 |" in output and "documents/min" in output and "sentences/s" in output
    assert "1 repeated, skipped" in output


def test_rerun_checks_nothing_twice_and_force_rechecks(batch_db, env, tmp_path):
    urls, out, _ = batch_db
    copy = tmp_path / "copy.db"
    shutil.copy(out, copy)
    before = rows(copy, "select count(*), sum(sentences) from documents")[0]
    sentences = rows(copy, "select count(*) from sentences")[0][0]
    again = invoke(env, "run", str(urls), "--out", str(copy), *FAST[:-1])
    assert again.exit_code == 0 and "0 to check" in again.output
    retried = invoke(env, "run", str(urls), "--out", str(copy), "--retry-errors", *FAST[:-1])
    assert retried.exit_code == 0 and "3 to check" in retried.output  # the failed ones; skipped pages stay skipped
    forced = invoke(env, "run", str(urls), "--out", str(copy), "--force", *FAST[:-1])
    assert forced.exit_code == 0 and "13 to check" in forced.output
    assert rows(copy, "select count(*), sum(sentences) from documents")[0] == before
    assert rows(copy, "select count(*) from sentences")[0][0] == sentences


def test_batch_without_run_is_the_same_command(web, env, tmp_path):
    urls = tmp_path / "u.txt"
    urls.write_text(web.base + "/plain.txt\n")
    result = invoke(env, str(urls), "--out", str(tmp_path / "r.db"), *FAST)
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "r.db", "select status from documents") == [("checked",)]


def test_jsonl_records_directory_and_stdin_inputs(web, env, tmp_path):
    records = tmp_path / "in.jsonl"
    records.write_text(
        json.dumps(
            {
                "id": "a",
                "text": "Methadone maintenance reduced heroin use compared with treatments without opioid replacement.",
            }
        )
        + "\n"
        + json.dumps({"url": web.base + "/kratom.html"})
        + "\n"
        + json.dumps({"id": "empty", "text": "  "})
        + "\n"
    )
    result = invoke(env, "run", str(records), "--out", str(tmp_path / "j.db"), *FAST)
    assert result.exit_code == 0, result.output
    assert dict(rows(tmp_path / "j.db", "select key, status from documents")) == {
        "a": "checked",
        web.base + "/kratom.html": "checked",
        "empty": "failed",
    }

    pages = tmp_path / "pages"
    (pages / "sub").mkdir(parents=True)
    for name in ("methadone.html", "shift_jis.html", "report.pdf"):
        shutil.copy(FIXTURES / name, pages / name)
    shutil.copy(FIXTURES / "plain.txt", pages / "sub" / "notes.txt")
    result = invoke(env, "run", str(pages), "--out", str(tmp_path / "d.db"), *FAST)
    assert result.exit_code == 0, result.output
    got = dict(rows(tmp_path / "d.db", "select key, status from documents"))
    assert got == {
        "methadone.html": "checked",
        "shift_jis.html": "checked",
        "report.pdf": "skipped",
        "sub/notes.txt": "checked",
    }
    (title,) = rows(tmp_path / "d.db", "select title from documents where key = 'shift_jis.html'")[0]
    assert title == "睡眠とメラトニン"

    result = invoke(env, "run", "-", "--out", str(tmp_path / "s.db"), *FAST, input=web.base + "/plain.txt\n")
    assert result.exit_code == 0, result.output
    assert rows(tmp_path / "s.db", "select status from documents") == [("checked",)]


def test_bad_inputs_are_reported_with_the_line_to_fix(env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"url": "https://example.org/a"}\n{"txt": "typo"}\n')
    result = invoke(env, "run", str(bad), "--out", str(tmp_path / "x.db"))
    assert result.exit_code == 2 and "bad.jsonl line 2" in result.output and "Traceback" not in result.output
    prose = tmp_path / "prose.txt"
    prose.write_text("Vitamin C prevents colds.\n")
    result = invoke(env, "run", str(prose), "--out", str(tmp_path / "x.db"))
    assert result.exit_code == 2 and "line 1" in result.output and "is not a URL" in result.output
    assert invoke(env, "run", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "x.db")).exit_code == 2
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "data.csv").write_text("a,b\n")
    with pytest.raises(BatchInputError, match="no .html"):
        read_sources(str(tmp_path / "empty"))  # a directory without pages


def test_private_urls_are_refused_unless_allowed(web, env, tmp_path):
    urls = tmp_path / "u.txt"
    urls.write_text(web.base + "/plain.txt\n")
    result = invoke(env, "run", str(urls), "--out", str(tmp_path / "r.db"), "--quiet")
    assert result.exit_code == 0
    ((status, code, error),) = rows(tmp_path / "r.db", "select status, error_code, error from documents")
    assert (status, code) == ("failed", "blocked_address") and "--allow-private-urls" in error


def test_export_jsonl_csv_and_claimreview(batch_db, env):
    _, out, _ = batch_db
    lines = invoke(env, "export", str(out)).output.splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == 13 and {"id", "status", "error", "counts", "sentences"} <= set(docs[0])
    claims = sum(d["counts"]["checkworthy"] for d in docs)

    table = list(csv.DictReader(io.StringIO(invoke(env, "export", str(out), "--format", "csv").output)))
    assert len(table) == sum(max(len(d["sentences"]), 1) for d in docs)
    assert {r["error_code"] for r in table} >= {"pdf", "timeout", "redirect_loop"}

    reviews = json.loads(invoke(env, "export", str(out), "--format", "claimreview").output)
    assert len(reviews) == claims
    names = {r["reviewRating"]["alternateName"] for r in reviews}
    assert names <= {
        "Supported by graded evidence (automated check)",
        "No supporting evidence found (automated check; not a rating of false)",
        "Contradicted by graded evidence (automated check)",
    }
    assert all(r["@type"] == "ClaimReview" and r["itemReviewed"]["appearance"]["url"] for r in reviews)


def test_a_killed_run_resumes_with_nothing_lost_or_duplicated(web, env, tmp_path):
    paths = [f"/page/{n}" for n in range(100, 112)]
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(web.base + p for p in paths) + "\n")
    out = tmp_path / "results.db"
    veracity = Path(sys.executable).parent / "veracity"
    args = [
        str(veracity),
        "batch",
        "run",
        str(urls),
        "--out",
        str(out),
        "--allow-private-urls",
        "--per-host",
        "1",
        "--chunk",
        "1",
        "--quiet",
    ]
    process = subprocess.Popen(
        [*args, "--delay", "0.5"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists():
                try:
                    done = rows(out, "select count(*) from documents where status != 'pending'")[0][0]
                except sqlite3.OperationalError:
                    done = 0  # the schema is being created
            if done >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert rows(out, "pragma integrity_check") == [("ok",)]
    finished_before = {k for (k,) in rows(out, "select key from documents where status != 'pending'")}
    assert 3 <= len(finished_before) < len(paths)

    result = invoke(env, "run", str(urls), "--out", str(out), "--allow-private-urls", "--delay", "0", "--quiet")
    assert result.exit_code == 0, result.output
    docs = rows(out, "select key, status, sentences, id from documents order by position")
    assert [k for k, *_ in docs] == [web.base + p for p in paths]  # nothing lost, nothing twice
    assert all(status == "checked" and n > 0 for _, status, n, _ in docs)
    for _, _, n, doc_id in docs:
        assert rows(out, "select idx from sentences where document_id = ? order by idx", (doc_id,)) == [
            (i,) for i in range(n)
        ]
    for key in finished_before:  # what was committed before the kill was not fetched again
        assert web.count(key.removeprefix(web.base)) == 1


def test_a_locked_results_file_ends_with_one_line_not_a_traceback(env, tmp_path):
    out = tmp_path / "results.db"
    ResultsStore(out).close()
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"id": "a", "text": "Methadone is a full opioid agonist."}\n')
    holder = sqlite3.connect(out)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, e.g. a second `batch run` on the same file
    try:
        result = invoke(env, "run", str(texts), "--out", str(out), "--lock-wait", "0.2", "--quiet")
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 1, result.output
    assert "locked by another process" in result.output and "Traceback" not in result.output
