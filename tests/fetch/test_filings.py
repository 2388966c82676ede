"""Discovery on the mirror's real submissions JSON, fetched through the loopback server.

Expectations are computed from the JSON files themselves, never hard-coded.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest

from monitor.errors import FetchError, NotFoundError, UnknownTickerError
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings, load_ticker_map, resolve_company
from monitor.models import Company, Filing
from monitor.settings import EdgarSettings
from monitor.watchlist import WatchlistEntry
from tests.conftest import FILING_JSON_KEYS
from tests.edgar_server import EdgarTestServer

PERIODIC = ("10-K", "10-Q")


def expected_rows(
    mirror: Path, cik: int, *, forms: set[str], since: date, until: date
) -> dict[str, dict[str, str]]:
    """Accession → row, straight from the submissions JSON and its mirrored pages."""
    folder = mirror / "data.sec.gov" / "submissions"
    main = json.loads((folder / f"CIK{cik:010d}.json").read_text())
    tables = [main["filings"]["recent"]]
    for page in main["filings"]["files"]:
        if (folder / page["name"]).exists():
            tables.append(json.loads((folder / page["name"]).read_text()))
    rows = {}
    for table in tables:
        for i, accession in enumerate(table["accessionNumber"]):
            filed = date.fromisoformat(table["filingDate"][i])
            if table["form"][i] in forms and since <= filed <= until:
                rows[accession] = {key: table[key][i] for key in table}
    return rows


def company(cik: int, ticker: str) -> Company:
    return Company(ticker=ticker, cik=cik)


@pytest.mark.parametrize(
    ("ticker", "cik", "since", "until"),
    [
        ("NVDA", 1045810, date(2023, 1, 1), date(2025, 12, 31)),
        ("AAPL", 320193, date(2020, 1, 1), date(2025, 12, 31)),
        ("BA", 12927, date(2024, 1, 1), date(2025, 12, 31)),
        ("TSLA", 1318605, date(2016, 6, 1), date(2019, 6, 30)),  # reaches into the -001 page
    ],
)
def test_discovery_returns_exactly_the_periodic_filings_the_json_lists(
    edgar_settings: EdgarSettings,
    edgar_server: EdgarTestServer,
    mirror: Path,
    ticker: str,
    cik: int,
    since: date,
    until: date,
) -> None:
    forms = {*PERIODIC, *(f + "/A" for f in PERIODIC)}
    expected = expected_rows(mirror, cik, forms=forms, since=since, until=until)
    assert expected, "the window must hold filings for the test to mean anything"
    with EdgarClient(edgar_settings) as client:
        found = list_filings(client, company(cik, ticker), forms=PERIODIC, since=since, until=until)
    assert {f.accession for f in found} == set(expected)
    assert [f.accepted for f in found] == sorted((f.accepted for f in found), reverse=True)
    for filing in found:
        row = expected[filing.accession]
        assert filing.form == row["form"]
        assert filing.filed.isoformat() == row["filingDate"]
        assert filing.period == (
            date.fromisoformat(row["reportDate"]) if row["reportDate"] else None
        )
        assert filing.url == (
            f"https://www.sec.gov/Archives/edgar/data/{cik}/"
            f"{filing.accession.replace('-', '')}/{row['primaryDocument']}"
        )
        assert filing.accepted.tzinfo is not None


def test_tesla_window_needs_the_older_page(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer, mirror: Path
) -> None:
    since, until = date(2016, 6, 1), date(2019, 6, 30)
    with EdgarClient(edgar_settings) as client:
        found = list_filings(
            client, company(1318605, "TSLA"), forms=PERIODIC, since=since, until=until
        )
    page = json.loads(
        (mirror / "data.sec.gov/submissions/CIK0001318605-submissions-001.json").read_text()
    )
    from_page = {
        a
        for a, d in zip(page["accessionNumber"], page["filingDate"], strict=True)
        if d >= "2016-06-01"
    }
    assert from_page & {f.accession for f in found}, "some filings come only from the page"
    assert any(r.path.endswith("CIK0001318605-submissions-001.json") for r in edgar_server.requests)


def test_the_older_page_is_not_fetched_when_the_window_is_recent(
    edgar_settings: EdgarSettings, edgar_server: EdgarTestServer
) -> None:
    with EdgarClient(edgar_settings) as client:
        list_filings(client, company(1318605, "TSLA"), forms=PERIODIC, since=date(2024, 1, 1))
    assert [r.path for r in edgar_server.requests] == [
        "/data.sec.gov/submissions/CIK0001318605.json"
    ]


def test_a_missing_older_page_is_reported_and_the_rest_listed(
    edgar_settings: EdgarSettings, mirror: Path, caplog: pytest.LogCaptureFixture
) -> None:
    since, until = date(2018, 1, 1), date(2020, 12, 31)
    expected = expected_rows(mirror, 12927, forms=set(PERIODIC), since=since, until=until)
    with EdgarClient(edgar_settings) as client, caplog.at_level(logging.WARNING):
        found = list_filings(
            client, company(12927, "BA"), forms=PERIODIC, since=since, until=until, amendments=False
        )
    assert {f.accession for f in found} == set(expected)
    assert "CIK0000012927-submissions-001.json" in caplog.text
    assert "BA: older filings page unavailable" in caplog.text


def test_8k_items_and_amendment_switch(edgar_settings: EdgarSettings, mirror: Path) -> None:
    since, until = date(2024, 1, 1), date(2025, 12, 31)
    expected = expected_rows(mirror, 1045810, forms={"8-K"}, since=since, until=until)
    with EdgarClient(edgar_settings) as client:
        found = list_filings(
            client, company(1045810, "NVDA"), forms=["8-K"], since=since, until=until
        )
        tesla = list_filings(client, company(1318605, "TSLA"), forms=["10-K"], amendments=False)
        tesla_all = list_filings(client, company(1318605, "TSLA"), forms=["10-K"])
    assert {f.accession for f in found} == set(expected)
    for filing in found:
        assert ",".join(filing.items) == expected[filing.accession]["items"]
    assert any(f.items == ("2.02", "9.01") for f in found)
    assert all(not f.is_amendment for f in tesla)
    assert {f.form for f in tesla_all} == {"10-K", "10-K/A"}


def test_a_company_the_source_lacks_is_not_found(edgar_settings: EdgarSettings) -> None:
    with EdgarClient(edgar_settings) as client, pytest.raises(NotFoundError) as caught:
        list_filings(client, company(883241, "SNPS"), forms=PERIODIC)
    assert "CIK0000883241.json" in str(caught.value)


def test_tickers_resolve_to_ciks(edgar_settings: EdgarSettings, mirror: Path) -> None:
    rows = json.loads((mirror / "www.sec.gov/files/company_tickers.json").read_text()).values()
    expected = {row["ticker"]: row["cik_str"] for row in rows}
    with EdgarClient(edgar_settings) as client:
        ticker_map = load_ticker_map(client)
    for ticker in ("NVDA", "QCOM", "BA", "FDX", "TSLA"):
        resolved = resolve_company(WatchlistEntry(ticker=ticker, note="n"), ticker_map)
        assert (resolved.cik, resolved.note) == (expected[ticker], "n")
    with pytest.raises(UnknownTickerError, match="'NOPE1'"):
        resolve_company(WatchlistEntry(ticker="NOPE1"), ticker_map)
    pinned = resolve_company(WatchlistEntry(ticker="NOPE1", cik=42), ticker_map)
    assert pinned.cik == 42


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "X", "filings": {}}',
        b'{"name": "X", "filings": {"recent": {"accessionNumber": ["1"], "form": []}}}',
        b'["not", "an", "object"]',
        b'{"filings": {"recent": {"accessionNumber": ["0000000001-25-000001"], '
        b'"filingDate": ["2025-13-01"], "reportDate": [""], '
        b'"acceptanceDateTime": ["2025-01-01T00:00:00.000Z"], "form": ["10-K"]}}}',
    ],
)
def test_schema_breaking_submissions_name_the_url(tmp_path: Path, body: bytes) -> None:
    folder = tmp_path / "data.sec.gov" / "submissions"
    folder.mkdir(parents=True)
    (folder / "CIK0000000001.json").write_bytes(body)
    with EdgarClient(EdgarSettings(mirror=tmp_path)) as client, pytest.raises(FetchError) as caught:
        list_filings(client, company(1, "X"), forms=PERIODIC)
    assert "https://data.sec.gov/submissions/CIK0000000001.json" in str(caught.value)


def test_filing_record_shape() -> None:
    from datetime import UTC, datetime

    filing = Filing(
        cik=1045810,
        ticker="NVDA",
        company="NVIDIA CORP",
        form="8-K",
        filed=date(2025, 7, 1),
        accepted=datetime(2025, 6, 30, 22, 35, tzinfo=UTC),
        period=None,
        accession="0001045810-25-000179",
        url="https://www.sec.gov/x",
        items=("5.07",),
    )
    record = filing.to_record()
    assert tuple(record) == FILING_JSON_KEYS
    assert record["accepted"] == "2025-06-30T18:35:00-04:00"  # EDGAR's clock: Eastern time
    assert record["items"] == ["5.07"]
