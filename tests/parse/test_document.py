"""The parse stage on hand-written documents (tests/data) and on real mirror filings."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.models import Document
from monitor.parse.document import MAX_DOCUMENT_BYTES, parse_document
from tests.conftest import REPO, manifest_rows

DATA = REPO / "tests" / "data"


def parse(name: str) -> Document:
    return parse_document((DATA / name).read_bytes(), source=name)


def section_text(document: Document, item: str, part: str | None = None) -> str:
    section = document.section(item, part)
    assert section is not None, (item, part, [s.label for s in document.sections])
    return document.section_text(section)


def assert_offsets_hold(document: Document) -> None:
    for paragraph in document.paragraphs:
        assert document.text[paragraph.start : paragraph.end] == paragraph.text
    for section in document.sections:
        assert 0 <= section.start < section.end <= len(document.text)


def test_mini_10k_text_is_clean() -> None:
    document = parse("mini_10k.htm")
    assert_offsets_hold(document)
    texts = [p.text for p in document.paragraphs]
    assert "HIDDEN HEADER" not in document.text  # the inline-XBRL header
    assert not any(re.fullmatch(r"Mini Widgets Corp\. \| 2025 Form 10-K \| \d", t) for t in texts)
    assert "Table of Contents" not in texts  # back-links at page tops
    assert "designs widgets in Ohio & sells them" in document.text  # entities
    assert "December 31, 2025" in document.text and "\xa0" not in document.text
    assert (
        "would interrupt production of our widgets for several months, which would reduce revenue."
        in texts[texts.index(next(t for t in texts if t.startswith("We depend on")))]
    )  # the paragraph a page break cut is whole again, with no page number inside
    bullets = [t for t in texts if t.startswith("•")]
    assert bullets == [
        "• Export controls could stop us from selling widgets to customers in China.",
        "• Tariffs on imported parts could raise our costs.",
    ]
    (table,) = [p for p in document.paragraphs if p.kind == "table"][-1:]
    assert table.text.splitlines()[1:] == ["Revenue | $1,200 | $1,000", "Inventory | $300 | $(150)"]


def test_mini_10k_identity_from_cover_facts() -> None:
    document = parse("mini_10k.htm")
    assert (document.form, document.cik, document.company) == (
        "10-K",
        9999999,
        "Mini Widgets Corp.",
    )
    assert (document.period, document.fiscal_year) == (date(2025, 12, 31), 2025)


def test_mini_10k_sections() -> None:
    document = parse("mini_10k.htm")
    assert [s.label for s in document.sections] == [
        "Item 1", "Item 2", "Item 1A", "Item 1B", "Item 7", "Item 8",
    ]  # fmt: skip
    combined = document.section("2")
    assert combined is not None and combined.method == "combined-heading"
    risk = section_text(document, "1A")
    assert risk.startswith("Item 1A. Risk Factors\n\nOur business faces")  # the body, not the TOC
    assert risk.endswith("The last risk factor ends here.")  # "See Item 7" did not cut it
    assert section_text(document, "1").startswith("Items 1 and 2. Business and Properties")
    assert "cross-reference, not a heading" in section_text(document, "1")
    assert all(
        s.confidence == 1.0 and s.method == "heading+toc-link"
        for s in document.sections
        if s.item != "2"
    )
    assert section_text(document, "8").endswith(
        "The financial statements follow."
    )  # stops at SIGNATURES


def test_10q_parts_are_kept_apart() -> None:
    document = parse("mini_10q.htm")
    assert document.form == "10-Q" and document.period == date(2026, 6, 30)
    labels = [s.label for s in document.sections]
    assert labels == [
        "Part I Item 1", "Part I Item 2", "Part I Item 3", "Part I Item 4",
        "Part II Item 1", "Part II Item 1A", "Part II Item 2", "Part II Item 6",
    ]  # fmt: skip
    assert "China fell" in section_text(document, "2", "I")
    risk = section_text(document, "1A", "II")
    assert "export licence requirements may prevent" in risk and "China fell" not in risk
    assert section_text(document, "2", "II").endswith("None.")
    assert not section_text(document, "4", "I").rstrip().endswith("OTHER INFORMATION")


def test_20f_risk_factors_are_item_3d() -> None:
    document = parse("mini_20f.htm")
    assert document.form == "20-F"
    risk = document.section("3.D")
    assert risk is not None and risk.confidence >= 0.9
    text = document.section_text(risk)
    assert text.startswith("D. Risk Factors") and text.endswith("customers in China.")
    assert document.section_at(risk.start) == risk  # the innermost section wins
    assert "foundries in Taiwan" in section_text(document, "4")
    assert "11% of the total" in section_text(document, "5")
    assert document.problems == ()


def test_8k_submission_with_press_release_exhibit() -> None:
    document = parse("mini_8k_submission.txt")
    assert (document.form, document.cik, document.company) == ("8-K", 9999999, "MINI WIDGETS CORP")
    assert document.period == date(2026, 1, 15)
    assert [s.label for s in document.sections] == ["Item 2.02", "Item 9.01", "Exhibit 99.1"]
    exhibit = section_text(document, "EX-99.1")
    assert exhibit.startswith("Mini Widgets Reports Fourth Quarter Results")
    assert "$150 million inventory charge" in exhibit
    assert "begin 644" not in document.text  # the uuencoded logo is not text
    assert section_text(document, "9.01").endswith("Press release dated January 15, 2026.")


def test_old_plain_text_submission() -> None:
    document = parse("old_10k_submission.txt")
    assert_offsets_hold(document)
    assert (document.form, document.period) == ("10-K", date(1998, 12, 31))
    assert [s.label for s in document.sections] == ["Item 1", "Item 1A", "Item 2", "Item 7"]
    risk = section_text(document, "1A")
    assert "changes in trade policy, including tariffs on imported parts." in risk
    assert "Any export restriction" in risk and "<PAGE>" not in document.text
    assert any(p.kind == "table" and "1,200" in p.text for p in document.paragraphs)


def test_older_plain_html_with_unclosed_paragraphs() -> None:
    document = parse("plain_10k.htm")
    assert document.form == "10-K" and document.period == date(2003, 9, 30)
    assert [s.label for s in document.sections] == ["Item 1", "Item 1A", "Item 2"]
    risk = section_text(document, "1A")
    assert risk.startswith("ITEM 1A. RISK FACTORS") and "rare earth magnets" in risk
    assert "- 2 -" not in document.text and "- 1 -" not in document.text


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("no_item_1a.htm", "no Item 1A (Risk Factors) section found"),
        ("toc_only.htm", "no Item 1A (Risk Factors) section found"),
    ],
)
def test_missing_risk_section_is_reported_not_guessed(name: str, problem: str) -> None:
    document = parse(name)
    assert document.section("1A") is None
    assert problem in document.problems
    if name == "toc_only.htm":
        assert document.sections == ()  # table-of-contents rows are not headings


def test_unclosed_tags_still_give_sections() -> None:
    document = parse("unclosed_tags.htm")
    assert [s.label for s in document.sections] == ["Item 1", "Item 1A", "Item 1B", "Item 2"]
    assert "Export controls on sales to China" in section_text(document, "1A")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the document is empty"),
        (b"   \n\t ", "the document is empty"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "not a text document"),
        (bytes(range(256)) * 64, "not a text document"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a text document"),
        (b"<html><body><div style='display:none'>x</div></body></html>", "has no text"),
    ],
)
def test_unreadable_input_is_a_parse_error_naming_the_source(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(data, source="0000000000-26-000001")
    assert str(caught.value).startswith("0000000000-26-000001: ")
    assert message in str(caught.value)


def test_an_oversized_document_is_refused_by_size() -> None:
    data = b"<p>x</p>" * (MAX_DOCUMENT_BYTES // 8 + 1)
    with pytest.raises(ParseError, match="MB limit"):
        parse_document(data, source="big.htm")


def test_a_50_mb_document_without_items_parses_with_a_problem() -> None:
    paragraph = b"<p>Filler paragraph about widgets and their many uses in industry today.</p>\n"
    data = (
        b"<html><body><p>FORM 10-K</p>"
        + paragraph * (50 * 2**20 // len(paragraph))
        + b"</body></html>"
    )
    document = parse_document(data, source="huge.htm")
    assert len(document.paragraphs) > 600_000
    assert "no Item 1A (Risk Factors) section found" in document.problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(
            st.sampled_from(
                [
                    "<p>",
                    "</p>",
                    "<div>",
                    "<table>",
                    "<tr>",
                    "<td>",
                    "Item 1A.",
                    "Risk Factors",
                    "PART II",
                    "<hr style='page-break-after:always'>",
                    "12",
                    "•",
                    "&amp;",
                    "<b>",
                    "<DOCUMENT>",
                    "<TYPE>8-K",
                    "<TEXT>",
                    "Item 2.02",
                    "\x00",
                    "<ix:header>",
                ]
            ),
            max_size=60,
        ).map(lambda parts: "".join(parts).encode()),
    )
)
def test_arbitrary_input_raises_nothing_but_parse_error(data: bytes) -> None:
    try:
        document = parse_document(data, source="fuzz")
    except ParseError:
        return
    assert_offsets_hold(document)


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(r, id=r["path"].rsplit("/", 1)[-1])
        for r in manifest_rows({"10-K", "10-Q", "8-K"})
    ][::4]
    or [pytest.param(None, id="no-mirror")],
)
def test_mirror_documents_hold_their_offsets(mirror: Path, row: dict[str, str] | None) -> None:
    assert row is not None
    document = parse_document((mirror / row["path"]).read_bytes(), source=row["path"])
    assert_offsets_hold(document)
    assert document.cik == int(row["cik"])
    assert document.period == date.fromisoformat(row["period"])
    assert not any(re.fullmatch(r"\d{1,3}", p.text) for p in document.paragraphs)
    assert "Table of Contents" not in {p.text for p in document.paragraphs if p.linked}


def test_6k_submission_sections_are_its_exhibits() -> None:
    document = parse("mini_6k_submission.txt")
    assert (document.form, document.cik) == ("6-K", 9999998)
    assert [s.label for s in document.sections] == ["Exhibit 99.1"]
    assert "new export rules took effect" in section_text(document, "EX-99.1")
    assert document.problems == ()


def test_a_document_without_its_form_says_how_it_was_read() -> None:
    document = parse("no_form.htm")
    assert document.form is None
    assert "form not stated in the document; read as 10-K" in document.problems
    assert "Export controls could hurt us" in section_text(document, "1A")
