"""Fetching, decoding and extraction against a real local web server that misbehaves on purpose."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fixtures_web.server import SLOW_S, FixtureServer

from veracity.service.fetch import FetchConfig, Fetcher, address_problem, page_from_file, url_problem

FIXTURES = Path(__file__).parent / "fixtures_web"
LOCAL = FetchConfig(allow_private=True, timeout_s=0.5, retries=1, backoff_s=0.05, delay_s=0.0, max_bytes=1_000_000)


@pytest.fixture(scope="module")
def fetcher():
    with Fetcher(LOCAL) as f:
        yield f


def test_article_main_text_title_and_date_are_extracted_without_boilerplate(web, fetcher):
    page = fetcher.fetch(web.base + "/methadone.html")
    assert page.status == "ok" and page.http_status == 200 and page.error is None
    assert page.title == "Methadone saves lives, the data show"
    assert page.published == "2024-03-18"
    assert "11.3 per 1000 person-years" in page.text
    for boilerplate in ("Subscribe now", "Copyright 2024", "belly fat", "Log in"):
        assert boilerplate not in page.text
    assert len(page.text_sha256) == 64


def test_redirect_chain_is_followed_to_the_final_url(web, fetcher):
    page = fetcher.fetch(web.base + "/redirect/3")
    assert page.status == "ok"
    assert page.final_url == web.base + "/methadone.html" and page.redirects == 3


def test_redirect_chain_longer_than_the_limit_fails(web):
    with Fetcher(FetchConfig(**{**LOCAL.__dict__, "max_redirects": 2})) as f:
        page = f.fetch(web.base + "/redirect/4")
    assert (page.status, page.error_code) == ("failed", "too_many_redirects")
    assert "give the final URL" in page.error


def test_redirect_loop_is_detected(web, fetcher):
    page = fetcher.fetch(web.base + "/loop/a")
    assert (page.status, page.error_code) == ("failed", "redirect_loop")
    assert "/loop/b" in page.error


def test_404_fails_with_the_http_status_and_no_retry(web, fetcher):
    before = web.count("/missing")
    page = fetcher.fetch(web.base + "/missing")
    assert (page.status, page.error_code, page.http_status) == ("failed", "http_error", 404)
    assert "check the URL" in page.error
    assert web.count("/missing") - before == 1


def test_500_then_ok_is_retried_with_backoff(web, fetcher):
    page = fetcher.fetch(web.base + "/flaky/one")
    assert page.status == "ok" and page.attempts == 2
    assert web.count("/flaky/one") == 2


def test_slow_page_times_out_after_retries(web, fetcher):
    started = time.monotonic()
    page = fetcher.fetch(web.base + "/slow")
    assert (page.status, page.error_code, page.attempts) == ("failed", "timeout", 2)
    assert "try again later" in page.error
    assert time.monotonic() - started < SLOW_S


@pytest.mark.parametrize("path", ["/huge", "/declared-huge"])
def test_pages_over_the_size_cap_are_skipped(web, fetcher, path):
    page = fetcher.fetch(web.base + path)
    assert (page.status, page.error_code) == ("skipped", "too_large")
    assert "--max-bytes" in page.error


def test_pdf_and_images_are_skipped_with_a_reason(web, fetcher):
    pdf = fetcher.fetch(web.base + "/report.pdf")
    assert (pdf.status, pdf.error_code) == ("skipped", "pdf") and "PDF" in pdf.error
    image = fetcher.fetch(web.base + "/image.png")
    assert (image.status, image.error_code) == ("skipped", "unsupported_content_type") and "image/png" in image.error


def test_broken_html_still_yields_its_paragraphs(web, fetcher):
    page = fetcher.fetch(web.base + "/broken.html")
    assert page.status == "ok" and page.title == "Vitamin C and colds"
    assert "category of foods rather than as drugs" in page.text
    assert "Short-term melatonin use" in page.text


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("latin1.html", "cp1252", "Une étude récente suggère que le café"),  # charset in the header
        ("cp1252_meta.html", "cp1252", "A month’s supply costs €40"),  # charset only in <meta>
        ("shift_jis.html", "shift_jis", "短期間のメラトニン使用"),
    ],
)
def test_non_utf8_pages_are_decoded_from_header_or_meta_charset(web, fetcher, name, encoding, expected):
    page = fetcher.fetch(f"{web.base}/{name}")
    assert page.status == "ok" and page.encoding == encoding
    assert expected in page.text and "\ufffd" not in page.text


def test_plain_text_is_checked_as_is(web, fetcher):
    page = fetcher.fetch(web.base + "/plain.txt")
    assert page.status == "ok" and page.title is None
    assert page.text.startswith("Vaccines and autism\n")


def test_requests_to_one_host_are_spaced_by_the_politeness_delay(web):
    config = FetchConfig(**{**LOCAL.__dict__, "delay_s": 0.3, "per_host": 1})
    paths = [f"/page/{n}" for n in range(900, 904)]
    with Fetcher(config) as f, ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(f.fetch, [web.base + p for p in paths]))
    assert all(p.status == "ok" for p in pages)
    starts = sorted(t for t, p in web.hits if p in paths)
    gaps = [round(b - a, 3) for a, b in zip(starts, starts[1:])]
    # requests start 0.3 s apart; the server's clock sees them with some scheduling jitter on a busy machine
    assert len(starts) == 4 and min(gaps) >= 0.2 and starts[-1] - starts[0] >= 0.85, gaps


def test_local_files_are_extracted_like_pages():
    page = page_from_file(FIXTURES / "cp1252_meta.html", "cp1252_meta.html")
    assert page.status == "ok" and "€40" in page.title
    assert page_from_file(FIXTURES / "report.pdf", "report.pdf").error_code == "pdf"


# --- SSRF guard: only loopback is ever contacted; other ranges are checked without a connection ----------


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),
        ("100.64.0.1", "a reserved address"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("2002:7f00:1::", "a loopback address"),  # 6to4 wrapping 127.0.0.1
        ("2002:a9fe:a9fe::", "a link-local address"),  # 6to4 wrapping 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a private address"),  # Teredo wrapping 192.0.2.45
        ("2002:808:808::", None),  # 6to4 wrapping 8.8.8.8 is as public as 8.8.8.8
    ],
)
def test_address_classification(ip, problem):
    assert address_problem(ip) == problem


def test_literal_private_urls_are_refused_before_any_request():
    assert "loopback" in url_problem("http://127.0.0.1:8080/x")
    assert "link-local" in url_problem("http://169.254.169.254/latest/meta-data/")
    assert url_problem("http://localhost/") is None  # a name: vetted after DNS resolution, on connect
    assert "not an http" in url_problem("file:///etc/passwd")
    assert url_problem("http://127.0.0.1/", allow_private=True) is None
    assert "password" in url_problem("https://user:secret@example.org/article")


def test_guard_refuses_loopback_by_default_even_behind_a_name(web):
    with Fetcher(FetchConfig(timeout_s=0.5, retries=0, delay_s=0)) as f:
        before = len(web.hits)
        literal = f.fetch(web.base + "/methadone.html")
        port = web.server_address[1]
        named = f.fetch(f"http://localhost:{port}/methadone.html")  # a name: refused after DNS resolution
        ipv6 = f.fetch(f"http://[::1]:{port}/methadone.html")
    assert literal.error_code == named.error_code == ipv6.error_code == "blocked_address"
    assert "localhost resolves to 127.0.0.1, a loopback address" in named.error
    assert "VERACITY_ALLOW_PRIVATE_URLS" in named.error
    assert len(web.hits) == before  # nothing reached the server


def test_guard_checks_every_redirect_hop(web):
    public = FixtureServer("127.0.0.2")  # stands in for a public site: allowed by an explicit exception
    import threading

    threading.Thread(target=public.serve_forever, daemon=True).start()
    try:
        config = FetchConfig(timeout_s=0.5, retries=0, delay_s=0, allowed_networks=("127.0.0.2/32",))
        port = web.server_address[1]
        with Fetcher(config) as f:
            assert f.fetch(public.base + "/kratom.html").status == "ok"
            before = len(web.hits)
            via_ip = f.fetch(f"{public.base}/to?url=http://127.0.0.1:{port}/methadone.html")
            via_name = f.fetch(f"{public.base}/to?url=http://localhost:{port}/methadone.html")
            via_file = f.fetch(f"{public.base}/to?url=file:///etc/passwd")
        assert via_ip.error_code == via_name.error_code == "blocked_address"
        assert "redirected from" in via_ip.error and "loopback" in via_name.error
        assert via_file.error_code == "invalid_redirect"
        assert len(web.hits) == before
    finally:
        public.stop()


def test_a_host_name_that_cannot_be_encoded_is_refused_up_front():
    assert "internationalised domain name" in url_problem("https://" + "a" * 64 + ".com/page")
    assert "internationalised domain name" in url_problem("https://ex..ample.com/")
    assert url_problem("https://example.org/article") is None
