"""The web page and the browser extension in a real Chromium, compared with the API's own answers.

One run per module: the real server (`veracity serve`, with an 8 KB body limit so that long pages go in
several chunks), a local HTTP server for the fixture pages in tests/browser/fixtures/, and one node
process (tests/browser/run.mjs, playwright-core driving Debian's Chromium) that goes through every
browser scenario and reports what the browser showed. tests/browser/setup.sh installs Chromium and
playwright-core on a fresh machine.

The extension's check is triggered the way the toolbar button does it: by opening its popup (here as a
tab, `popup.html?tab=<id>`), which asks the service worker to check that tab.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

SERVER_ENV = {"VERACITY_MAX_BODY_BYTES": "8000"}
if os.environ.get("VERACITY_SCREENSHOTS") == "1":
    # The README's screenshots show the default corpus, not the 22-item test fixture.
    SERVER_ENV["VERACITY_CORPUS_DB"] = str(Path(__file__).resolve().parent.parent / "corpus" / "corpus.db")

TESTS = Path(__file__).parent
BROWSER = TESTS / "browser"
EXTENSION = TESTS.parent / "extension"
DOCS = TESTS.parent / "docs"
CHROMIUM = os.environ.get("VERACITY_CHROMIUM", "/usr/bin/chromium")
ASTRAL_TEXT = (
    "The \U0001d707-opioid receptor \U0001f33f binds kratom alkaloids.\n"
    "Methadone treatment lowers mortality in opioid dependence. \U0001d6fc Buprenorphine reduces illicit opioid use."
)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def fixture_site():
    handler = functools.partial(QuietHandler, directory=str(BROWSER / "fixtures"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def closed_url():
    """A loopback address where nothing listens: the port stays bound but never accepts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def report(server, fixture_site, closed_url, seed_text, tmp_path_factory):
    subprocess.run(["sh", str(BROWSER / "setup.sh")], check=True, timeout=900)
    out = tmp_path_factory.mktemp("browser")
    screenshots = {"webpage": out / "webpage.png", "extension": out / "extension-seed.png"}
    config = {
        "chromium": CHROMIUM,
        "apiUrl": server,
        "fixturesUrl": fixture_site,
        "closedUrl": closed_url,
        "extensionDir": str(EXTENSION),
        "report": str(out / "report.json"),
        "seedText": seed_text,
        "astralText": ASTRAL_TEXT,
        "tooLongText": seed_text * 3,
        "screenshots": {name: str(path) for name, path in screenshots.items()},
    }
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    run = subprocess.run(
        ["node", "run.mjs", str(out / "config.json")], cwd=BROWSER, capture_output=True, text=True, timeout=600
    )
    if run.returncode != 0:
        pytest.fail(f"tests/browser/run.mjs failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    result = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # The README's screenshots: written when missing, refreshed with VERACITY_SCREENSHOTS=1.
    for name, target in (("webpage", "webpage.png"), ("extension", "extension-seed.png")):
        if screenshots[name].exists() and (
            os.environ.get("VERACITY_SCREENSHOTS") == "1" or not (DOCS / target).exists()
        ):
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(screenshots[name], DOCS / target)
    result["screenshots"] = {name: str(path) for name, path in screenshots.items()}
    return result


def scenario(report, name: str) -> dict:
    result = report[name]
    if "error" in result:
        pytest.fail(f"browser scenario {name} failed:\n{result['error']}")
    return result


@pytest.fixture(scope="module")
def api_check(server):
    """POST /v1/check on the test server, each distinct text once per module."""
    answers: dict[str, dict] = {}

    def check(text: str) -> dict:
        if text not in answers:
            response = httpx.post(server + "/v1/check", json={"text": text}, timeout=120)
            assert response.status_code == 200, response.text
            answers[text] = response.json()
        return answers[text]

    return check


def checked(body: dict) -> list[dict]:
    return [s for s in body["sentences"] if s["verdict"] is not None]


def expected_article_text(seed_text: str) -> str:
    """The seed article as tests/browser/fixtures/seed_article.html shows it: a title, no list markers."""
    lines = [line.removeprefix("- ").removeprefix("– ") for line in seed_text.strip().split("\n")]
    return "\n".join(["Kratom, Prolactin and the \U0001d707-Opioid Receptor in Withdrawal", *lines])


# ---- The web page ----------------------------------------------------------------------------------


def test_webpage_highlights_every_checked_sentence_with_its_verdict(report, api_check, seed_text):
    web = scenario(report, "webpage")
    api = api_check(seed_text)
    expected = [(s["index"], s["verdict"]["label"], s["text"]) for s in checked(api)]
    assert expected, "the seed article should have check-worthy sentences"
    assert [(h["index"], h["label"], h["text"]) for h in web["seed"]["highlights"]] == expected
    icons = {"supported": "✓", "unsupported": "?", "contradicted": "✗"}
    not_covered = {s["index"] for s in checked(api) if s["verdict"]["reason_code"] == "not_covered"}
    for h in web["seed"]["highlights"]:
        assert f"verdict-{h['label']}" in h["classes"].split()
        expected_icon = "–" if h["index"] in not_covered else icons[h["label"]]  # "not covered" is its own state
        assert h["icon"] == expected_icon, "colour is not the only cue"
        assert h["focusable"]
    assert web["seed"]["summary"] == api["summary"]


def test_webpage_popover_shows_evidence_source_study_type_grade_and_confidence(report, api_check, seed_text):
    web = scenario(report, "webpage")
    sentence = next(s for s in api_check(seed_text)["sentences"] if s["index"] == web["popover"]["index"])
    verdict = sentence["verdict"]
    text = web["popover"]["text"]
    assert f"{round(verdict['confidence'] * 100)}% confidence" in text
    for evidence in verdict["evidence"]:
        assert evidence["source_url"] in web["popover"]["links"]
        assert evidence["statement"] in text
        assert f"GRADE: {evidence['grade']}" in text
        assert f"Study type: {evidence['study_type'].replace('_', ' ')}" in text


def test_webpage_sentences_are_reachable_by_keyboard(report):
    keyboard = scenario(report, "webpage")["keyboard"]
    assert keyboard["intoPopover"], "Enter on a sentence moves focus into its evidence"
    assert keyboard["back"] == {"hidden": True, "onSentence": True}, "Escape closes it and returns to the sentence"
    assert keyboard["tabMovesToNextSentence"]


def test_webpage_maps_code_point_offsets_past_astral_characters(report, api_check):
    web = scenario(report, "webpage")
    expected = [(s["verdict"]["label"], s["text"]) for s in checked(api_check(ASTRAL_TEXT))]
    assert expected
    assert [(h["label"], h["text"]) for h in web["astral"]["highlights"]] == expected


def test_webpage_shows_the_api_error_message(report):
    web = scenario(report, "webpage")
    assert "body_too_large" in web["tooLong"]
    assert web["staleResultsAfterError"] is False  # the previous text's results are gone, not shown under the error


def test_webpage_moves_focus_to_the_results_and_leaves_no_blank_scroll(report):
    seed = scenario(report, "webpage")["seed"]
    assert seed["focusOnResults"] is True
    assert seed["blankScroll"] < 80  # it was 750 px on desktop


def test_webpage_follows_the_dark_colour_scheme(report):
    dark = scenario(report, "webpage")["dark"]
    assert dark["page"] == "rgb(17, 19, 21)" and dark["panel"] == "rgb(27, 29, 32)"
    assert dark["ink"] == "rgb(236, 236, 236)"


def test_webpage_runs_under_its_strict_csp_without_violations(report):
    web = scenario(report, "webpage")
    assert web["cspViolations"] == []
    assert web["pageErrors"] == []


# ---- The extension ---------------------------------------------------------------------------------


def test_extension_manifest_asks_for_least_privilege():
    manifest = json.loads((EXTENSION / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == 3
    assert sorted(manifest["permissions"]) == ["activeTab", "scripting", "storage"]
    assert manifest["host_permissions"] == ["http://127.0.0.1/*", "http://localhost/*"]
    assert "content_scripts" not in manifest, "the content script is injected only when the user asks"
    for path in EXTENSION.rglob("*"):
        if path.suffix in (".js", ".html"):
            source = path.read_text(encoding="utf-8")
            assert "eval(" not in source and "new Function" not in source, path
            assert '<script src="http' not in source and "importScripts(" not in source, path


def test_extension_chunking_and_offset_helpers_pass_their_node_unit_tests():
    run = subprocess.run(
        ["node", "--test", "chunks.test.mjs"], cwd=BROWSER, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_extension_reads_the_article_without_navigation_scripts_or_hidden_text(report, seed_text):
    extracted = scenario(report, "extensionSeed")["extracted"]
    assert extracted.strip() == expected_article_text(seed_text)


def test_extension_highlights_seed_article_sentences_with_the_api_verdicts(report, api_check):
    seed = scenario(report, "extensionSeed")
    api = api_check(seed["extracted"])
    expected = [(s["verdict"]["label"], s["text"]) for s in checked(api)]
    assert expected
    assert [(h["label"], h["text"]) for h in seed["highlights"]] == expected
    for h in seed["highlights"]:
        assert f"veracity-hl-{h['label']}" in h["classes"].split()
        assert h["focusable"] and h["ariaLabel"].endswith(h["text"])
    crossing = {tag for h in seed["highlights"] if h["marks"] > 1 for tag in h["insideInline"]}
    assert {"a", "em", "strong"} <= crossing, "sentences across links and emphasis are highlighted in pieces"


def test_extension_popover_shows_verdict_confidence_and_evidence_sources(report, api_check):
    seed = scenario(report, "extensionSeed")
    sentences = checked(api_check(seed["extracted"]))
    popover = seed["popover"]
    verdict = sentences[popover["id"]]["verdict"]  # highlight ids count the checked sentences in order
    assert popover["label"] == verdict["label"]
    assert f"{round(verdict['confidence'] * 100)}% confidence" in popover["text"]
    for evidence in verdict["evidence"]:
        assert evidence["source_url"] in popover["links"]
        assert evidence["source_title"] in popover["text"]
        assert f"GRADE: {evidence['grade']}" in popover["text"]


def test_extension_popup_shows_the_summary_and_api_status(report, api_check, server):
    seed = scenario(report, "extensionSeed")
    api = api_check(seed["extracted"])
    assert seed["popup"]["summary"] == api["summary"]
    assert seed["popup"]["apiState"] == "ok" and server in seed["popup"]["api"]
    assert seed["popup"]["state"] == f"Checked: {len(checked(api))} sentences highlighted."
    assert "Veracity checked this page" in seed["banner"]


def test_extension_highlights_are_reachable_by_keyboard(report):
    keyboard = scenario(report, "extensionSeed")["keyboard"]
    assert keyboard == {"shownOnFocus": True, "intoPopover": True, "back": True, "hidden": True}


def test_extension_keeps_the_page_scripts_and_layout_working(report):
    seed = scenario(report, "extensionSeed")
    assert seed["pageScript"] == {"clicks": 1, "shown": "1", "receptorLinkHighlighted": True, "inlineScriptRan": True}
    assert seed["errors"] == []
    assert seed["during"]["text"] == seed["before"]["text"]
    assert seed["during"]["width"] == seed["before"]["width"]
    assert abs(seed["during"]["height"] - seed["before"]["height"]) < 0.1 * seed["before"]["height"]


def test_extension_clear_puts_the_page_text_nodes_back(report):
    seed = scenario(report, "extensionSeed")
    assert seed["after"] == seed["before"]
    assert seed["popupAfterClear"]["state"] == "Not checked yet."


def test_extension_sends_long_pages_in_chunks_with_progress(report):
    long = scenario(report, "extensionLong")
    seed = scenario(report, "extensionSeed")
    assert len(long["extracted"].encode()) > int(SERVER_ENV["VERACITY_MAX_BODY_BYTES"])
    chunks = int(long["popup"]["state"].split("sent in ")[1].split(" ")[0])
    assert chunks >= 2
    partial = [line for line in long["progressLog"] if "% of the text" in line and "100%" not in line]
    assert partial, f"no progress shown between chunks: {long['progressLog']}"
    # The long page is the seed article twice: the same sentences, highlighted in both copies.
    assert [h["text"] for h in long["highlights"]] == [h["text"] for h in seed["highlights"]] * 2


def test_extension_says_when_the_api_is_unreachable(report, closed_url):
    failures = scenario(report, "extensionFailures")
    assert "Veracity cannot reach its API" in failures["unreachable"]
    assert f"The Veracity API at {closed_url} could not be reached" in failures["unreachable"]
    assert failures["unreachableHighlights"] == 0
    assert failures["unreachablePopup"]["apiState"] == "error"
    assert "could not be reached" in failures["unreachablePopup"]["state"]
    assert failures["unreachablePopup"]["summaryVisible"] is False  # no counts under an error


def test_extension_shows_api_errors_in_the_page(report):
    failures = scenario(report, "extensionFailures")
    assert "The Veracity API returned an error" in failures["apiError"]
    assert "(not_found)" in failures["apiError"]


def test_extension_says_when_a_page_has_no_readable_text(report):
    failures = scenario(report, "extensionFailures")
    assert "No readable text on this page" in failures["noText"]
    assert "no readable text" in failures["noTextPopup"]["state"]


def test_screenshots_are_taken_for_the_readme(report):
    for name in ("webpage", "extension"):
        path = Path(report["screenshots"][name])
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (DOCS / "webpage.png").exists() and (DOCS / "extension-seed.png").exists()
