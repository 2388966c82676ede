"""Company facts (XBRL) → quarterly inventory series and the signals they raise.

One value per company and period: the period is a fact's own start/end dates (never
its fy/fp labels, which carry the filing's year even for prior-year comparatives);
when several filings report the same period the latest original filing wins;
amendments are left out; only facts filed up to `filed_by` are used, so a replay of
history never looks ahead. A fourth quarter missing from the facts is the annual
figure less the nine months before it. 52/53-week years need nothing special: periods
are classified by their length in days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from monitor.errors import ParseError
from monitor.settings import SignalsSettings

Concept = tuple[str, str]  # (taxonomy, tag)
INVENTORY: tuple[Concept, ...] = (("us-gaap", "InventoryNet"), ("ifrs-full", "Inventories"))
INVENTORY_PARTS: tuple[tuple[Concept, ...], ...] = (  # summed when the total is not tagged
    (("us-gaap", "InventoryFinishedGoodsNetOfReserves"), ("us-gaap", "InventoryFinishedGoods")),
    (("us-gaap", "InventoryWorkInProcessNetOfReserves"), ("us-gaap", "InventoryWorkInProcess")),
    (("us-gaap", "InventoryRawMaterialsNetOfReserves"), ("us-gaap", "InventoryRawMaterials")),
)
REVENUE: tuple[Concept, ...] = (
    ("us-gaap", "Revenues"),
    ("us-gaap", "RevenueFromContractWithCustomerExcludingAssessedTax"),
    ("us-gaap", "SalesRevenueNet"),
    ("ifrs-full", "Revenue"),
)
COST_OF_REVENUE: tuple[Concept, ...] = (
    ("us-gaap", "CostOfRevenue"),
    ("us-gaap", "CostOfGoodsAndServicesSold"),
    ("us-gaap", "CostOfGoodsSold"),
    ("ifrs-full", "CostOfSales"),
)
WRITE_DOWN: tuple[Concept, ...] = (
    ("us-gaap", "InventoryWriteDown"),
    ("ifrs-full", "InventoryWritedown2011"),
)
RESERVES: tuple[Concept, ...] = (("us-gaap", "InventoryValuationReserves"),)
QUARTER_DAYS, NINE_MONTH_DAYS, YEAR_DAYS = (70, 110), (250, 290), (335, 400)


@dataclass(frozen=True, slots=True, kw_only=True)
class Fact:
    value: float
    start: date | None  # None for an instant (a balance)
    end: date
    accession: str
    filed: date
    concept: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    kind: str  # inventory_qoq, inventory_yoy, dio_days, writedown_share, china_share_pp
    period_end: date
    value: float
    threshold: float
    figures: str  # what was compared, readable
    accession: str  # the filing the newer figure came from


@dataclass(frozen=True, slots=True, kw_only=True)
class Quarter:
    start: date
    end: date
    inventory: Fact
    revenue: float | None = None
    cost_of_revenue: float | None = None
    write_down: float | None = None
    inventory_qoq: float | None = None
    inventory_yoy: float | None = None
    dio: float | None = None  # days inventory outstanding: inventory / quarter's cost x days
    dio_change: float | None = None
    signals: tuple[Signal, ...] = field(default=())

    @property
    def inventory_to_revenue(self) -> float | None:
        return self.inventory.value / self.revenue if self.revenue else None


def read_facts(
    companyfacts: Mapping[str, Any], concepts: Sequence[Concept], *, filed_by: date | None = None
) -> dict[tuple[date | None, date], Fact]:
    """Period → fact, the first concept of the chain that reports the period winning,
    and within it the latest original filing filed by `filed_by`."""
    chosen: dict[tuple[date | None, date], Fact] = {}
    for taxonomy, tag in concepts:
        units = _object(_object(_object(_facts(companyfacts).get(taxonomy)).get(tag)).get("units"))
        tables = [rows for rows in units.values() if isinstance(rows, list)]
        if not tables:
            continue
        rows = max(tables, key=len)  # the reporting currency: the unit most used
        best: dict[tuple[date | None, date], Fact] = {}
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            fact = _fact(row, f"{taxonomy}:{tag}")
            if fact is None or (filed_by is not None and fact.filed > filed_by):
                continue
            if str(row.get("form", "")).endswith("/A"):
                continue  # amendments carry partial XBRL: kept out of trends
            key = (fact.start, fact.end)
            if key not in best or fact.filed > best[key].filed:
                best[key] = fact
        for key, fact in best.items():
            chosen.setdefault(key, fact)
    return chosen


def quarterly_series(
    companyfacts: Mapping[str, Any],
    settings: SignalsSettings,
    *,
    filed_by: date | None = None,
) -> list[Quarter]:
    """One row per quarter end with an inventory balance, oldest first, with signals.

    Raises ParseError when `companyfacts` is not a company facts object; facts of the
    wrong shape inside it are left out, like any other unusable fact.
    """
    _facts(companyfacts)
    inventory = _inventory(companyfacts, filed_by)
    revenue = _periods(read_facts(companyfacts, REVENUE, filed_by=filed_by))
    cost = _periods(read_facts(companyfacts, COST_OF_REVENUE, filed_by=filed_by))
    write_down = _periods(read_facts(companyfacts, WRITE_DOWN, filed_by=filed_by))
    quarters: list[Quarter] = []
    for end in sorted(inventory):
        span = revenue.get(end) or cost.get(end)
        if span is None:
            continue  # a balance with no quarter around it (e.g. a transition date)
        start = span[0]
        cogs = cost.get(end, (start, None))[1]
        dio = inventory[end].value / cogs * ((end - start).days + 1) if cogs else None
        quarters.append(
            Quarter(
                start=start,
                end=end,
                inventory=inventory[end],
                revenue=revenue.get(end, (start, None))[1],
                cost_of_revenue=cogs,
                write_down=write_down.get(end, (start, None))[1],
                dio=dio,
            )
        )
    return _with_changes(quarters, settings)


def as_filed_series(
    companyfacts: Mapping[str, Any],
    settings: SignalsSettings,
    *,
    filed_by: date | None = None,
) -> list[Quarter]:
    """Each quarter as the market saw it the day it was first reported: its figures and
    signals from the facts filed up to that day only (a later filing's restatement or
    comparative never reaches back), and only the quarters reported by `filed_by`."""
    seen: dict[date, Quarter] = {}
    for day in sorted(_filed_days(companyfacts)):
        if filed_by is not None and day > filed_by:
            break
        for quarter in quarterly_series(companyfacts, settings, filed_by=day):
            seen.setdefault(quarter.end, quarter)
    return [seen[end] for end in sorted(seen)]


def _filed_days(companyfacts: Mapping[str, Any]) -> set[date]:
    """Every day a fact the series reads was filed on."""
    days: set[date] = set()
    chains = (*INVENTORY, *(c for part in INVENTORY_PARTS for c in part), *REVENUE,
              *COST_OF_REVENUE, *WRITE_DOWN, *RESERVES, ("us-gaap", "InventoryGross"))  # fmt: skip
    for taxonomy, tag in chains:
        units = _object(_object(_object(_facts(companyfacts).get(taxonomy)).get(tag)).get("units"))
        for rows in units.values():
            for row in rows if isinstance(rows, list) else ():
                fact = _fact(row, tag) if isinstance(row, Mapping) else None
                if fact is not None:
                    days.add(fact.filed)
    return days


def _facts(companyfacts: object) -> Mapping[str, Any]:
    """The `facts` object of a companyfacts file (empty when it has none)."""
    if not isinstance(companyfacts, Mapping):
        raise ParseError(
            f"companyfacts: not a company facts file (a JSON {_json_type(companyfacts)}, "
            "not an object); check the source's api/xbrl/companyfacts file"
        )
    facts = companyfacts.get("facts", {})
    if not isinstance(facts, Mapping):
        raise ParseError(
            f"companyfacts of CIK {companyfacts.get('cik')!r}: 'facts' is a JSON "
            f"{_json_type(facts)}, not an object; check the source's api/xbrl/companyfacts file"
        )
    return facts


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _fact(row: Mapping[str, Any], concept: str) -> Fact | None:
    try:
        value = float(row["val"])
        if not math.isfinite(value):
            return None
        return Fact(
            value=value,
            start=date.fromisoformat(row["start"]) if row.get("start") else None,
            end=date.fromisoformat(row["end"]),
            accession=str(row["accn"]),
            filed=date.fromisoformat(row["filed"]),
            concept=concept,
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _inventory(companyfacts: Mapping[str, Any], filed_by: date | None) -> dict[date, Fact]:
    totals = {
        end: f
        for (start, end), f in read_facts(companyfacts, INVENTORY, filed_by=filed_by).items()
        if start is None
    }
    parts = [read_facts(companyfacts, chain, filed_by=filed_by) for chain in INVENTORY_PARTS]
    for end in {key[1] for part in parts for key in part} - set(totals):
        found = [part.get((None, end)) for part in parts]
        present = [f for f in found if f is not None]
        if len(present) == len(parts):  # every component reported: their sum is the total
            latest = max(present, key=lambda f: f.filed)
            totals[end] = Fact(
                value=sum(f.value for f in present), start=None, end=end,
                accession=latest.accession, filed=latest.filed, concept="sum of components",
            )  # fmt: skip
    gross = read_facts(companyfacts, (("us-gaap", "InventoryGross"),), filed_by=filed_by)
    reserves = read_facts(companyfacts, RESERVES, filed_by=filed_by)
    for (start, end), fact in gross.items():
        reserve = reserves.get((None, end))
        if start is None and end not in totals and reserve is not None:
            totals[end] = replace(
                fact, value=fact.value - reserve.value, concept="InventoryGross less reserves"
            )
    return totals


def _periods(facts: Mapping[tuple[date | None, date], Fact]) -> dict[date, tuple[date, float]]:
    """Period end → (start, value): quarters, missing fourth quarters derived, and for
    filers that report only annually (many 20-F filers) the years themselves."""
    quarters: dict[date, tuple[date, float]] = {}
    nine_months: dict[tuple[date, date], float] = {}
    years: list[tuple[date, date, float]] = []
    for (start, end), fact in facts.items():
        if start is None:
            continue
        days = (end - start).days + 1
        if QUARTER_DAYS[0] <= days <= QUARTER_DAYS[1]:
            quarters[end] = (start, fact.value)
        elif NINE_MONTH_DAYS[0] <= days <= NINE_MONTH_DAYS[1]:
            nine_months[(start, end)] = fact.value
        elif YEAR_DAYS[0] <= days <= YEAR_DAYS[1]:
            years.append((start, end, fact.value))
    for start, end, value in years:
        if end in quarters:
            continue
        nine = [(e, v) for (s, e), v in nine_months.items() if s == start and e < end]
        if nine:
            q3_end, nine_value = max(nine)
            quarters[end] = (date.fromordinal(q3_end.toordinal() + 1), value - nine_value)
        elif not any(start <= q_end <= end for q_end in quarters):
            quarters[end] = (start, value)  # an annual-only filer: the year is the period
    return quarters


def _with_changes(quarters: list[Quarter], settings: SignalsSettings) -> list[Quarter]:
    result: list[Quarter] = []
    for quarter in quarters:
        previous = _find(result, quarter.end, QUARTER_DAYS)
        year_ago = _find(result, quarter.end, YEAR_DAYS)
        dio_change = None
        if previous and quarter.dio is not None and previous.dio is not None:
            dio_change = quarter.dio - previous.dio
        current = replace(
            quarter,
            inventory_qoq=_change(quarter.inventory.value, previous),
            inventory_yoy=_change(quarter.inventory.value, year_ago),
            dio_change=dio_change,
        )
        result.append(
            replace(current, signals=tuple(_signals(current, previous, year_ago, settings)))
        )
    return result


def _signals(
    quarter: Quarter, previous: Quarter | None, year_ago: Quarter | None, settings: SignalsSettings
) -> list[Signal]:
    """(kind, value, threshold, figures) for each check, kept when value ≥ threshold."""
    checks: list[tuple[str, float | None, float, str]] = []
    for kind, change, earlier, threshold in (
        ("inventory_qoq", quarter.inventory_qoq, previous, settings.inventory_qoq),
        ("inventory_yoy", quarter.inventory_yoy, year_ago, settings.inventory_yoy),
    ):
        if change is not None and earlier is not None:
            figures = (
                f"inventory {_money(quarter.inventory.value)} at {quarter.end} vs "
                f"{_money(earlier.inventory.value)} at {earlier.end} ({change:+.0%})"
            )
            checks.append((kind, change, threshold, figures))
    if quarter.dio_change is not None and previous is not None:
        figures = (
            f"days inventory outstanding {quarter.dio:.0f} vs {previous.dio:.0f} "
            f"at {previous.end} ({quarter.dio_change:+.0f} days)"
        )
        checks.append(("dio_days", quarter.dio_change, settings.dio_days, figures))
    if quarter.write_down and quarter.inventory.value:
        share = quarter.write_down / quarter.inventory.value
        figures = (
            f"inventory write-down {_money(quarter.write_down)} in the quarter to "
            f"{quarter.end} = {share:.0%} of inventory {_money(quarter.inventory.value)}"
        )
        checks.append(("writedown_share", share, settings.writedown_share, figures))
    return [
        Signal(
            kind=kind,
            period_end=quarter.end,
            value=value,
            threshold=threshold,
            figures=figures,
            accession=quarter.inventory.accession,
        )
        for kind, value, threshold, figures in checks
        if value is not None and value >= threshold
    ]


def _find(quarters: list[Quarter], end: date, days: tuple[int, int]) -> Quarter | None:
    for quarter in reversed(quarters):
        gap = (end - quarter.end).days
        if days[0] <= gap <= days[1]:
            return quarter
    return None


def _change(value: float, before: Quarter | None) -> float | None:
    if before is None or not before.inventory.value:
        return None
    return (value - before.inventory.value) / before.inventory.value


def _money(value: float) -> str:
    return f"${value / 1e9:.2f} billion" if abs(value) >= 1e9 else f"${value / 1e6:.0f} million"


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenueShare:
    """China and Taiwan shares of revenue for one period, from one filing's XBRL."""

    start: date
    end: date
    china: float | None
    taiwan: float | None
    accession: str


def china_share_signals(shares: Sequence[RevenueShare], settings: SignalsSettings) -> list[Signal]:
    """A move of `china_share_pp` percentage points or more between consecutive periods
    of the same length (quarter after quarter, year after year)."""
    signals = []
    previous: dict[bool, RevenueShare] = {}
    for share in sorted(shares, key=lambda s: s.end):
        annual = (share.end - share.start).days > QUARTER_DAYS[1]
        before = previous.get(annual)
        if share.china is not None:
            if before is not None and before.china is not None:
                points = (share.china - before.china) * 100
                if abs(points) >= settings.china_share_pp:
                    signals.append(
                        Signal(
                            kind="china_share_pp",
                            period_end=share.end,
                            value=points,
                            threshold=settings.china_share_pp,
                            accession=share.accession,
                            figures=f"China revenue share {share.china:.1%} for {share.start}–"
                            f"{share.end} vs {before.china:.1%} for {before.start}–{before.end} "
                            f"({points:+.1f} points)",
                        )
                    )
            previous[annual] = share
    return signals
