from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.watchlist import load_watchlist
from tests.conftest import REPO

DEFAULT_TICKERS = "NVDA QCOM SNPS CDNS INTC AMD MU AMAT LRCX KLAC BA FDX TSLA AAPL MSFT AMZN META"


def test_default_watchlist() -> None:
    entries = load_watchlist(REPO / "config" / "watchlist.toml")
    assert [e.ticker for e in entries] == DEFAULT_TICKERS.split()
    assert "H20" in entries[0].note


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[company]]\nticker = ''\n", "w.toml: [[company]] #1: ticker must be a non-empty string"),
        (
            "[[company]]\nticker = 'A'\n[[company]]\nticker = 'a'\n",
            "w.toml: ticker 'A' is listed twice",
        ),
        (
            "[[company]]\nticker = 'A'\ncik = -5\n",
            "w.toml: [[company]] #1 (A): cik must be a positive",
        ),
        (
            "[[company]]\nticker = 'A'\nsector = 'x'\n",
            "w.toml: [[company]] #1: unknown key(s) ['sector']",
        ),
        ("[companies]\n", "w.toml: unknown watchlist key(s) ['companies']"),
        ("", "w.toml: the watchlist needs at least one [[company]] entry"),
    ],
)
def test_watchlist_errors_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_watchlist(path)
    assert message in str(caught.value)


def test_missing_watchlist_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[watchlist\] path"):
        load_watchlist(tmp_path / "absent.toml")
