"""The corpus that ships passes its own audit: sourced, graded, well-formed, no duplicates from one source."""

from __future__ import annotations

from click.testing import CliRunner

from veracity.corpus import builder
from veracity.corpus.importers import read_items
from veracity.service.cli import main


def test_default_corpus_passes_the_audit():
    result = CliRunner().invoke(main, ["corpus", "audit", "--data", str(builder.DATA_DIR)])
    assert result.exit_code == 0, result.output
    assert "0 failures, 0 near-duplicates" in result.output


def test_default_corpus_is_graded_and_covers_the_seed_domain():
    items = [i for path in builder.data_files() for i in read_items(path)]
    assert len(items) >= 1100
    assert all(i["grade"] in ("high", "moderate", "low", "very_low") for i in items)
    assert all(
        i.get("accessed") or i["id"].split("-")[0] in ("kratom", "prolactin", "opioids", "health") for i in items
    )
    topics = {i["topic"] for i in items}
    assert {"kratom", "prolactin"} <= topics
    assert any("lofexidine" in i["statement"].lower() for i in items)
