"""The Ray engine on a local cluster started here: the same documents give the same results as the local engine,
and its check actors write those results themselves, to shards that a run killed at any point resumes from."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import pytest
import ray

from veracity.service.batch import BatchOptions, ResultsStore, Source, read_sources, run_batch
from veracity.service.batch.export import write_csv, write_jsonl
from veracity.service.batch.shards import read_shard, shard_dir_for
from veracity.service.fetch import FetchConfig

FETCH = FetchConfig(allow_private=True, timeout_s=2, retries=1, backoff_s=0.05, delay_s=0.0)
PATHS = [
    "/methadone.html",
    "/kratom.html",
    "/redirect/2",
    "/broken.html",
    "/latin1.html",
    "/plain.txt",
    "/missing",
    "/report.pdf",
    "/loop/a",
    *(f"/page/{n}" for n in range(300, 306)),
]


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024 * 1024)
    yield
    ray.shutdown()


def run(path, inputs, settings, **options):
    sources, _ = read_sources(str(inputs))
    with ResultsStore(path) as store:
        store.ensure_job("default", {})
        store.register("default", sources)
        stats = run_batch(store, "default", settings, BatchOptions(fetch=FETCH, chunk_docs=4, **options))
    return stats, exported(path)


def exported(path: Path) -> dict[str, dict]:
    """The documents as ``batch export --format jsonl`` writes them, by id."""
    out = io.StringIO()
    with ResultsStore(path) as store:
        write_jsonl(store.iter_documents(), out)
    return {d["id"]: d for d in map(json.loads, out.getvalue().splitlines())}


def csv_export(path: Path) -> list[dict]:
    out = io.StringIO()
    with ResultsStore(path) as store:
        write_csv(store.iter_documents(), out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def comparable(doc: dict) -> dict:
    keep = ("status", "error", "title", "published", "final_url", "text_sha256", "counts")
    # scores are compared with a tolerance below: a different batch composition changes float rounding, which
    # can also swap two evidence items whose scores tie to the third decimal, so evidence is compared as a set
    sentences = [
        {k: v for k, v in s.items() if k not in ("confidence", "top_similarity", "evidence_ids")}
        | {"evidence_ids": sorted(s["evidence_ids"] or [])}
        for s in doc["sentences"]
    ]
    return {**{k: doc[k] for k in keep}, "sentences": sentences}


def assert_same_results(expected: dict[str, dict], actual: dict[str, dict]) -> None:
    """Equal documents and sentences; scores equal to within what a different chunk composition changes."""
    assert set(actual) == set(expected)
    for key, doc in expected.items():
        assert comparable(actual[key]) == comparable(doc), key
        for a, b in zip(doc["sentences"], actual[key]["sentences"]):
            assert (a["confidence"] is None) == (b["confidence"] is None)
            assert a["confidence"] is None or math.isclose(a["confidence"], b["confidence"], abs_tol=2e-3)
            assert a["top_similarity"] is None or math.isclose(a["top_similarity"], b["top_similarity"], abs_tol=2e-3)


def test_ray_engine_matches_the_local_engine(ray_cluster, web, settings, tmp_path):
    inputs = tmp_path / "in.jsonl"
    records = [{"url": web.base + p} for p in PATHS] + [
        {"id": "t1", "text": "Kratom cures opioid addiction in every patient within three days."}
    ]
    inputs.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    local_stats, local = run(tmp_path / "local.db", inputs, settings)
    ray_stats, distributed = run(tmp_path / "ray.db", inputs, settings, engine="ray", workers=2)

    assert set(local) == set(distributed) and len(local) == len(records)
    assert {k: d["error"] for k, d in distributed.items() if d["error"]} == {
        k: d["error"] for k, d in local.items() if d["error"]
    }
    assert (
        (ray_stats.checked, ray_stats.failed, ray_stats.skipped)
        == (local_stats.checked, local_stats.failed, local_stats.skipped)
        == (13, 2, 1)
    )
    assert_same_results(local, distributed)  # the JSONL export, whichever engine wrote the results file
    assert all(set(distributed[k]) == set(doc) for k, doc in local.items())
    local_rows, ray_rows = csv_export(tmp_path / "local.db"), csv_export(tmp_path / "ray.db")
    same = ("document_id", "status", "error_code", "sentence_index", "text", "label")
    assert [[r[c] for c in same] for r in ray_rows] == [[r[c] for c in same] for r in local_rows]
    # four chunks went through at most two actors: each actor loads the models once and serves many chunks
    check_workers = [w for w in ray_stats.peak_rss_mb if w.startswith("ray-check-")]
    assert 1 <= len(check_workers) <= 2 and all(ray_stats.peak_rss_mb[w] > 100 for w in check_workers)
    assert not shard_dir_for(tmp_path / "ray.db").exists()  # the run merged its shards and removed them


def test_check_actors_write_their_own_shards_and_a_killed_run_resumes_from_them(ray_cluster, web, settings, tmp_path):
    paths = [f"/page/{n}" for n in range(310, 318)]
    sources = [Source(key=web.base + p, url=web.base + p) for p in paths]
    first = tmp_path / "first.db"
    shards, snapshot = shard_dir_for(first), tmp_path / "snapshot"
    acknowledged: list[str] = []
    not_on_disk: list[str] = []
    sentences_sent: list[int] = []

    def watch(results) -> None:
        """In the driver, as acknowledgements arrive: each document is already in a shard; keep a copy of them."""
        acknowledged.extend(r.key for r in results)
        sentences_sent.extend(len(r.sentences) for r in results)
        written = {item[1].key for path in shards.glob("*.jsonl") for item in read_shard(path) if item}
        not_on_disk.extend(r.key for r in results if r.key not in written)
        shutil.rmtree(snapshot, ignore_errors=True)
        shutil.copytree(shards, snapshot)

    with ResultsStore(first) as store:
        store.ensure_job("default", {})
        store.register("default", sources)
        options = BatchOptions(fetch=FETCH, chunk_docs=2, engine="ray", workers=2)
        stats = run_batch(store, "default", settings, options, progress=watch)
        assert store.progress("default")["checked"] == len(paths)
    assert sorted(acknowledged) == sorted(s.key for s in sources) and not_on_disk == []
    assert set(sentences_sent) == {0}  # the driver got counts, never the sentences themselves
    # one shard per check actor that was given work, named after its process
    check_pids = {w.removeprefix("ray-check-") for w in stats.peak_rss_mb if w.startswith("ray-check-")}
    files = sorted(snapshot.glob("*.jsonl"))
    assert {f.stem.split("-")[-2] for f in files} == check_pids and len(files) == len(check_pids)
    assert not shards.exists()  # merged at the end of the run

    # A run killed before its merge leaves shards like the snapshot, the worker writing its last line cut short.
    second = tmp_path / "second.db"
    shutil.copytree(snapshot, shard_dir_for(second))
    longest = max(shard_dir_for(second).glob("*.jsonl"), key=lambda f: len(f.read_text().splitlines()))
    text = longest.read_text()
    cut = json.loads(text.splitlines()[-1])["key"]
    longest.write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
    fetched_before = {p: web.count(p) for p in paths}
    with ResultsStore(second) as store:
        store.ensure_job("default", {})
        store.register("default", sources)
        stats = run_batch(store, "default", settings, BatchOptions(fetch=FETCH, chunk_docs=2, engine="ray", workers=1))
        assert store.progress("default")["pending"] == 0
    assert stats.documents == 1  # every whole shard line counted as done; only the cut document was checked again
    fetched = {p: web.count(p) - fetched_before[p] for p in paths if web.count(p) > fetched_before[p]}
    assert list(fetched) == [cut.removeprefix(web.base)]
    assert_same_results(exported(first), exported(second))
