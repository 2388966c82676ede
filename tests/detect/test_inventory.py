"""Financial signals on the mirror's company facts and the filings' own inline XBRL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from monitor.detect.inventory import (
    RevenueShare,
    as_filed_series,
    china_share_signals,
    quarterly_series,
)
from monitor.parse.document import parse_document
from monitor.parse.xbrl import geographic_revenue
from monitor.settings import SignalsSettings
from tests.conftest import REPO, manifest_rows, mirror_path
from tests.test_cli import run_monitor

SIGNALS = SignalsSettings()


@cache
def companyfacts(cik: int) -> dict[str, object]:
    path = mirror_path() / f"data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def expected_inventory(cik: int, end: date) -> float:
    """InventoryNet at `end` as the JSON has it, from the latest original filing."""
    rows = companyfacts(cik)["facts"]["us-gaap"]["InventoryNet"]["units"]["USD"]  # type: ignore[index]
    matching = [r for r in rows if r["end"] == end.isoformat() and not r["form"].endswith("/A")]
    return float(max(matching, key=lambda r: r["filed"])["val"])


@pytest.mark.parametrize(("ticker", "cik"), [("NVDA", 1045810), ("AAPL", 320193)])
def test_inventory_matches_company_facts_for_every_mirrored_quarter(
    mirror: Path, ticker: str, cik: int
) -> None:
    series = {q.end: q for q in quarterly_series(companyfacts(cik), SIGNALS)}
    periods = {
        date.fromisoformat(row["period"])
        for row in manifest_rows({"10-K", "10-Q"})
        if row["cik"] == str(cik)
    }
    assert len(periods) >= 10
    for end in periods:
        assert end in series, f"{ticker}: no quarter ending {end}"
        assert series[end].inventory.value == expected_inventory(cik, end)


def test_nvidia_signals(mirror: Path) -> None:
    series = {q.end: q for q in quarterly_series(companyfacts(1045810), SIGNALS)}
    build_up = series[date(2023, 1, 29)]  # fiscal 2023: inventory about doubled in a year
    assert build_up.inventory_yoy is not None and build_up.inventory_yoy > 0.9
    (yoy,) = [s for s in build_up.signals if s.kind == "inventory_yoy"]
    assert "$5.16 billion at 2023-01-29 vs $2.60 billion at 2022-01-30" in yoy.figures
    assert yoy.accession == build_up.inventory.accession
    h20 = series[date(2025, 4, 27)]  # the H20 charge: $2.3 billion written down in the quarter
    (write_down,) = [s for s in h20.signals if s.kind == "writedown_share"]
    assert write_down.value == pytest.approx(2.3e9 / h20.inventory.value)
    assert "$2.30 billion" in write_down.figures


def test_fourth_quarter_is_derived_and_revenue_matches(mirror: Path) -> None:
    series = {q.end: q for q in quarterly_series(companyfacts(1045810), SIGNALS)}
    q4 = series[date(2025, 1, 26)]
    assert q4.start == date(2024, 10, 28)
    assert q4.revenue == 130_497e6 - (26_044e6 + 30_040e6 + 35_082e6)
    assert q4.dio is not None and 80 < q4.dio < 95


def test_apple_build_up_to_september_2021_fires(mirror: Path) -> None:
    series = {q.end: q for q in quarterly_series(companyfacts(320193), SIGNALS)}
    kinds = {s.kind for s in series[date(2021, 9, 25)].signals}
    assert {"inventory_qoq", "inventory_yoy"} <= kinds


def test_signals_never_look_ahead(mirror: Path) -> None:
    cutoff = date(2023, 3, 1)
    series = quarterly_series(companyfacts(1045810), SIGNALS, filed_by=cutoff)
    assert series[-1].end == date(2023, 1, 29)
    assert all(q.inventory.filed <= cutoff for q in series)


def test_each_quarter_as_first_reported_never_uses_a_later_filing(mirror: Path) -> None:
    facts = companyfacts(1835632)  # Marvell Technology, Inc. (the 2021 holding company)
    latest = {q.end: q for q in quarterly_series(facts, SIGNALS)}
    as_filed = {q.end: q for q in as_filed_series(facts, SIGNALS)}
    assert as_filed.keys() == latest.keys()
    # Its first 10-Q (quarter to 2021-05-01, filed 2021-06-09) had no earlier quarter
    # under this CIK; the quarter to 2021-01-30 came with the 10-K filed 2022-03-10.
    # Read today, the facts give the first quarter a +101% q/q build-up it never showed.
    first = date(2021, 5, 1)
    assert latest[date(2021, 1, 30)].inventory.filed == date(2022, 3, 10)
    assert {"inventory_qoq", "dio_days"} <= {s.kind for s in latest[first].signals}
    assert as_filed[first].inventory.filed == date(2021, 6, 9)
    assert as_filed[first].signals == () and as_filed[first].inventory_qoq is None


@pytest.mark.parametrize("cik", [1045810, 320193, 1046179, 1835632])
def test_a_quarter_as_first_reported_is_the_series_of_its_filing_day(
    mirror: Path, cik: int
) -> None:
    facts = companyfacts(cik)
    for quarter in as_filed_series(facts, SIGNALS):
        day = quarter.inventory.filed
        assert {q.end: q for q in quarterly_series(facts, SIGNALS, filed_by=day)}[quarter.end] == (
            quarter
        )


def test_as_filed_series_stops_at_filed_by(mirror: Path) -> None:
    cutoff = date(2023, 3, 1)
    series = as_filed_series(companyfacts(1045810), SIGNALS, filed_by=cutoff)
    assert series[-1].end == date(2023, 1, 29)
    assert all(q.inventory.filed <= cutoff for q in series)


def test_ifrs_filer_gets_the_same_series(mirror: Path) -> None:
    series = quarterly_series(companyfacts(1046179), SIGNALS)  # TSMC reports yearly, in TWD
    assert len(series) >= 5
    assert series[-1].inventory.concept == "ifrs-full:Inventories"
    assert all((q.end - q.start).days > 300 for q in series)
    assert all(q.dio is not None for q in series)


def test_nvidia_china_share_matches_the_10k_geography_note(mirror: Path) -> None:
    # The note prints China (including Hong Kong) revenue of $17,108 / $10,306 / $5,785
    # million for fiscal 2025 / 2024 / 2023, of total revenue $130,497 / $60,922 / $26,974 million.
    path = mirror / "www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm"
    by_end = {r.end: r for r in geographic_revenue(path.read_bytes())}
    for end, china, total in (
        (date(2025, 1, 26), 17_108e6, 130_497e6),
        (date(2024, 1, 28), 10_306e6, 60_922e6),
        (date(2023, 1, 29), 5_785e6, 26_974e6),
    ):
        assert by_end[end].china == china and by_end[end].total == total
        assert by_end[end].china_members == ("nvda:ChinaIncludingHongKongMember",)
    assert by_end[date(2025, 1, 26)].taiwan_share == pytest.approx(0.158, abs=0.001)


def test_geographic_members_and_safe_parsing() -> None:
    (revenue,) = geographic_revenue((REPO / "tests/data/geo_revenue.htm").read_bytes())
    assert revenue.total == 1000e6
    assert revenue.china == 200e6  # China and Hong Kong; the "China widgets" product is no place
    assert revenue.china_members == ("country:CN", "country:HK")
    assert revenue.taiwan == 120e6
    assert revenue.china_share == pytest.approx(0.2)


def test_external_entities_are_never_resolved() -> None:
    data = (REPO / "tests/data/geo_revenue.htm").read_bytes()
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    text = parse_document(data).text
    assert "Entity reference that must stay unresolved" in text
    assert not hostname or hostname not in text
    assert geographic_revenue(data)  # and the facts still read


def test_china_share_move_of_five_points_is_a_signal() -> None:
    shares = [
        RevenueShare(
            start=date(2024, 1, 1), end=date(2024, 3, 31), china=0.22, taiwan=None, accession="a"
        ),
        RevenueShare(
            start=date(2024, 4, 1), end=date(2024, 6, 30), china=0.20, taiwan=None, accession="b"
        ),
        RevenueShare(
            start=date(2024, 1, 1), end=date(2024, 12, 31), china=0.30, taiwan=None, accession="c"
        ),
        RevenueShare(
            start=date(2024, 7, 1), end=date(2024, 9, 30), china=0.12, taiwan=None, accession="d"
        ),
    ]
    (signal,) = china_share_signals(shares, SIGNALS)
    assert signal.accession == "d" and signal.value == pytest.approx(-8.0)
    assert "12.0% for 2024-07-01–2024-09-30 vs 20.0%" in signal.figures


def test_facts_command_csv(mirror: Path) -> None:
    result = run_monitor("facts", "NVDA", "--csv", "--mirror", str(mirror))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:10] == [
        "ticker", "period_end", "inventory", "inventory_qoq", "inventory_yoy", "dio",
        "revenue", "china_revenue_share", "taiwan_revenue_share", "signals",
    ]  # fmt: skip
    by_end = {r["period_end"]: r for r in rows}
    assert "inventory_yoy" in by_end["2023-01-29"]["signals"]
    assert "writedown_share" in by_end["2025-04-27"]["signals"]
    assert float(by_end["2025-01-26"]["china_revenue_share"]) == pytest.approx(0.1311, abs=1e-4)


def test_inventory_fallbacks_when_the_total_is_not_tagged() -> None:
    def rows(*values: tuple[str, float]) -> dict[str, object]:
        return {"units": {"USD": [
            {"end": end, "val": val, "accn": "a", "form": "10-Q", "filed": "2025-05-01"}
            for end, val in values
        ]}}  # fmt: skip

    def quarter(tag: str, val: float) -> dict[str, object]:
        row = {"start": "2025-01-01", "end": "2025-03-31", "val": val}
        return {"units": {"USD": [{**row, "accn": "a", "form": "10-Q", "filed": "2025-05-01"}]}}

    facts = {"facts": {"us-gaap": {
        "InventoryFinishedGoods": rows(("2025-03-31", 10.0)),
        "InventoryWorkInProcessNetOfReserves": rows(("2025-03-31", 20.0)),
        "InventoryRawMaterials": rows(("2025-03-31", 30.0)),
        "Revenues": quarter("Revenues", 100.0),
        "CostOfRevenue": quarter("CostOfRevenue", 60.0),
    }}}  # fmt: skip
    (only,) = quarterly_series(facts, SIGNALS)
    assert only.inventory.value == 60.0 and only.inventory.concept == "sum of components"
    gross = {"facts": {"us-gaap": {
        "InventoryGross": rows(("2025-03-31", 80.0)),
        "InventoryValuationReserves": rows(("2025-03-31", 5.0)),
        "Revenues": quarter("Revenues", 100.0),
    }}}  # fmt: skip
    (only,) = quarterly_series(gross, SIGNALS)
    assert only.inventory.value == 75.0
