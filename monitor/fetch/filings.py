"""Discovery: ticker → CIK, and the submissions JSON → `Filing` values.

`data.sec.gov/submissions/CIK##########.json` lists a company's recent filings as
columnar arrays; older ones sit in the pages named under `filings.files`, which are
fetched only when the date window reaches them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from monitor.errors import FetchError, NotFoundError, UnknownTickerError
from monitor.fetch.client import EdgarClient
from monitor.models import SEC_DATA, SEC_WWW, Company, Filing, archive_url
from monitor.watchlist import WatchlistEntry

logger = logging.getLogger(__name__)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TICKERS_URL = f"{SEC_WWW}/files/company_tickers.json"
_COLUMNS = ("accessionNumber", "filingDate", "reportDate", "acceptanceDateTime", "form")
_ACCESSION = re.compile(r"[0-9]{10}-[0-9]{2}-[0-9]{6}")
_PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.json")
_DOCUMENT_PATH = re.compile(r"[^/\\\x00-\x1f\x7f]+(?:/[^/\\\x00-\x1f\x7f]+)*")


def one_line(value: object) -> str:
    """A name as EDGAR's JSON gives it, on one line: control characters (a CR LF that
    would break a mail header or a CSV row) and runs of white space become one space."""
    text = str(value)
    if not text.isprintable():  # the usual name is: no regular expression for it
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def submissions_url(cik: int) -> str:
    return f"{SEC_DATA}/submissions/CIK{cik:010d}.json"


def load_ticker_map(client: EdgarClient) -> dict[str, Company]:
    """EDGAR's ticker list as {ticker: Company}."""
    data = client.get_json(TICKERS_URL)
    rows = data.values() if isinstance(data, dict) else None
    try:
        companies = [
            Company(
                ticker=str(row["ticker"]).upper(),
                cik=int(row["cik_str"]),
                name=one_line(row["title"]),
            )
            for row in rows or ()
        ]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise FetchError(
            f"{TICKERS_URL}: unexpected ticker list ({exc!r})", url=TICKERS_URL
        ) from None
    if not companies:
        raise FetchError(
            f"{TICKERS_URL}: the ticker list is empty or not an object", url=TICKERS_URL
        )
    ticker_map: dict[str, Company] = {}
    for company in companies:
        ticker_map.setdefault(company.ticker, company)  # first row is the primary listing
    return ticker_map


def resolve_company(entry: WatchlistEntry, ticker_map: Mapping[str, Company]) -> Company:
    if entry.cik is not None:
        known = ticker_map.get(entry.ticker)
        name = known.name if known and known.cik == entry.cik else ""
        return Company(ticker=entry.ticker, cik=entry.cik, name=name, note=entry.note)
    company = ticker_map.get(entry.ticker)
    if company is None:
        raise UnknownTickerError(entry.ticker)
    return Company(ticker=company.ticker, cik=company.cik, name=company.name, note=entry.note)


def list_filings(
    client: EdgarClient,
    company: Company,
    *,
    forms: Sequence[str],
    since: date | None = None,
    until: date | None = None,
    amendments: bool = True,
) -> list[Filing]:
    """The company's filings of `forms` filed in [since, until], newest first.

    Raises NotFoundError when the source has no submissions file for the company.
    """
    url = submissions_url(company.cik)
    data = client.get_json(url)
    try:
        name = one_line(data.get("name") or company.name)
        recent = data["filings"]["recent"]
        pages = list(data["filings"].get("files", []))
    except (AttributeError, KeyError, TypeError) as exc:
        raise FetchError(f"{url}: not a submissions file ({exc!r} missing)", url=url) from None
    tables: list[tuple[str, Any]] = [(url, recent)]
    for page in pages:
        if _page_overlaps(page, since, until):
            page_url = _page_url(url, page)
            try:
                tables.append((page_url, client.get_json(page_url)))
            except NotFoundError as exc:
                logger.warning(
                    "%s: older filings page unavailable (%s); listing the rest", company.ticker, exc
                )
    wanted = _form_filter(forms, amendments=amendments)
    found: dict[str, Filing] = {}
    for table_url, table in tables:
        for filing in _read_table(table_url, table, company=company, name=name):
            if wanted(filing.form) and _in_window(filing.filed, since, until):
                found.setdefault(filing.accession, filing)
    return newest_first(found.values())


