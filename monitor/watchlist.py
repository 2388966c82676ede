"""The watchlist file: which companies to follow, with an optional CIK and analyst note.

[[company]]
ticker = "NVDA"
note = "AI accelerators; H20 licence requirement (April 2025)"
# cik = 1045810   # optional: pins the company when the ticker list lacks it
# recipients = ["chips-desk@example.com"]   # optional: also get this company's alerts
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistEntry:
    ticker: str
    cik: int | None = None
    note: str = ""
    recipients: tuple[str, ...] = ()  # besides [email] to: they get this company's alerts


def load_watchlist(path: Path) -> tuple[WatchlistEntry, ...]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: watchlist not found ([watchlist] path)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: watchlist is not valid TOML: {exc}") from None
    unknown = set(data) - {"company"}
    if unknown:
        raise ConfigError(f"{path}: unknown watchlist key(s) {sorted(unknown)}; use [[company]]")
    entries = data.get("company", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: the watchlist needs at least one [[company]] entry")
    result = [_read_entry(path, number, entry) for number, entry in enumerate(entries, 1)]
    seen: set[str] = set()
    for entry in result:
        if entry.ticker in seen:
            raise ConfigError(f"{path}: ticker {entry.ticker!r} is listed twice")
        seen.add(entry.ticker)
    return tuple(result)


def _read_entry(path: Path, number: int, entry: object) -> WatchlistEntry:
    where = f"{path}: [[company]] #{number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(entry) - {"ticker", "cik", "note", "recipients"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    ticker = entry.get("ticker")
    if not isinstance(ticker, str) or not ticker.strip():
        raise ConfigError(f"{where}: ticker must be a non-empty string")
    cik = entry.get("cik")
    if cik is not None and (isinstance(cik, bool) or not isinstance(cik, int) or cik <= 0):
        raise ConfigError(f"{where} ({ticker}): cik must be a positive whole number")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ConfigError(f"{where} ({ticker}): note must be a string")
    recipients = entry.get("recipients", [])
    if not isinstance(recipients, list) or not all(
        isinstance(r, str) and "@" in r and not set(r) & set(" ,;<>\r\n") for r in recipients
    ):
        raise ConfigError(f"{where} ({ticker}): recipients must be a list of e-mail addresses")
    return WatchlistEntry(
        ticker=ticker.strip().upper(), cik=cik, note=note, recipients=tuple(recipients)
    )
