"""Values that flow between the stages. Later stages add Document, Finding, …"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")  # EDGAR's own clock: acceptance and filing dates
SEC_WWW = "https://www.sec.gov"
SEC_DATA = "https://data.sec.gov"


@dataclass(frozen=True, slots=True, kw_only=True)
class Company:
    ticker: str
    cik: int
    name: str = ""
    note: str = ""

    @property
    def cik10(self) -> str:
        return f"{self.cik:010d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Filing:
    """One EDGAR filing as the submissions JSON lists it. `url` is always canonical."""

    cik: int
    ticker: str
    company: str
    form: str
    filed: date
    accepted: datetime  # timezone-aware (UTC as EDGAR gives it)
    period: date | None
    accession: str  # 0001045810-25-000023
    url: str  # https://www.sec.gov/Archives/edgar/data/{cik}/{accession-no-dashes}/{document}
    items: tuple[str, ...] = ()  # 8-K item codes: ("2.02", "9.01")

    @property
    def is_amendment(self) -> bool:
        return self.form.endswith("/A")

    def to_record(self) -> dict[str, object]:
        """The `filings --json` shape (DESIGN.md): dates ISO, acceptance in Eastern time."""
        return {
            "cik": self.cik,
            "ticker": self.ticker,
            "company": self.company,
            "form": self.form,
            "filed": self.filed.isoformat(),
            "accepted": self.accepted.astimezone(EASTERN).isoformat(),
            "period": self.period.isoformat() if self.period else None,
            "accession": self.accession,
            "url": self.url,
            "items": list(self.items),
        }


def archive_url(cik: int, accession: str, document: str) -> str:
    """Canonical URL of a file inside a filing's archive folder."""
    return f"{SEC_WWW}/Archives/edgar/data/{cik}/{accession.replace('-', '')}/{document}"
