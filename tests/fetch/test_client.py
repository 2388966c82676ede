"""EdgarClient against a real loopback server over the mirror, with injected faults."""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time
from pathlib import Path

import pytest

from monitor.errors import ConfigError, FetchError, NotFoundError, ThrottledError
from monitor.fetch.client import EdgarClient
from monitor.fetch.ratelimit import RateLimiter
from monitor.settings import EdgarSettings
from tests.conftest import TEST_USER_AGENT
from tests.edgar_server import EdgarTestServer

NVDA_SUBMISSIONS = "https://data.sec.gov/submissions/CIK0001045810.json"
NVDA_10K = "https://www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm"
TICKERS = "https://www.sec.gov/files/company_tickers.json"


def mirror_bytes(mirror: Path, url: str) -> bytes:
    return (mirror / url.removeprefix("https://")).read_bytes()


def test_body_is_the_mirror_file_with_user_agent_and_gzip_on_every_request(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    with EdgarClient(edgar_settings) as client:
        for url in (NVDA_SUBMISSIONS, NVDA_10K, TICKERS):
            assert client.get(url) == mirror_bytes(mirror, url)
    requests = edgar_server.requests
    assert [r.path for r in requests] == [
        "/data.sec.gov/submissions/CIK0001045810.json",
        "/www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm",
        "/www.sec.gov/files/company_tickers.json",
    ]
    assert {r.headers["user-agent"] for r in requests} == {TEST_USER_AGENT}
    assert all("gzip" in r.headers["accept-encoding"] and r.gzipped for r in requests)


def test_rate_limit_holds_across_threads_and_retries(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer
) -> None:
    for _ in range(4):
        edgar_server.inject("503", retry_after="0")
        edgar_server.inject("429", retry_after="0")
    settings = dataclasses.replace(edgar_settings, rate_per_s=10.0)
    limiter = RateLimiter()  # one budget, shared as the process-wide one is
    clients = [EdgarClient(settings, limiter=limiter) for _ in range(3)]
    urls = [f"https://data.sec.gov/submissions/CIK{n:010d}.json" for n in (1045810, 320193)]
    errors: list[BaseException] = []

    def fetch_all(client: EdgarClient) -> None:
        try:
            for _ in range(4):
                for url in urls:
                    client.get_json(url)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=fetch_all, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    assert errors == []
    statuses = [r.status for r in edgar_server.requests]
    assert statuses.count(503) == 4 and statuses.count(429) == 4
    assert len(statuses) >= 24 + 8  # every fault was answered by a retry
    assert edgar_server.max_requests_in_window(1.0) <= 10


def test_default_rate_of_8_per_second(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer
) -> None:
    settings = dataclasses.replace(edgar_settings, rate_per_s=8.0)
    with EdgarClient(settings, limiter=RateLimiter()) as client:
        for _ in range(17):
            client.get(NVDA_SUBMISSIONS)
    requests = edgar_server.requests
    assert len(requests) == 17
    assert requests[-1].at - requests[0].at >= 16 / 8 - 0.05  # 8 a second on average
    assert edgar_server.max_requests_in_window(1.0) <= 10  # and never above SEC's 10


def test_retry_after_is_honoured(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    edgar_server.inject("429", retry_after="1")
    with EdgarClient(edgar_settings) as client:
        assert client.get(TICKERS) == mirror_bytes(mirror, TICKERS)
    first, second = edgar_server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


@pytest.mark.parametrize(("kind", "error"), [("503", ThrottledError), ("500", FetchError)])
def test_retries_stop_at_the_bound(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, kind: str, error: type
) -> None:
    edgar_server.inject(kind, times=100, retry_after="1")
    settings = dataclasses.replace(edgar_settings, max_retry_wait_s=2.5)
    started = time.monotonic()
    with EdgarClient(settings) as client, pytest.raises(error) as caught:
        client.get(TICKERS)
    assert caught.type is error
    assert caught.value.url == edgar_server.www_url + "/files/company_tickers.json"
    assert caught.value.url in str(caught.value)
    assert caught.value.status_code == int(kind)
    assert 2 <= len(edgar_server.requests) <= 3  # waits of >= 1 s each, 2.5 s in all
    assert time.monotonic() - started < 5


def test_rate_threshold_403_page_is_retried(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    edgar_server.inject("403-rate", retry_after="0")
    with EdgarClient(edgar_settings) as client:
        assert client.get(TICKERS) == mirror_bytes(mirror, TICKERS)
    assert [r.status for r in edgar_server.requests] == [403, 200]


def test_plain_403_and_404_fail_at_once(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer
) -> None:
    edgar_server.inject("403")
    with EdgarClient(edgar_settings) as client:
        with pytest.raises(FetchError, match="User-Agent") as forbidden:
            client.get(TICKERS)
        assert not isinstance(forbidden.value, ThrottledError)
        with pytest.raises(NotFoundError) as missing:
            client.get("https://www.sec.gov/Archives/edgar/data/1045810/nothing-here.htm")
    assert missing.value.status_code == 404
    assert "nothing-here.htm" in str(missing.value)
    assert [r.status for r in edgar_server.requests] == [403, 404]


@pytest.mark.parametrize("kind", ["drop", "truncate"])
def test_broken_connections_are_retried(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path, kind: str
) -> None:
    edgar_server.inject(kind, times=2)
    with EdgarClient(edgar_settings) as client:
        assert client.get(NVDA_SUBMISSIONS) == mirror_bytes(mirror, NVDA_SUBMISSIONS)
    assert len(edgar_server.requests) == 3


def test_a_stall_past_the_timeout_is_retried(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    edgar_server.inject("stall", delay_s=1.5)
    settings = dataclasses.replace(edgar_settings, timeout_s=0.5)
    with EdgarClient(settings) as client:
        assert client.get(TICKERS) == mirror_bytes(mirror, TICKERS)
    assert len(edgar_server.requests) == 2


def test_conditional_get_returns_cached_bytes_on_304(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    with EdgarClient(edgar_settings) as client:
        first = client.get(NVDA_SUBMISSIONS)
    with EdgarClient(edgar_settings) as client:  # a later run, same cache directory
        second = client.get(NVDA_SUBMISSIONS)
    assert first == second == mirror_bytes(mirror, NVDA_SUBMISSIONS)
    unconditional, conditional = edgar_server.requests
    assert "if-none-match" not in unconditional.headers
    assert conditional.headers["if-none-match"]
    assert "if-modified-since" in conditional.headers
    assert conditional.status == 304


def test_archive_documents_are_cached_for_good(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    for _ in range(2):
        with EdgarClient(edgar_settings) as client:
            assert client.get(NVDA_10K) == mirror_bytes(mirror, NVDA_10K)
    assert len(edgar_server.requests) == 1


def test_a_damaged_cache_entry_is_fetched_again(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    with EdgarClient(edgar_settings) as client:
        client.get(NVDA_10K)
        cached = next(p for p in edgar_settings.cache_dir.rglob("nvda-20250126.htm"))
        cached.write_bytes(cached.read_bytes()[:1000])  # as if a crash cut it short
        assert client.get(NVDA_10K) == mirror_bytes(mirror, NVDA_10K)
    assert len(edgar_server.requests) == 2


def test_invalid_json_names_the_url(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer
) -> None:
    edgar_server.inject("garbage")
    with EdgarClient(edgar_settings) as client, pytest.raises(FetchError) as caught:
        client.get_json(NVDA_SUBMISSIONS)
    assert "CIK0001045810.json: not valid JSON" in str(caught.value)


@pytest.mark.parametrize("user_agent", ["", "Filing Risk Monitor", "ops@example.com"])
def test_live_mode_needs_a_name_and_contact_email(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, user_agent: str
) -> None:
    settings = dataclasses.replace(edgar_settings, user_agent=user_agent)
    with pytest.raises(ConfigError, match=r"\[edgar\] user_agent"):
        EdgarClient(settings)
    assert edgar_server.requests == []


def test_canonical_urls_map_to_the_configured_base(edgar_settings: EdgarSettings) -> None:
    with EdgarClient(edgar_settings) as client:
        assert client.source_url(NVDA_10K) == edgar_settings.www_url + NVDA_10K.removeprefix(
            "https://www.sec.gov"
        )
        with pytest.raises(FetchError, match="not an EDGAR URL"):
            client.source_url("https://example.com/x")


def test_ca_bundle_from_the_environment_is_used(
    edgar_settings: EdgarSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "empty-bundle.pem"
    bundle.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with pytest.raises(ssl.SSLError):
        EdgarClient(edgar_settings)


def test_proxy_from_the_environment_is_used(
    edgar_settings: EdgarSettings,
    edgar_server: EdgarTestServer,
    mirror: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", edgar_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings = dataclasses.replace(edgar_settings, www_url="http://www.sec.gov")
    with EdgarClient(settings) as client:
        assert client.get(TICKERS) == mirror_bytes(mirror, TICKERS)
    (request,) = edgar_server.requests
    assert request.path == "http://www.sec.gov/files/company_tickers.json"
