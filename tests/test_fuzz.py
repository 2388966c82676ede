"""Fuzzing the decoders: arbitrary input raises nothing but the monitor's own errors.

Covers what tests/parse/test_document.py's `test_arbitrary_input_raises_nothing_but_parse_error`
(random bytes and flat tag soup into `parse_document`) does not: nested HTML trees with
entities, styles, inline-XBRL and links, the HTML walker on its own, full-submission
wrappers, the section finder on arbitrary paragraphs, the submissions and ticker JSON,
company facts and the inline-XBRL geography. Each test keeps to a few seconds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.detect.inventory import (
    COST_OF_REVENUE,
    INVENTORY,
    INVENTORY_PARTS,
    RESERVES,
    REVENUE,
    WRITE_DOWN,
    as_filed_series,
    quarterly_series,
)
from monitor.errors import FetchError, MonitorError, ParseError
from monitor.fetch.client import EdgarClient
from monitor.fetch.filings import list_filings, load_ticker_map
from monitor.models import Company, Paragraph
from monitor.parse.document import PARAGRAPH_SEPARATOR, parse_document
from monitor.parse.html import parse_html
from monitor.parse.sections import ExhibitSpan, find_sections
from monitor.parse.xbrl import geographic_revenue
from monitor.settings import EdgarSettings, SignalsSettings
from tests.parse.test_document import assert_offsets_hold

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# HTML ------------------------------------------------------------------------------------

WORDS = [
    "Item 1A.", "ITEM 7.", "Item 2.02", "Items 1 and 2.", "Risk Factors", "PART II",
    "Part I, Item 3.", "Management's Discussion", "FORM 10-K", "FORM 20-F", "3.D Risk Factors",
    "SIGNATURES", "Table of Contents", "12", "iv", "$", "%", ")", "(1,234)", "—", "•", "\uf0b7",
    "China", "export", "&amp;", "&nbsp;", "&#0;", "&#x110000;", "&#xD800;", "&#65;", "&bogus;",
    "&", "<", ">", "\u200b", "\u00ad", "e\u0301", "\x00", "\x0c", "\r\n", "\n\n", " ", "\t",
    "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>", "<!DOCTYPE html>", "</p>", "</td>", "</table>",
]  # fmt: skip
STYLES = [
    "", "display:none", "DISPLAY : NONE", "page-break-before:always", "page-break-after:always",
    "break-before:page", "break-after: page", "font-weight:bold", "none", "after", "before",
]  # fmt: skip
TAGS = [
    "p", "div", "span", "b", "font", "table", "tr", "td", "th", "tbody", "br", "hr", "li",
    "ul", "a", "h2", "center", "sup", "script", "style", "head", "title", "ix:header",
    "ix:nonnumeric", "ix:nonfraction", "xbrli:context", "body", "html", "pre", "template",
]  # fmt: skip
DEI_NAMES = [
    "dei:DocumentType", "dei:EntityCentralIndexKey", "dei:EntityRegistrantName",
    "dei:DocumentPeriodEndDate", "dei:DocumentFiscalYearFocus", "us-gaap:Revenues", "",
]  # fmt: skip

text_run = st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=6).map("".join)


@st.composite
def attributes(draw: st.DrawFn) -> str:
    chosen = {
        "style": st.sampled_from(STYLES),
        "id": st.sampled_from(["i1", "risk", "", "x y", "i1"]),
        "name": st.sampled_from(DEI_NAMES),
        "href": st.sampled_from(["#i1", "#risk", "#", "#nowhere", "http://x", ""]),
        "contextref": st.sampled_from(["c1", "c2", ""]),
        "scale": st.sampled_from(["0", "3", "6", "-2", "x", "999999", "²", "9" * 5000]),
    }
    parts = []
    for key in draw(st.lists(st.sampled_from(sorted(chosen)), unique=True, max_size=3)):
        value = draw(chosen[key]).replace("'", "&#39;")
        parts.append(f" {key}='{value}'")
    return "".join(parts)


@st.composite
def element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    inner = "".join(draw(st.lists(children, max_size=4)))
    closing = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", "</div>"]))
    return f"<{tag}{draw(attributes())}>{inner}{closing}"


html_fragment = st.recursive(text_run, lambda inner: element(inner), max_leaves=40)


@st.composite
def html_documents(draw: st.DrawFn) -> bytes:
    body = "".join(draw(st.lists(html_fragment, min_size=1, max_size=6)))
    wrap = draw(st.sampled_from(["{}", "<html><body>{}</body></html>", "<?xml version='1.0'?>{}"]))
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    return wrap.format(body).encode(encoding, errors="replace")


def nested_tables(depth: int, cell: str) -> bytes:
    """Tables inside table cells, `depth` deep: each level walks every row below it."""
    return (
        ("<table><tr><td>" + cell + "</td><td>") * depth + "end" + "</td></tr></table>" * depth
    ).encode()


@FUZZ
@given(st.one_of(html_documents(), st.binary(max_size=3000)))
def test_html_walker_raises_nothing_but_parse_error(data: bytes) -> None:
    try:
        content = parse_html(data)
    except ParseError:
        return
    assert all(block.kind in ("text", "table", "break") for block in content.blocks)
    assert all(isinstance(value, str) for value in content.facts.values())


@FUZZ
@given(html_documents())
def test_nested_html_documents_raise_nothing_but_parse_error(data: bytes) -> None:
    try:
        document = parse_document(data, source="fuzz.htm")
    except ParseError as exc:
        assert str(exc).startswith("fuzz.htm: ") or str(exc).startswith("HTML could not")
        return
    assert_offsets_hold(document)


@pytest.mark.parametrize("depth", [10, 400, 3000])
def test_deeply_nested_tables_parse_in_bounded_time(depth: int) -> None:
    """400 tables deep (12 kB) took 10 s when every table re-read all the rows below it."""
    started = time.monotonic()
    try:
        document = parse_document(nested_tables(depth, "Revenue 12"), source="nested.htm")
    except ParseError:
        return
    finally:
        assert time.monotonic() - started < 5.0  # generous: it takes ~0.01 s
    assert_offsets_hold(document)


SUBMISSION_PARTS = [
    "<SEC-DOCUMENT>", "<SEC-HEADER>", "CONFORMED SUBMISSION TYPE:\t10-K\n",
    "CENTRAL INDEX KEY:\t0001045810\n", "CONFORMED PERIOD OF REPORT:\t20251331\n",
    "COMPANY CONFORMED NAME:\tX\n", "<DOCUMENT>\n", "</DOCUMENT>\n", "<TYPE>10-K\n",
    "<TYPE>EX-99.1\n", "<TYPE>GRAPHIC\n", "<FILENAME>a.htm\n", "<DESCRIPTION>press\n",
    "<TEXT>\n", "</TEXT>\n", "<XBRL>\n", "</XBRL>\n", "<PDF>\n", "begin 644 a.jpg\n",
    "<PAGE>\n", "\f", "ITEM 1A. RISK FACTORS\n", "Risk text about China.\n", "\n",
    "<html><body><p>Item 2.02 Results</p>", "<p>", "  1,234     5,678\n",
]  # fmt: skip


@FUZZ
@given(
    st.lists(st.sampled_from(SUBMISSION_PARTS) | st.text(max_size=20), max_size=40).map(
        lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
    )
)
def test_submission_wrappers_raise_nothing_but_parse_error(data: bytes) -> None:
    try:
        document = parse_document(data, source="0000000000-26-000001")
    except ParseError as exc:
        assert "0000000000-26-000001" in str(exc) or str(exc).startswith("HTML could not")
        return
    assert_offsets_hold(document)


# Sections --------------------------------------------------------------------------------

HEADINGS = [
    "Item 1.", "Item 1A.", "ITEM 1A. RISK FACTORS", "Item 1A. Risk Factors 13", "Item 1A of",
    "Items 1 and 2. Business and Properties", "Item 2.02 Results of Operations", "Item 9.01",
    "Item 3.", "3.D Risk Factors", "D. Risk Factors", "Item 4A.", "Item 16K.", "Item 99.",
    "PART I", "PART II — OTHER INFORMATION", "Part IV", "SIGNATURES", "Risk Factors",
    "Management's Discussion and Analysis", "Item 7A. Quantitative and Qualitative",
    "Item 1.01 Entry", "ITEMS 1 through 3", "Item 12. Security Ownership", "Item 6. [Reserved]",
]  # fmt: skip
FORMS = [None, "10-K", "10-K/A", "10-Q", "20-F", "8-K", "6-K", "S-1", "", "10-Q/A", "40-F"]


@st.composite
def laid_out(draw: st.DrawFn) -> tuple[str, list[Paragraph]]:
    texts = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["text", "text", "table"]),
                st.sampled_from(HEADINGS) | st.text(min_size=1, max_size=400).filter(str.strip),
            ),
            min_size=1,
            max_size=40,
        )
    )
    paragraphs: list[Paragraph] = []
    offset = 0
    for index, (kind, text) in enumerate(texts):
        if paragraphs:
            offset += len(PARAGRAPH_SEPARATOR)
        paragraphs.append(
            Paragraph(index=index, start=offset, end=offset + len(text), kind=kind, text=text)
        )
        offset += len(text)
    return PARAGRAPH_SEPARATOR.join(text for _, text in texts), paragraphs


@FUZZ
@given(
    laid_out(),
    st.sampled_from(FORMS),
    st.dictionaries(
        st.integers(-3, 45), st.sampled_from(HEADINGS) | st.text(max_size=30), max_size=8
    ),
    st.integers(0, 45),
)
def test_section_finder_on_arbitrary_paragraphs(
    layout: tuple[str, list[Paragraph]],
    form: str | None,
    toc_targets: dict[int, str],
    exhibit_at: int,
) -> None:
    text, paragraphs = layout
    exhibits = []
    if exhibit_at < len(paragraphs):  # an exhibit from this paragraph to the end
        exhibits.append(ExhibitSpan("EX-99.1", "press", paragraphs[exhibit_at].start, len(text)))
    try:
        sections, problems = find_sections(
            text, paragraphs, form=form, exhibits=exhibits, toc_targets=toc_targets
        )
    except MonitorError:
        return
    for section in sections:
        assert 0 <= section.start <= section.end <= len(text)
        assert 0.0 <= section.confidence <= 1.0
    assert all(isinstance(problem, str) and "\n" not in problem for problem in problems)


# JSON ------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.just(10**400),
    st.floats(),  # NaN and ±Infinity too: Python's json reads and writes them
    st.text(max_size=30),
    st.sampled_from(["2025-01-31", "2025-13-01", "2025-01-01T00:00:00.000Z", "", "0", "../x"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right shape, sometimes anything at all."""
    return st.one_of(valid, valid, valid, json_values)


