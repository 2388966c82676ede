"""`monitor facts` output: the per-quarter inventory table with China revenue shares."""

from __future__ import annotations

from datetime import date

from monitor.detect.inventory import Quarter, RevenueShare, Signal

FACTS_COLUMNS = (
    "ticker", "period_end", "inventory", "inventory_qoq", "inventory_yoy", "dio", "revenue",
    "china_revenue_share", "taiwan_revenue_share", "signals",
    "period_start", "cost_of_revenue", "write_down", "inventory_to_revenue", "share_period",
    "accession",
)  # fmt: skip


def facts_records(
    ticker: str, quarters: list[Quarter], shares: list[RevenueShare], signals: list[Signal]
) -> list[dict[str, object]]:
    """One row per quarter (ratios as fractions); China shares matched by period end."""
    by_end: dict[date, RevenueShare] = {}
    for candidate in shares:  # a quarter's own share wins over the year ending with it
        known = by_end.get(candidate.end)
        if known is None or candidate.start > known.start:
            by_end[candidate.end] = candidate
    extra: dict[date, list[Signal]] = {}
    for signal in signals:
        extra.setdefault(signal.period_end, []).append(signal)
    rows = []
    for quarter in quarters:
        share = by_end.get(quarter.end)
        fired = [*quarter.signals, *extra.get(quarter.end, [])]
        rows.append(
            {
                "ticker": ticker,
                "period_end": quarter.end.isoformat(),
                "inventory": quarter.inventory.value,
                "inventory_qoq": _round(quarter.inventory_qoq),
                "inventory_yoy": _round(quarter.inventory_yoy),
                "dio": _round(quarter.dio, 1),
                "revenue": quarter.revenue,
                "china_revenue_share": _round(share.china if share else None),
                "taiwan_revenue_share": _round(share.taiwan if share else None),
                "signals": ",".join(s.kind for s in fired),
                "period_start": quarter.start.isoformat(),
                "cost_of_revenue": quarter.cost_of_revenue,
                "write_down": quarter.write_down,
                "inventory_to_revenue": _round(quarter.inventory_to_revenue),
                "share_period": f"{share.start}..{share.end}" if share else None,
                "accession": quarter.inventory.accession,
                "signal_details": [
                    {
                        "kind": s.kind,
                        "value": round(s.value, 4),
                        "threshold": s.threshold,
                        "figures": s.figures,
                        "accession": s.accession,
                    }
                    for s in fired
                ],
            }
        )
    return rows


def _round(value: float | None, digits: int = 4) -> float | None:
    return round(value, digits) if value is not None else None
