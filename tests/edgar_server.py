"""A real HTTP server on 127.0.0.1 that serves the EDGAR mirror in place.

URLs are `http://127.0.0.1:PORT/{host}/{path}`, so the monitor's base URLs become
`.../www.sec.gov` and `.../data.sec.gov`. Faults are queued with `inject()` and hit
the next matching requests: 429/503 with Retry-After, SEC's 403 rate-threshold page,
plain 403 or 500, stalls (no answer for delay_s), dropped connections, truncated
bodies, invalid JSON. `chaos()` instead fails a share of all requests at random with a
mix of them, for soak tests. It also answers absolute-form (proxy) requests. Every
request is logged (monotonic time, path, headers, status) for server-side checks.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

RATE_PAGE = (
    b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>"
    b"<h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    b"<p>Request Rate Threshold Exceeded</p></body></html>"
)
FAULT_KINDS = {
    "429", "503", "500", "403", "403-rate", "stall", "drop", "truncate", "garbage",
    "html-page", "png",  # 200 with a body of the wrong kind: a proxy's page, an image
}  # fmt: skip
MAINTENANCE_PAGE = (  # hand-written: what a proxy or a maintenance window answers with 200
    b"<!DOCTYPE html><html><head><title>Scheduled Maintenance</title></head>"
    b"<body><h1>This service is down for maintenance.</h1></body></html>"
)
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
CHAOS_KINDS = ("429", "503", "403-rate", "drop", "stall", "truncate")


@dataclass
class Fault:
    kind: str
    times: int = 1
    retry_after: str | None = None
    delay_s: float = 0.0
    path_contains: str = ""


@dataclass(frozen=True)
class RequestRecord:
    at: float
    path: str
    headers: dict[str, str]
    status: int  # 0: the connection was dropped without an answer
    gzipped: bool = False


@dataclass
class _State:
    mirror: Path
    faults: list[Fault] = field(default_factory=list)
    log: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    chaos_rate: float = 0.0
    chaos_stall_s: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    injected: dict[str, int] = field(default_factory=dict)  # chaos faults by kind

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_contains in path and fault.times > 0:
                    fault.times -= 1
                    return fault
            if self.chaos_rate and self.rng.random() < self.chaos_rate:
                kind = self.rng.choice(CHAOS_KINDS)
                self.injected[kind] = self.injected.get(kind, 0) + 1
                retry_after = "1" if kind in ("429", "503") else None
                return Fault(kind, retry_after=retry_after, delay_s=self.chaos_stall_s)
        return None

    def record(self, handler: BaseHTTPRequestHandler, status: int, gzipped: bool = False) -> None:
        with self.lock:
            self.log.append(
                RequestRecord(
                    time.monotonic(),
                    handler.path,
                    {k.lower(): v for k, v in handler.headers.items()},
                    status,
                    gzipped,
                )
            )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        fault = state.take_fault(self.path)
        if fault is not None:
            self._send_fault(fault)
            return
        file = self._locate()
        if file is None or not file.is_file():
            self._send(404, b"Not Found", "text/plain")
            return
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        last_modified = formatdate(file.stat().st_mtime, usegmt=True)
        if self.headers.get("If-None-Match") == etag:
            state.record(self, 304)
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        extra = {"ETag": etag, "Last-Modified": last_modified}
        self._send(200, body, _content_type(file), extra=extra)

    def _locate(self) -> Path | None:
        root = self.server.state.mirror.resolve()
        target = urlsplit(self.path)  # absolute form when we are used as a proxy
        relative = unquote(target.netloc + target.path if target.scheme else target.path)
        relative = relative.lstrip("/")
        candidate = (root / relative).resolve()
        return candidate if candidate.is_relative_to(root) else None

    def _send_fault(self, fault: Fault) -> None:
        state = self.server.state
        if fault.kind in ("drop", "stall"):
            state.record(self, 0)
            time.sleep(fault.delay_s)  # a stall: no answer until the client gave up
            self.close_connection = True
            return
        if fault.kind == "truncate":
            file = self._locate()
            body = file.read_bytes() if file and file.is_file() else b"x" * 1000
            state.record(self, 200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault.kind == "garbage":
            self._send(200, b'{"filings": {"recent": [1, 2', "application/json")
            return
        if fault.kind in ("html-page", "png"):
            page = fault.kind == "html-page"
            body, media = (MAINTENANCE_PAGE, "text/html") if page else (PNG_BYTES, "image/png")
            self._send(200, body, media)
            return
        status = {"429": 429, "503": 503, "500": 500, "403": 403, "403-rate": 403}[fault.kind]
        body = RATE_PAGE if fault.kind == "403-rate" else b"Forbidden" if status == 403 else b"busy"
        extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        self._send(status, body, "text/html", extra=extra)

    def _send(
        self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
    ) -> None:
        gzipped = "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 100
        if gzipped:
            body = gzip.compress(body, compresslevel=1)
        self.server.state.record(self, status, gzipped)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up on a stalled answer is expected here


def _content_type(file: Path) -> str:
    return {".json": "application/json", ".htm": "text/html", ".html": "text/html"}.get(
        file.suffix, "text/plain"
    )


class EdgarTestServer:
    def __init__(self, mirror: Path) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(mirror=mirror)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def www_url(self) -> str:
        return self.url + "/www.sec.gov"

    @property
    def data_url(self) -> str:
        return self.url + "/data.sec.gov"

    @property
    def requests(self) -> list[RequestRecord]:
        with self._server.state.lock:
            return list(self._server.state.log)

    def inject(self, kind: str, **options: object) -> None:
        assert kind in FAULT_KINDS, kind
        with self._server.state.lock:
            self._server.state.faults.append(Fault(kind, **options))  # type: ignore[arg-type]

    def heal(self) -> None:
        """Drop the injected faults that are left."""
        with self._server.state.lock:
            self._server.state.faults.clear()

    def chaos(self, rate: float, *, seed: int = 0, stall_s: float = 0.0) -> None:
        """Fail about `rate` of the requests from now on, each with a fault drawn from
        CHAOS_KINDS (429 and 503 with Retry-After: 1; a stall lasts `stall_s`)."""
        with self._server.state.lock:
            state = self._server.state
            state.chaos_rate, state.chaos_stall_s, state.rng = rate, stall_s, random.Random(seed)

    @property
    def injected(self) -> dict[str, int]:
        with self._server.state.lock:
            return dict(self._server.state.injected)

    def max_requests_in_window(self, window_s: float = 1.0) -> int:
        """The most requests that arrived within any `window_s` span."""
        times = sorted(r.at for r in self.requests)
        most, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window_s:
                start += 1
            most = max(most, end - start + 1)
        return most

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(mirror: Path) -> Iterator[EdgarTestServer]:
    server = EdgarTestServer(mirror)
    server.start()
    try:
        yield server
    finally:
        server.stop()
