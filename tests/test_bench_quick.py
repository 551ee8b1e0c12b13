"""The quick benchmark runs end to end and Veracity's retriever beats every baseline in the same run.

Slow (it loads every model and, on a cold cache, embeds a SciFact subset): excluded from ``make test``;
run with ``pytest -m slow tests/test_bench_quick.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "quick"  # quick runs never overwrite the full run's results


@pytest.mark.slow
def test_quick_bench_writes_every_table_and_veracity_ranks_best():
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    areas = json.loads((RESULTS / "SUMMARY.json").read_text(encoding="utf-8"))["areas"]
    for area in ("segmentation", "retrieval", "pipeline", "stance", "checkworthy", "batch", "speed"):
        assert areas[area]["status"] == "ok", proc.stdout[-3000:]
    summary = (RESULTS / "SUMMARY.md").read_text(encoding="utf-8")
    for heading in ("## Segmentation", "## Retrieval", "## Whole pipeline", "## Speed and memory"):
        assert heading in summary
    retrieval = json.loads((RESULTS / "retrieval.json").read_text(encoding="utf-8"))
    assert retrieval["veracity_beats_baselines"], retrieval["systems"]
    assert (RESULTS / "seed.md").exists()