SUBMISSION_COLUMNS = {
    "accessionNumber": st.sampled_from(["0001045810-25-000116", "0000000001-25-000001"])
    | st.text(max_size=24),
    "filingDate": st.sampled_from(["2025-05-28", "2024-02-29", "2025-02-30"]),
    "reportDate": st.sampled_from(["2025-04-27", "", None]),
    "acceptanceDateTime": st.sampled_from(
        ["2025-05-28T16:23:12.000Z", "2025-05-28T16:23:12", "2025-05-28T16:23:12+99:00"]
    ),
    "form": st.sampled_from(["10-K", "10-Q", "10-K/A", "8-K", "4", "/A"]),
    "primaryDocument": st.sampled_from(["nvda-20250427.htm", "", "x/../../y.htm", "a\nb", None]),
    "items": st.sampled_from(["", "2.02,9.01", " , ", None]),
}


@st.composite
def submissions_tables(draw: st.DrawFn) -> Any:
    rows = draw(st.integers(0, 3))
    table = {}
    for key, value in SUBMISSION_COLUMNS.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # a column left out
        table[key] = draw(maybe(st.lists(maybe(value), min_size=rows, max_size=rows)))
    return draw(maybe(st.just(table)))


PAGES = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["CIK0000000001-submissions-001.json", "../x.json", "a\nb.json"])
        | json_values,
        "filingFrom": maybe(st.just("2001-01-01")),
        "filingTo": maybe(st.just("2030-01-01")),
    }
)


