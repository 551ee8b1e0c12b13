"""The Ray engine on a local cluster started here: the same documents give the same results as the local engine."""

from __future__ import annotations

import json
import math

import pytest
import ray

from veracity.service.batch import BatchOptions, ResultsStore, read_sources, run_batch
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
        docs = {d["id"]: d for d in store.iter_documents()}
    return stats, docs


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
    for key, doc in local.items():
        assert comparable(distributed[key]) == comparable(doc), key
        for a, b in zip(doc["sentences"], distributed[key]["sentences"]):
            assert (a["confidence"] is None) == (b["confidence"] is None)
            assert a["confidence"] is None or math.isclose(a["confidence"], b["confidence"], abs_tol=2e-3)
            assert a["top_similarity"] is None or math.isclose(a["top_similarity"], b["top_similarity"], abs_tol=2e-3)
    # four chunks went through at most two actors: each actor loads the models once and serves many chunks
    check_workers = [w for w in ray_stats.peak_rss_mb if w.startswith("ray-check-")]
    assert 1 <= len(check_workers) <= 2 and all(ray_stats.peak_rss_mb[w] > 100 for w in check_workers)
