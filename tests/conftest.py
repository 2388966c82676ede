from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.settings import EdgarSettings
from tests.edgar_server import EdgarTestServer, serve

REPO = Path(__file__).resolve().parent.parent
TEST_USER_AGENT = "Filing Risk Monitor tests tests@example.com"
# `filings --json`, as DESIGN.md promises it to users' scripts (order included)
FILING_JSON_KEYS = (
    "cik", "ticker", "company", "form", "filed", "accepted", "period", "accession", "url", "items",
)  # fmt: skip


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The shared EDGAR mirror, read in place ($MONITOR_EDGAR_MIRROR or ../shared/edgar)."""
    path = mirror_path()
    if not (path / "data.sec.gov").is_dir():
        message = f"EDGAR mirror not found at {path}: set MONITOR_EDGAR_MIRROR"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path.resolve()


@pytest.fixture
def edgar_server(mirror: Path) -> Iterator[EdgarTestServer]:
    yield from serve(mirror)


@pytest.fixture
def edgar_settings(edgar_server: EdgarTestServer, tmp_path: Path) -> EdgarSettings:
    """Client settings pointed at the loopback server, with a fresh cache."""
    return EdgarSettings(
        user_agent=TEST_USER_AGENT,
        www_url=edgar_server.www_url,
        data_url=edgar_server.data_url,
        rate_per_s=10.0,
        timeout_s=5.0,
        max_retry_wait_s=10.0,
        cache_dir=tmp_path / "cache",
    )


def mirror_path() -> Path:
    return Path(os.environ.get("MONITOR_EDGAR_MIRROR") or REPO.parent / "shared" / "edgar")


def manifest_rows(forms: set[str]) -> list[dict[str, str]]:
    """The mirror's MANIFEST.csv rows of these forms (empty when there is no mirror)."""
    import csv

    manifest = mirror_path() / "MANIFEST.csv"
    if not manifest.exists():
        return []
    with manifest.open(newline="") as fh:
        return [row for row in csv.DictReader(fh) if row["form"] in forms]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it accepts."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.port = port
        self.messages: list[bytes] = []
        self.envelopes: list[list[str]] = []  # RCPT TO of each message, in order
        self.faults: list[str] = []  # "4xx" or "drop": how to refuse the next messages
        self.fault_filter = b""  # ... that contain this
        self.refused = 0
        inbox = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
                content = envelope.content  # type: ignore[attr-defined]
                if inbox.faults and inbox.fault_filter in content:  # refuse: 4xx, or hang up
                    fault = inbox.faults.pop(0)
                    inbox.refused += 1
                    if fault == "drop":
                        server.transport.close()  # type: ignore[attr-defined]
                    return "451 4.3.0 Try again later"
                inbox.messages.append(envelope.content)  # type: ignore[attr-defined]
                inbox.envelopes.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
                return "250 OK"

        self._handler = Handler()
        self._controller_class = Controller
        self.controller: Controller | None = None

    def start(self) -> None:  # a stopped aiosmtpd controller cannot restart: make a new one
        self.controller = self._controller_class(
            self._handler, hostname="127.0.0.1", port=self.port
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    inbox.start()
    yield inbox
    inbox.stop()


def loopback_env(server: EdgarTestServer, tmp_path: Path) -> dict[str, str]:
    """Settings that point the monitor at the loopback EDGAR server, with its own cache."""
    return {
        "MONITOR_EDGAR_WWW_URL": server.www_url,
        "MONITOR_EDGAR_DATA_URL": server.data_url,
        "MONITOR_EDGAR_USER_AGENT": TEST_USER_AGENT,
        "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "cache"),
    }
