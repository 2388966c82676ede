"""EdgarClient: the one module that sends requests to EDGAR.

One keep-alive `httpx.Client` with gzip, the configured User-Agent on every request,
the process-wide rate limit, timeouts, bounded jittered retries that honour
Retry-After, and conditional GET over an on-disk cache. The same code serves three
sources: live SEC, any HTTP server standing in for it (base URLs from settings, with
an optional path prefix), and a mirror directory (`MirrorTransport`).

Callers always pass canonical `https://www.sec.gov/...` / `https://data.sec.gov/...`
URLs; `source_url()` maps them to the configured source.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from monitor.errors import ConfigError, FetchError, NotFoundError, ThrottledError
from monitor.fetch.cache import ResponseCache
from monitor.fetch.mirror import MirrorTransport
from monitor.fetch.ratelimit import PROCESS_RATE_LIMITER, RateLimiter
from monitor.models import SEC_DATA, SEC_WWW
from monitor.settings import EdgarSettings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
THROTTLE_STATUSES = {429, 503}
RETRY_STATUSES = {429, 500, 502, 503, 504}
RATE_PAGE_MARK = b"request rate threshold exceeded"
JSON_MEDIA, DOCUMENT_MEDIA = "JSON", "an HTML or text document"
MARKUP_MEDIA = {"application/xhtml+xml", "application/xml"}
_TITLE = re.compile(rb"<title[^>]*>([^<]{1,200})", re.IGNORECASE)
_CONTACT = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}")
MIRROR_USER_AGENT = "filing-risk-monitor (reading a local EDGAR mirror)"


class EdgarClient:
    def __init__(
        self,
        settings: EdgarSettings,
        *,
        limiter: RateLimiter = PROCESS_RATE_LIMITER,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.mirror_mode = settings.mirror is not None
        self._limiter = limiter
        self._sleep = sleep
        self._jitter = jitter
        self._bases = {
            SEC_WWW: settings.www_url.rstrip("/"),
            SEC_DATA: settings.data_url.rstrip("/"),
        }
        user_agent = settings.user_agent
        if settings.mirror is not None:
            user_agent = user_agent or MIRROR_USER_AGENT
            transport: httpx.BaseTransport | None = MirrorTransport(settings.mirror)
            self._cache: ResponseCache | None = None  # the mirror is already on disk
        else:
            require_contact(user_agent)
            transport = None
            self._cache = ResponseCache(settings.cache_dir)
        self._http = httpx.Client(
            transport=transport,
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(settings.timeout_s),
            follow_redirects=True,
            trust_env=True,  # HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR
        )

    def __enter__(self) -> EdgarClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def source_url(self, url: str) -> str:
        """Where a canonical SEC URL is read from in the configured mode."""
        if self.mirror_mode:
            return url
        for canonical, base in self._bases.items():
            if url.startswith(canonical + "/"):
                return base + url[len(canonical) :]
        raise FetchError(f"not an EDGAR URL: {url!r}", url=url)

    def get_json(self, url: str) -> Any:
        body = self._get(url, want=JSON_MEDIA)
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past the stack
            raise FetchError(
                f"{self.source_url(url)}: not valid JSON ({exc}); the response may be truncated",
                url=url,
            ) from None

    def get_document(self, url: str) -> bytes:
        """A filing's document: HTML or text, refused by its Content-Type otherwise."""
        return self._get(url, want=DOCUMENT_MEDIA)

    def get(self, url: str) -> bytes:
        """The body of a canonical EDGAR URL, whatever its kind."""
        return self._get(url, want=None)

    def _get(self, url: str, *, want: str | None) -> bytes:
        """From the cache when it cannot have changed; `want`: the kind of body expected."""
        cached = self._cache.get(url) if self._cache else None
        if cached is not None and "/Archives/" in url:
            logger.debug("cache hit %s", url)
            return cached.body  # archive documents never change
        headers = {}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        source = self.source_url(url)
        response = self._send_with_retries(source, headers)
        if response.status_code == 304 and cached is not None:
            return cached.body
        if want is not None:
            _check_media(response, source, want)
        if self._cache is not None:
            self._cache.put(
                url,
                response.content,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
        return response.content

    def _send_with_retries(self, url: str, headers: dict[str, str]) -> httpx.Response:
        waited_s = 0.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            status: int | None = None
            retry_after_s: float | None = None
            try:
                response = self._send_once(url, headers)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                problem = f"{type(exc).__name__}: {exc or 'no detail'}"
            else:
                status = response.status_code
                refusal = _check_status(response, url)
                if refusal is None:
                    return response
                problem = refusal
                retry_after_s = _retry_after_s(response)
            delay_s = self._backoff_s(attempt, retry_after_s)
            if attempt == MAX_ATTEMPTS or waited_s + delay_s > self.settings.max_retry_wait_s:
                error = ThrottledError if _is_throttle(status, problem) else FetchError
                raise error(
                    f"GET {url}: {problem}; gave up after {attempt} attempt(s) and "
                    f"{waited_s:.1f}s of waiting (max_retry_wait_s = "
                    f"{self.settings.max_retry_wait_s:g}); it will be fetched again next run",
                    url=url,
                    status_code=status,
                )
            logger.warning("GET %s: %s; retry %d in %.1fs", url, problem, attempt, delay_s)
            self._sleep(delay_s)
            waited_s += delay_s
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, url: str, headers: dict[str, str]) -> httpx.Response:
        if not self.mirror_mode:
            self._limiter.wait(self.settings.rate_per_s)
        started = time.monotonic()
        response = self._http.get(url, headers=headers)
        logger.info(
            "GET %s -> %d (%d bytes, %.2fs)",
            url,
            response.status_code,
            len(response.content),
            time.monotonic() - started,
        )
        return response

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff, at least Retry-After, stretched by up to 25% of jitter."""
        backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return max(backoff, retry_after_s or 0.0) * (1.0 + 0.25 * self._jitter())


def require_contact(user_agent: str) -> None:
    """SEC asks every client to declare who it is: a name and an e-mail address."""
    if not _CONTACT.search(user_agent) or not _CONTACT.sub("", user_agent).strip():
        raise ConfigError(
            "[edgar] user_agent (MONITOR_EDGAR_USER_AGENT) must name the operator and a "
            f"contact e-mail, e.g. 'Acme Research ops@acme.example'; got {user_agent!r}. "
            "SEC refuses undeclared clients; use --mirror DIR to work offline"
        )


def _check_status(response: httpx.Response, url: str) -> str | None:
    """None when the response is usable; a description when it may be retried.

    Raises at once for answers that no retry will change (404, other 4xx).
    """
    status = response.status_code
    if status in (200, 203, 304):
        return None
    if status in (404, 410):
        raise NotFoundError(
            f"GET {url}: {status}: the source has no such document", url=url, status_code=status
        )
    if status == 403 and RATE_PAGE_MARK in response.content.lower():
        return "403 Request Rate Threshold Exceeded"
    if status in RETRY_STATUSES:
        return f"{status} {response.reason_phrase}"
    hint = " (SEC refuses clients without a declared User-Agent)" if status == 403 else ""
    raise FetchError(
        f"GET {url}: {status} {response.reason_phrase}{hint}", url=url, status_code=status
    )


def _check_media(response: httpx.Response, url: str, want: str) -> None:
    """A body of another kind than asked for (a proxy's or maintenance HTML page for JSON,
    an image or PDF for a filing) is refused by its Content-Type, before anything reads
    it: as a fetch failure, so it is fetched again next run. No Content-Type, or the
    generic octet-stream, leaves the judgement to the parser."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not media or media == "application/octet-stream":
        return
    if want == JSON_MEDIA and (media.endswith(("/json", "+json")) or media == "text/plain"):
        return
    if want == DOCUMENT_MEDIA and (media.startswith("text/") or media in MARKUP_MEDIA):
        return
    title = _TITLE.search(response.content[:4096]) if "html" in media else None
    said = f" titled {title.group(1).strip().decode('utf-8', 'replace')[:80]!r}" if title else ""
    raise FetchError(
        f"GET {url}: {want} was expected, the server sent {media}{said} "
        f"({len(response.content)} bytes); it will be fetched again next run",
        url=url,
        status_code=response.status_code,
    )


def _is_throttle(status: int | None, problem: str) -> bool:
    return status in THROTTLE_STATUSES or "Rate Threshold" in problem


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
