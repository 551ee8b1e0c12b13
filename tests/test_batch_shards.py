"""Shards: results written where they were checked, then merged into the results file as if saved there.

No Ray here: the shard writer and the merge are plain files and SQLite, so these tests write shards in this
process from results of the real pipeline; ``tests/test_batch_ray.py`` has Ray's check actors write them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from veracity.service.batch import BatchOptions, ResultsStore, Source, merge_shards, run_batch
from veracity.service.batch.check import check_pages
from veracity.service.batch.export import write_csv, write_jsonl
from veracity.service.batch.shards import ShardWriter, read_shard, shard_dir_for
from veracity.service.cli import main
from veracity.service.fetch import Page

JOB = "default"
TEXTS = {
    "methadone": "Methadone maintenance halves the risk of death in people with opioid dependence. Ask your doctor.",
    "empty": "",
    "kratom": "Kratom cures opioid addiction in every patient within three days.",
    "buprenorphine": "Buprenorphine keeps people with opioid dependence in treatment. Share this with a friend.",
}


@pytest.fixture(scope="module")
def results(app):
    """One chunk checked by the real pipeline, as a check actor would: three texts and one that has none."""
    pages = [
        (key, Page(None, "ok", text=text) if text else Page(None, "failed", error_code="no_text", error="empty"))
        for key, text in TEXTS.items()
    ]
    return check_pages(app.extensions["veracity"], pages)


def new_store(path: Path) -> ResultsStore:
    store = ResultsStore(path)
    store.ensure_job(JOB, {})
    store.register(JOB, [Source(key=key, text=text) for key, text in TEXTS.items()])
    return store


def write_shards(directory: Path, results, per_shard: int = 2) -> list[Path]:
    """Results split over shards as two check actors would leave them, closed as if their actors had exited."""
    paths = []
    for i in range(0, len(results), per_shard):
        writer = ShardWriter(directory, JOB)
        writer.write(results[i : i + per_shard])
        writer.close()
        paths.append(writer.path)
    return paths


def table(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def export(store: ResultsStore) -> tuple[list[dict], str]:
    """The JSONL and CSV exports, without the time each document was checked (the one column that differs)."""
    import io

    jsonl, csv = io.StringIO(), io.StringIO()
    write_jsonl(store.iter_documents(JOB), jsonl)
    write_csv(store.iter_documents(JOB), csv)
    documents = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    return [{k: v for k, v in d.items() if k != "checked_at"} for d in documents], csv.getvalue()


def test_merged_shards_give_the_rows_and_exports_that_saving_directly_gives(results, tmp_path):
    with new_store(tmp_path / "saved.db") as saved:
        saved.save(JOB, results)
        expected = export(saved)
    with new_store(tmp_path / "merged.db") as merged:
        shards = write_shards(shard_dir_for(merged.path), results)
        assert [len(list(read_shard(p))) for p in shards] == [2, 2]
        report = merge_shards(merged)
        assert (report.files, report.merged, report.already, report.partial) == (2, 4, 0, 0)
        assert export(merged) == expected
        assert merged.progress(JOB)["pending"] == 0
    for sql in ("select * from sentences order by document_id, idx", "select key, status, sentences from documents"):
        assert table(tmp_path / "merged.db", sql) == table(tmp_path / "saved.db", sql)
    assert not shard_dir_for(tmp_path / "merged.db").exists()  # merged shards are removed, then their folder


def test_merging_the_same_shards_twice_stores_each_document_once(results, tmp_path):
    with new_store(tmp_path / "results.db") as store:
        shards = shard_dir_for(store.path)
        write_shards(shards, results)
        backup = shutil.copytree(shards, tmp_path / "backup")
        merge_shards(store)
        before = table(store.path, "select * from documents order by id"), table(store.path, "select * from sentences")

        shutil.copytree(backup, shards)  # as if a merge had committed and was killed before removing its files
        report = merge_shards(store)
        assert (report.merged, report.already) == (0, 4)
        assert (
            table(store.path, "select * from documents order by id"),
            table(store.path, "select * from sentences"),
        ) == before


def test_a_line_cut_short_by_a_killed_worker_is_skipped_and_its_document_checked_again(
    app, settings, results, tmp_path
):
    with new_store(tmp_path / "results.db") as store:
        last = write_shards(shard_dir_for(store.path), results)[-1]
        text = last.read_text(encoding="utf-8")
        last.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1], encoding="utf-8")  # half a line
        cut = results[-1].key

        report = merge_shards(store)
        assert (report.merged, report.partial) == (3, 1)
        assert [s.key for s in store.pending_sources(JOB)] == [cut]

        stats = run_batch(store, JOB, settings, BatchOptions(), pipeline=app.extensions["veracity"])
        assert stats.documents == 1 and store.progress(JOB)["pending"] == 0


def test_a_run_merges_what_a_killed_run_left_before_checking_anything(app, settings, results, tmp_path):
    with new_store(tmp_path / "results.db") as store:
        write_shards(shard_dir_for(store.path), results[:3])  # the fourth document never reached a shard
        stats = run_batch(store, JOB, settings, BatchOptions(), pipeline=app.extensions["veracity"])
        assert stats.documents == 1  # only the missing one was checked
        assert store.progress(JOB)["pending"] == 0
        assert not shard_dir_for(store.path).exists()


def test_a_shard_still_being_written_is_merged_but_left_for_its_writer(results, tmp_path):
    with new_store(tmp_path / "results.db") as store:
        writer = ShardWriter(shard_dir_for(store.path), JOB)
        writer.write(results[:2])
        report = merge_shards(store)  # e.g. `veracity batch merge` while a run goes on
        assert report.merged == 2 and report.busy == [writer.path] and writer.path.exists()

        writer.write(results[2:])  # the writer carries on into the same file
        writer.close()
        report = merge_shards(store)
        assert (report.merged, report.already, report.busy) == (2, 2, [])
        assert not writer.path.exists()


def test_lines_for_another_results_file_are_left_in_place(results, tmp_path):
    with new_store(tmp_path / "results.db") as store:
        shards = shard_dir_for(store.path)
        stranger = ShardWriter(shards, "a-job-this-file-does-not-have")
        stranger.write(results[:1])
        stranger.close()
        report = merge_shards(store)
        assert (report.merged, report.unknown, report.kept) == (0, 1, [stranger.path])
        assert stranger.path.exists()


def test_batch_merge_command_folds_shards_in_and_says_what_it_did(results, tmp_path):
    with new_store(tmp_path / "results.db") as store:
        last = write_shards(shard_dir_for(store.path), results)[-1]
    last.write_text(last.read_text(encoding="utf-8")[:-20], encoding="utf-8")

    result = CliRunner().invoke(main, ["batch", "merge", str(tmp_path / "results.db")])
    assert result.exit_code == 0, result.output
    assert "merged 3 documents from 2 shard files" in result.output
    assert "1 line cut short" in result.output and "1 document is still pending" in result.output

    again = CliRunner().invoke(main, ["batch", "merge", str(tmp_path / "results.db")])
    assert again.exit_code == 0 and "nothing to merge" in again.output  # the first merge removed the shards