def _page_overlaps(page: Any, since: date | None, until: date | None) -> bool:
    try:
        first = date.fromisoformat(page["filingFrom"])
        last = date.fromisoformat(page["filingTo"])
    except (KeyError, TypeError, ValueError):
        return True  # a page without usable dates may hold anything: read it
    return (since is None or last >= since) and (until is None or first <= until)


def _page_url(url: str, page: Any) -> str:
    """The URL of an older filings page named under `filings.files`."""
    name = page.get("name") if isinstance(page, Mapping) else None
    if not isinstance(name, str) or not _PAGE_NAME.fullmatch(name):
        raise FetchError(
            f"{url}: filings.files names no submissions page ({str(page)[:80]!r})", url=url
        )
    return f"{SEC_DATA}/submissions/{name}"


def _form_filter(forms: Sequence[str], *, amendments: bool) -> Any:
    base = {form.upper() for form in forms}

    def wanted(form: str) -> bool:
        return form in base or (amendments and form.endswith("/A") and form[:-2] in base)

    return wanted


def _in_window(filed: date, since: date | None, until: date | None) -> bool:
    return (since is None or filed >= since) and (until is None or filed <= until)


def _read_table(url: str, table: Any, *, company: Company, name: str) -> Iterator[Filing]:
    """Rows of one columnar filings table (the `recent` block or an older page)."""
    try:
        columns = {key: list(table[key]) for key in _COLUMNS}
        optional = {key: list(table.get(key) or []) for key in ("items", "primaryDocument")}
    except (KeyError, TypeError) as exc:
        raise FetchError(f"{url}: filings table lacks column {exc}", url=url) from None
    count = len(columns["accessionNumber"])
    if any(len(values) != count for values in columns.values()):
        raise FetchError(f"{url}: filings columns have different lengths", url=url)
    for index in range(count):
        try:
            yield _read_row(index, columns, optional, company=company, name=name)
        except (TypeError, ValueError) as exc:
            accession = columns["accessionNumber"][index]
            raise FetchError(f"{url}: filing {accession!r}: {exc}", url=url) from None


def _read_row(
    index: int,
    columns: Mapping[str, list[Any]],
    optional: Mapping[str, list[Any]],
    *,
    company: Company,
    name: str,
) -> Filing:
    accession = str(columns["accessionNumber"][index])
    if not _ACCESSION.fullmatch(accession):
        raise ValueError("not an EDGAR accession number (##########-##-######)")
    document = _at(optional["primaryDocument"], index) or f"{accession}.txt"
    if not _DOCUMENT_PATH.fullmatch(document) or {".", ".."} & set(document.split("/")):
        raise ValueError(f"primary document {document!r} is not a file of the filing's folder")
    items = _at(optional["items"], index)
    report_date = columns["reportDate"][index]
    return Filing(
        cik=company.cik,
        ticker=company.ticker,
        company=name,
        form=str(columns["form"][index]),
        filed=date.fromisoformat(columns["filingDate"][index]),
        accepted=_utc(datetime.fromisoformat(columns["acceptanceDateTime"][index])),
        period=date.fromisoformat(report_date) if report_date else None,
        accession=accession,
        url=archive_url(company.cik, accession, document),
        items=tuple(code.strip() for code in items.split(",") if code.strip()),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # EDGAR writes UTC ("Z")


def _at(values: Sequence[Any], index: int) -> str:
    return str(values[index] or "") if index < len(values) else ""


def newest_first(filings: Iterable[Filing]) -> list[Filing]:
    return sorted(filings, key=lambda f: (f.accepted, f.accession), reverse=True)
