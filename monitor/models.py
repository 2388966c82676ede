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


@dataclass(frozen=True, slots=True, kw_only=True)
class Paragraph:
    """One block of the document text: prose (a paragraph, heading or list item) or a table."""

    index: int
    start: int  # offsets into Document.text
    end: int
    kind: str  # "text" or "table"
    text: str
    linked: bool = False  # holds an in-document link (tables of contents are made of these)


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A part of the filing found by its heading, with how sure we are of it."""

    part: str | None  # "I" / "II" for a 10-Q, else None
    item: str  # "1A", "7", "2.02", "3.D", "EX-99.1"
    title: str
    start: int
    end: int
    confidence: float  # 0..1
    method: str  # how it was found: "heading+toc-link", "heading", "toc-link", ...
    reason: str = ""  # why confidence is low, when it is

    @property
    def label(self) -> str:
        """The readable name used in outputs: `Item 1A`, `Part II Item 1A`, `Item 8.01`."""
        if self.item.startswith("EX-"):
            return f"Exhibit {self.item[3:]}"
        return f"Part {self.part} Item {self.item}" if self.part else f"Item {self.item}"

    @property
    def chars(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A filing's primary document as every later stage reads it."""

    text: str
    paragraphs: tuple[Paragraph, ...]
    sections: tuple[Section, ...] = ()
    form: str | None = None
    cik: int | None = None
    company: str | None = None
    period: date | None = None
    fiscal_year: int | None = None
    url: str | None = None
    problems: tuple[str, ...] = ()  # e.g. "no Item 1A (risk factors) found"

    def section(self, item: str, part: str | None = None) -> Section | None:
        for section in self.sections:
            if section.item == item and (part is None or section.part == part):
                return section
        return None

    def section_text(self, section: Section) -> str:
        return self.text[section.start : section.end]

    def section_at(self, offset: int) -> Section | None:
        """The innermost section holding `offset` (3.D rather than 3)."""
        holding = [s for s in self.sections if s.start <= offset < s.end]
        return min(holding, key=lambda s: s.chars) if holding else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Evidence that a paragraph warns of one category of risk."""

    id: str  # stable for the same category and paragraph text, whatever the filing
    category: str
    severity: int  # 1-5, 5 most severe
    score: int  # 0-100
    section: str | None  # readable label: "Item 1A", "Part II Item 1A", "Exhibit 99.1"
    text: str  # the paragraph
    sentence: str  # the triggering sentence(s)
    terms: tuple[str, ...]
    start: int  # paragraph offsets in Document.text
    end: int
    sentence_spans: tuple[tuple[int, int], ...] = ()  # offsets of the triggering sentences
    term_spans: tuple[tuple[int, int], ...] = ()  # offsets of the matched terms
    amounts: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    trade_linked: bool = False  # inventory findings tied to export, China or trade context
    lexicon_version: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSummary:
    """Per filing: the findings, counts by category and one risk score (0-100)."""

    findings: tuple[Finding, ...]
    counts: dict[str, int]
    risk_score: int
    lexicon_version: str
