"""The web page blueprint: the page and its assets, sent with a strict Content-Security-Policy.

What the page does in a browser is in tests/test_browser.py; this checks what the server sends.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

STATIC = Path(__file__).parent.parent / "service" / "static"


class InlineCode(HTMLParser):
    """Collects whatever a CSP without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            if not names.get("src"):
                self.problems.append("inline <script>")
            self.scripts.append(names.get("src") or "")
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in ("href", "src") and value and value.lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name}")


def test_index_is_served_with_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_index_has_no_inline_script_or_style(client):
    parser = InlineCode()
    parser.feed(client.get("/").get_data(as_text=True))
    assert parser.problems == []
    assert parser.scripts == ["assets/wording.js", "assets/app.js"]


def test_assets_are_served_with_the_same_headers(client):
    assets = (("app.js", "text/javascript"), ("wording.js", "text/javascript"), ("app.css", "text/css"))
    for path, mimetype in (*assets, ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/assets/{path}")
        assert response.status_code == 200, path
        assert response.mimetype == mimetype
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_page_script_never_writes_api_text_as_html():
    source = (STATIC / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source)


def test_api_routes_are_unchanged_by_the_web_blueprint(client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.get_json()["ok"] is True
    assert client.get("/static/app.js").status_code == 404


def js_function(path: Path, name: str) -> str:
    """The body of a top-level JS function, from its opening line to the closing brace at its indent."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s*(export )?function {name}\(", line))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == " " * indent + "}")
    return "\n".join(line[indent:] for line in lines[start + 1 : end])


def test_the_page_maps_api_offsets_to_js_indices_as_the_extension_does():
    # Two copies on purpose: the extension ships alone and cannot load the service's files. This keeps them equal.
    extension = Path(__file__).parent.parent / "extension" / "lib" / "api.js"
    assert js_function(STATIC / "app.js", "codePointToUtf16") == js_function(extension, "codePointToUtf16")
    assert "table.push(utf16)" in js_function(extension, "codePointToUtf16")


def test_the_page_and_the_extension_word_verdicts_with_one_identical_file():
    # The extension ships alone and cannot load the service's files, so wording.js is two copies kept byte-identical;
    # both surfaces take a verdict's words from its describeVerdict, and neither keeps labels of its own.
    extension = Path(__file__).parent.parent / "extension"
    assert (STATIC / "wording.js").read_bytes() == (extension / "lib" / "wording.js").read_bytes()
    for user in (STATIC / "app.js", extension / "content" / "content.js"):
        source = user.read_text(encoding="utf-8")
        assert "describeVerdict(" in source, user
        assert "Not covered by the corpus" not in source and "UNSUPPORTED_BECAUSE" not in source, user
    background = (extension / "background.js").read_text(encoding="utf-8")
    assert '"lib/wording.js", "content/content.js"' in background  # injected first: content.js reads it
