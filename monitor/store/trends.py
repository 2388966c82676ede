"""Trend table: one row per company and processed filing, built with pandas from the store."""

from __future__ import annotations

from datetime import date

import pandas as pd

from monitor.detect.lexicon import CATEGORIES
from monitor.store.db import Store

TREND_COLUMNS = (
    "ticker", "form", "period", "filed", "accession", *(f"findings_{c}" for c in CATEGORIES),
    "new_warnings",
    "changed_warnings", "risk_score", "risk_section_similarity", "inventory", "inventory_qoq",
    "inventory_yoy", "dio", "china_revenue_share", "url",
)  # fmt: skip
RISK_SECTIONS = ("Item 1A", "Part II Item 1A", "Item 3.D")


def trend_table(
    store: Store, tickers: list[str] | None = None, since: date | None = None
) -> pd.DataFrame:
    db = store.connection
    filings = pd.read_sql_query(
        "SELECT f.accession, c.ticker, f.cik, f.form, f.period, f.filed, f.risk_score, f.url "
        "FROM filings f JOIN companies c ON c.cik = f.cik WHERE f.status = 'processed'",
        db,
    )
    if tickers:
        filings = filings[filings["ticker"].isin([t.upper() for t in tickers])]
    if since is not None:
        filings = filings[filings["filed"] >= since.isoformat()]
    findings = pd.read_sql_query("SELECT accession, category, change FROM findings", db)
    counts = findings.pivot_table(
        index="accession", columns="category", values="change", aggfunc="size", fill_value=0
    ).reindex(columns=list(CATEGORIES), fill_value=0)
    counts.columns = [f"findings_{c}" for c in CATEGORIES]
    warnings = (
        findings[findings["change"].isin(["new", "changed"])]
        .pivot_table(
            index="accession", columns="change", values="category", aggfunc="size", fill_value=0
        )
        .reindex(columns=["new", "changed"], fill_value=0)
        .rename(columns={"new": "new_warnings", "changed": "changed_warnings"})
    )
    similarity = pd.read_sql_query(
        "SELECT accession, similarity_cosine AS risk_section_similarity FROM sections "
        f"WHERE label IN ({', '.join('?' for _ in RISK_SECTIONS)})",
        db,
        params=RISK_SECTIONS,
    ).drop_duplicates("accession")
    facts = pd.read_sql_query(
        "SELECT cik, period_end AS period, inventory, inventory_qoq, inventory_yoy, dio FROM facts",
        db,
    )
    shares = pd.read_sql_query(
        "SELECT accession, period_start, period_end AS period, china AS china_revenue_share "
        "FROM revenue_shares",
        db,
    ).sort_values(["accession", "period_start"], ascending=[True, False])
    shares = shares.drop_duplicates(["accession", "period"])[
        ["accession", "period", "china_revenue_share"]
    ]
    table = (
        filings.merge(counts, left_on="accession", right_index=True, how="left")
        .merge(warnings, left_on="accession", right_index=True, how="left")
        .merge(similarity, on="accession", how="left")
        .merge(facts, on=["cik", "period"], how="left")
        .merge(shares, on=["accession", "period"], how="left")
    )
    integer_columns = [*(f"findings_{c}" for c in CATEGORIES), "new_warnings", "changed_warnings"]
    table[integer_columns] = table[integer_columns].fillna(0).astype(int)
    return table.sort_values(["ticker", "filed", "accession"])[list(TREND_COLUMNS)].reset_index(
        drop=True
    )