@st.composite
def submissions_files(draw: st.DrawFn) -> Any:
    filings = {"recent": draw(submissions_tables())}
    if draw(st.booleans()):
        filings["files"] = draw(maybe(st.lists(maybe(PAGES), max_size=2)))
    top = {"cik": "0000000001", "name": draw(maybe(st.just("X CORP"))), "filings": filings}
    return draw(maybe(st.just(top)))


@pytest.fixture(scope="module")
def mirror_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz-mirror")
    (root / "data.sec.gov" / "submissions").mkdir(parents=True)
    (root / "www.sec.gov" / "files").mkdir(parents=True)
    yield root


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value))  # NaN, Infinity and 10**400 written as Python writes them


ARCHIVE = "https://www.sec.gov/Archives/edgar/data/1/"


@FUZZ
@given(submissions_files(), st.sampled_from([None, date(2025, 1, 1)]))
def test_submissions_json_gives_filings_or_fetch_error(
    mirror_dir: Path, data: Any, since: date | None
) -> None:
    url = "https://data.sec.gov/submissions/CIK0000000001.json"
    write_json(mirror_dir / "data.sec.gov/submissions/CIK0000000001.json", data)
    with EdgarClient(EdgarSettings(mirror=mirror_dir)) as client:
        try:
            filings = list_filings(
                client, Company(ticker="X", cik=1), forms=("10-K", "10-Q"), since=since
            )
        except FetchError as exc:
            assert "\n" not in str(exc)
            assert url in str(exc) or "submissions/" in str(exc)
            return
    for filing in filings:
        assert re.fullmatch(r"\d{10}-\d{2}-\d{6}", filing.accession), filing
        folder = ARCHIVE + filing.accession.replace("-", "") + "/"
        assert filing.url.startswith(folder), filing.url  # never outside its own folder
        assert ".." not in filing.url.split("/") and filing.url.isprintable(), filing.url


