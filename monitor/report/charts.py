"""Trend charts (matplotlib, no display): one PNG per company."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd


def draw_chart(trends: pd.DataFrame, ticker: str, out: Path) -> Path:
    """Risk score and warnings per filing over time; inventory and days outstanding below;
    the filings that raised warnings marked."""
    rows = trends[trends["ticker"] == ticker.upper()].copy()
    if rows.empty:
        raise ValueError(f"no processed filings of {ticker} in the store")
    rows["filed_date"] = pd.to_datetime(rows["filed"])
    rows["warnings"] = rows["new_warnings"] + rows["changed_warnings"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    figure.suptitle(f"{ticker.upper()}: China-export risk and inventory by filing", fontsize=14)

    top.bar(
        rows["filed_date"],
        rows["warnings"],
        width=20,
        color="#f0b27a",
        label="warnings (new + changed)",
    )
    top.set_ylabel("warnings per filing")
    risk_axis = top.twinx()
    risk_axis.plot(
        rows["filed_date"], rows["risk_score"], color="#922b21", marker="o", label="risk score"
    )
    raised = rows[rows["warnings"] > 0]
    risk_axis.scatter(raised["filed_date"], raised["risk_score"], s=90, facecolors="none",
                      edgecolors="black", zorder=5, label="filing with warnings")  # fmt: skip
    for _, row in raised.iterrows():
        point = (row["filed_date"], row["risk_score"])
        risk_axis.annotate(
            row["form"], point, textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7
        )
    risk_axis.set_ylabel("risk score (0-100)")
    risk_axis.set_ylim(0, 105)
    top.set_title("Risk score and warnings per filing (filing date)")
    handles = [*top.get_legend_handles_labels()[0], *risk_axis.get_legend_handles_labels()[0]]
    labels = [*top.get_legend_handles_labels()[1], *risk_axis.get_legend_handles_labels()[1]]
    top.legend(handles, labels, loc="upper left", fontsize=8)

    bottom.plot(
        rows["filed_date"], rows["inventory"] / 1e9, color="#1f618d", marker="s", label="inventory"
    )
    bottom.set_ylabel("inventory (USD billion)")
    dio_axis = bottom.twinx()
    dio_axis.plot(rows["filed_date"], rows["dio"], color="#117a65", linestyle="--", marker=".",
                  label="days inventory outstanding")  # fmt: skip
    dio_axis.set_ylabel("days inventory outstanding (days)")
    bottom.set_title("Inventory and days outstanding at each filing's period end")
    handles = [*bottom.get_legend_handles_labels()[0], *dio_axis.get_legend_handles_labels()[0]]
    labels = [*bottom.get_legend_handles_labels()[1], *dio_axis.get_legend_handles_labels()[1]]
    bottom.legend(handles, labels, loc="upper left", fontsize=8)
    bottom.set_xlabel("filing date")
    bottom.xaxis.set_major_locator(mdates.YearLocator())  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))  # type: ignore[no-untyped-call]
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
