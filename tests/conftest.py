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