def test_json_nested_past_the_stack_is_a_fetch_error(mirror_dir: Path) -> None:
    (mirror_dir / "www.sec.gov/files/company_tickers.json").write_bytes(b"[" * 100_000)
    with (
        EdgarClient(EdgarSettings(mirror=mirror_dir)) as client,
        pytest.raises(FetchError, match=r"company_tickers\.json: not valid JSON"),
    ):
        load_ticker_map(client)


TICKER_ROWS = st.fixed_dictionaries(
    {
        "cik_str": maybe(st.integers(1, 10**10)),
        "ticker": maybe(st.sampled_from(["NVDA", "brk-b", ""])),
        "title": maybe(st.just("NVIDIA CORP")),
    }
)


@FUZZ
@given(maybe(st.dictionaries(st.sampled_from("0123"), maybe(TICKER_ROWS), max_size=4)))
def test_ticker_list_gives_companies_or_fetch_error(mirror_dir: Path, data: Any) -> None:
    write_json(mirror_dir / "www.sec.gov/files/company_tickers.json", data)
    with EdgarClient(EdgarSettings(mirror=mirror_dir)) as client:
        try:
            companies = load_ticker_map(client)
        except FetchError as exc:
            assert "company_tickers.json" in str(exc)
            return
    assert all(isinstance(c.cik, int) for c in companies.values())


ALL_CONCEPTS = [
    concept
    for chain in (INVENTORY, REVENUE, COST_OF_REVENUE, WRITE_DOWN, RESERVES, *INVENTORY_PARTS)
    for concept in chain
] + [("us-gaap", "InventoryGross")]
FACT_DATES = st.sampled_from(
    ["2024-01-28", "2024-04-28", "2024-10-27", "2025-01-26", "2023-01-30", "0001-01-01",
     "9999-12-31", "2024-02-30", ""]
)  # fmt: skip
FACT_ROWS = st.fixed_dictionaries(
    {"val": maybe(st.integers(-(10**12), 10**12) | st.floats()), "end": maybe(FACT_DATES),
     "accn": maybe(st.just("0001045810-25-000023")), "filed": maybe(FACT_DATES)},
    optional={"start": maybe(FACT_DATES), "form": maybe(st.sampled_from(["10-Q", "10-K/A"]))},
)  # fmt: skip


