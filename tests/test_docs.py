"""The README documents every setting and shows corpus statistics that match the shipped data."""

from __future__ import annotations

from pathlib import Path

from veracity.service.cli_corpus import stats_markdown
from veracity.service.settings import SETTINGS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    missing = [name for name, _, _ in SETTINGS if f"`{name}`" not in README]
    assert missing == []


def test_readme_corpus_stats_match_the_data():
    block = README.split("<!-- corpus-stats -->\n", 1)[1].split("<!-- /corpus-stats -->", 1)[0]
    assert block == stats_markdown(), "regenerate with: veracity corpus stats --markdown"


def test_readme_config_table_matches_the_settings():
    from veracity.service.settings import settings_markdown

    block = README.split("<!-- config -->\n", 1)[1].split("<!-- /config -->", 1)[0]
    assert block == settings_markdown(), "regenerate with: veracity config"


def test_the_package_docstring_examples_are_todays_real_output():
    """`help(veracity)` is often the first thing a Python user reads: its examples run against the shipped models."""
    import doctest

    import veracity

    result = doctest.testmod(veracity, verbose=False)
    assert result.attempted >= 4 and result.failed == 0
