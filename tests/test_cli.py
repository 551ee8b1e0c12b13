"""The ``veracity`` command through click's runner, against real database files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from veracity.service.cli import main

DATA = Path(__file__).parent / "data"


def test_corpus_import_then_stats_and_export(tmp_path):
    db = tmp_path / "c.db"
    runner = CliRunner()
    result = runner.invoke(main, ["corpus", "import", str(DATA / "evidence.jsonl"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "Imported 22 items" in result.output
    stats = json.loads(runner.invoke(main, ["corpus", "stats", "--db", str(db), "--json"]).output)
    assert stats["items"] == 22 and sum(stats["by_grade"].values()) == 22
    lines = runner.invoke(main, ["corpus", "export", "--db", str(db)]).output.splitlines()
    assert len(lines) == 22 and "embedding" not in json.loads(lines[0])


def test_corpus_import_of_bad_file_fails_cleanly(tmp_path):
    db = tmp_path / "c.db"
    result = CliRunner().invoke(main, ["corpus", "import", str(DATA / "bad_evidence.jsonl"), "--db", str(db)])
    assert result.exit_code == 1
    assert "line 2: grade" in result.output and "Traceback" not in result.output
    assert not db.exists()


def test_bad_setting_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("VERACITY_TOP_K", "many")
    result = CliRunner().invoke(main, ["corpus", "stats", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "VERACITY_TOP_K='many' is not valid" in result.output


def test_a_damaged_model_file_stops_with_the_folder_and_the_fix(monkeypatch, tmp_path):
    import shutil

    from veracity.service.settings import Settings

    damaged = tmp_path / "stance"
    shutil.copytree(Settings().stance_model, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a download cut short
    monkeypatch.setenv("VERACITY_STANCE_MODEL", str(damaged))
    result = CliRunner().invoke(main, ["check", "-"], input="Kratom is a plant native to Southeast Asia.")
    assert result.exit_code == 1
    assert f"cannot load the stance model in {damaged}" in result.output
    assert "VERACITY_STANCE_MODEL" in result.output and "Traceback" not in result.output


def test_a_corpus_import_killed_midway_leaves_a_sound_file_and_runs_again(tmp_path):
    """``kill -9`` while the embedder works: the file passes SQLite's integrity check and holds no partial import
    (one transaction); the same command then imports everything."""
    items = [json.loads(line) for line in (DATA / "evidence.jsonl").read_text(encoding="utf-8").splitlines()]
    big = tmp_path / "big.jsonl"
    with big.open("w", encoding="utf-8") as fh:
        for i in range(4000):
            item = dict(items[i % len(items)], id=f"bulk-{i:05d}")
            item["statement"] = f"{item['statement']} (record {i})"
            fh.write(json.dumps(item) + "\n")
    db = tmp_path / "c.db"
    veracity = Path(sys.executable).parent / "veracity"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    process = subprocess.Popen(
        [str(veracity), "corpus", "import", str(big), "--db", str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        time.sleep(6)  # models loaded, embedding under way
        assert process.poll() is None, "the import finished before it could be killed; make the file larger"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
            if "evidence" in tables:
                assert conn.execute("select count(*) from evidence").fetchone() == (0,)
    result = CliRunner().invoke(main, ["corpus", "import", str(big), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from evidence").fetchone() == (4000,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