@st.composite
def companyfacts(draw: st.DrawFn) -> Any:
    facts: dict[str, Any] = {}
    for taxonomy, tag in draw(st.lists(st.sampled_from(ALL_CONCEPTS), max_size=6)):
        units = draw(maybe(st.dictionaries(st.sampled_from(["USD", "EUR"]), maybe(
            st.lists(maybe(FACT_ROWS), max_size=8)), max_size=2)))  # fmt: skip
        facts.setdefault(taxonomy, {})[tag] = draw(maybe(st.just({"units": units})))
    return draw(maybe(st.just({"cik": 1, "entityName": "X", "facts": draw(maybe(st.just(facts)))})))


@FUZZ
@given(companyfacts(), st.sampled_from([None, date(2024, 6, 1)]), st.booleans())
def test_company_facts_give_quarters_or_parse_error(
    data: Any, filed_by: date | None, as_filed: bool
) -> None:
    series = as_filed_series if as_filed else quarterly_series
    try:
        quarters = series(data, SignalsSettings(), filed_by=filed_by)
    except ParseError as exc:
        assert "\n" not in str(exc) and "companyfacts" in str(exc)
        return
    for quarter in quarters:
        assert quarter.start <= quarter.end


GEO_CONTEXT = (
    "<xbrli:context id='{id}'><xbrli:entity><xbrli:segment>{members}</xbrli:segment>"
    "</xbrli:entity><xbrli:period><xbrli:startdate>{start}</xbrli:startdate>"
    "<xbrli:enddate>{end}</xbrli:enddate></xbrli:period></xbrli:context>"
)
GEO_MEMBER = "<xbrldi:explicitmember dimension='{axis}'>{member}</xbrldi:explicitmember>"
GEO_FACT = (
    "<ix:nonfraction name='{concept}' contextref='{context}' scale='{scale}' sign='{sign}'>"
    "{value}</ix:nonfraction>"
)


@st.composite
def inline_xbrl(draw: st.DrawFn) -> bytes:
    pieces = []
    for number in range(draw(st.integers(0, 4))):
        members = "".join(
            GEO_MEMBER.format(
                axis=draw(st.sampled_from(["srt:StatementGeographicalAxis", "x:OtherAxis", ""])),
                member=draw(
                    st.sampled_from(
                        [
                            "country:CN",
                            "country:HK",
                            "country:TW",
                            "x:ChinaIncludingHongKongMember",
                            "",
                            "<b>",
                        ]
                    )
                ),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        pieces.append(
            GEO_CONTEXT.format(
                id=f"c{number}", members=members, start=draw(FACT_DATES), end=draw(FACT_DATES)
            )
        )
    for _ in range(draw(st.integers(0, 6))):
        pieces.append(
            GEO_FACT.format(
                concept=draw(st.sampled_from(["us-gaap:Revenues", "ifrs-full:Revenue", "x:Y"])),
                context=draw(st.sampled_from(["c0", "c1", "c2", "c3", "c9"])),
                scale=draw(st.sampled_from(["0", "6", "-3", "", "x", "999999", "²", "9" * 5000])),
                sign=draw(st.sampled_from(["", "-"])),
                value=draw(
                    st.sampled_from(["1,234", "0", "—", "", "1e400", "nan", "x", "<i>5</i>"])
                ),
            )
        )
    if draw(st.booleans()):
        pieces.append(draw(html_fragment))
    return "".join(draw(st.permutations(pieces))).encode()


@FUZZ
@given(st.one_of(inline_xbrl(), st.binary(max_size=2000)))
def test_inline_xbrl_geography_raises_nothing_but_parse_error(data: bytes) -> None:
    try:
        revenues = geographic_revenue(data)
    except ParseError:
        return
    for revenue in revenues:
        assert revenue.start and revenue.end
        share = revenue.china_share
        assert share is None or isinstance(share, float)
