"""Export-risk detection: the labelled mirror set, known real cases, hand-written cases."""

from __future__ import annotations

import tomllib
from html import escape
from pathlib import Path

import pytest

from monitor.detect.export_risk import find_export_risk
from monitor.detect.lexicon import Lexicon, load_lexicon
from monitor.errors import ConfigError
from monitor.models import Finding
from monitor.parse.document import parse_document
from tests.conftest import REPO
from tests.detect.labels import ALL, HELD_OUT, score, table

LEXICON_PATH = REPO / "config" / "lexicon.toml"
ARCHIVE = "www.sec.gov/Archives/edgar/data"
CASES = tomllib.loads((REPO / "tests/data/detect_cases.toml").read_text())["case"]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


def scan(mirror: Path, path: str, lexicon: Lexicon) -> list[Finding]:
    document = parse_document((mirror / ARCHIVE / path).read_bytes(), source=path)
    return list(find_export_risk(document, lexicon).findings)


def test_precision_and_recall_on_the_labelled_set(mirror: Path, lexicon: Lexicon) -> None:
    scores = score(mirror, lexicon)
    print("\n" + table(scores))  # noqa: T201  (shown with -s; the README quotes it)
    assert scores.mismatched == [], "labelled paragraphs no longer found: relabel them"
    assert scores.paragraphs >= 400 and scores.filings >= 8
    overall = scores.by_category[ALL]
    assert overall.precision >= 0.90 and overall.recall >= 0.90
    baseline = scores.baseline
    assert overall.precision > baseline.precision and overall.recall > baseline.recall


def test_precision_and_recall_on_paragraphs_never_tuned_on(mirror: Path, lexicon: Lexicon) -> None:
    scores = score(mirror, lexicon, HELD_OUT)
    print("\n" + table(scores))  # noqa: T201
    assert scores.mismatched == [] and scores.paragraphs >= 100
    overall = scores.by_category[ALL]
    assert overall.precision >= 0.90 and overall.recall >= 0.90


def test_nvidia_h20_licence_requirement_and_charge(mirror: Path, lexicon: Lexicon) -> None:
    findings = scan(mirror, "1045810/000104581025000116/nvda-20250427.htm", lexicon)
    licence = [
        f for f in findings
        if f.category == "export_control" and "April 9, 2025" in f.dates and "H20" in f.text
    ]  # fmt: skip
    assert licence and max(f.severity for f in licence) >= 4
    assert any("$4.5 billion" in f.amounts for f in licence)
    charge = [f for f in findings if f.category == "inventory" and "$4.5 billion" in f.amounts]
    assert any(f.trade_linked for f in charge)
    assert any(f.section == "Part I Item 2" for f in charge)


def test_nvidia_october_2023_export_rules(mirror: Path, lexicon: Lexicon) -> None:
    findings = scan(mirror, "1045810/000104581023000227/nvda-20231029.htm", lexicon)
    october = [
        f for f in findings if f.category == "export_control" and "October 17, 2023" in f.dates
    ]
    assert october
    assert {f.section for f in october} >= {"Part II Item 1A"}


def test_boeing_tariffs_and_china_deliveries(mirror: Path, lexicon: Lexicon) -> None:
    findings = scan(mirror, "12927/000001292725000062/ba-20250630.htm", lexicon)
    tariffs = [
        f for f in findings if f.category == "trade_policy" and "tariff" in f.sentence.lower()
    ]
    assert len(tariffs) >= 3
    china = [f for f in findings if "China" in f.sentence and "deliver" in f.sentence]
    assert china, "the paragraphs on deliveries to China"


def test_coca_cola_yields_little(mirror: Path, lexicon: Lexicon) -> None:
    document = parse_document(
        (mirror / ARCHIVE / "21344/000002134425000011/ko-20241231.htm").read_bytes()
    )
    summary = find_export_risk(document, lexicon)
    nvidia = find_export_risk(
        parse_document(
            (mirror / ARCHIVE / "1045810/000104581025000023/nvda-20250126.htm").read_bytes()
        ),
        lexicon,
    )
    assert summary.counts["export_control"] == 0
    assert summary.risk_score <= 30 < 90 <= nvidia.risk_score


def mini_10k(paragraph: str) -> bytes:
    return (
        "<html><body><p>FORM 10-K</p><p>Item 1A. Risk Factors</p>"
        f"<p>{escape(paragraph)}</p><p>Item 1B. Unresolved Staff Comments</p><p>None.</p>"
        "</body></html>"
    ).encode()


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:40] for c in CASES])
def test_handwritten_cases(case: dict[str, object], lexicon: Lexicon) -> None:
    document = parse_document(mini_10k(str(case["text"])))
    findings = find_export_risk(document, lexicon).findings
    assert sorted({f.category for f in findings}) == case["categories"]
    for finding in findings:
        assert finding.section == "Item 1A"
        assert document.text[finding.start : finding.end] == finding.text
        assert finding.sentence in finding.text
        assert 1 <= finding.severity <= 5 and 0 <= finding.score <= 100
        assert finding.lexicon_version == lexicon.version
        for start, end in finding.term_spans:
            assert document.text[start:end] in finding.terms


def test_amounts_and_dates_are_collected(lexicon: Lexicon) -> None:
    text = (
        "On April 9, 2025, the government informed us that exports of our H20 products to China "
        "require a license, and we recorded a $4.5 billion charge in the first quarter."
    )
    (export,) = [f for f in find_export_risk(parse_document(mini_10k(text)), lexicon).findings
                 if f.category == "export_control"]  # fmt: skip
    assert export.amounts == ("$4.5 billion",)
    assert export.dates == ("April 9, 2025",)
    assert {"exports", "require a license"} <= {t.lower() for t in export.terms}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("china = [", 'china = ["Chin(a", '), "[terms] china #1 'Chin(a': invalid pattern"),
        (
            ('all = ["export_rules"]', 'all = ["export_rulez"]'),
            "[[rule]] #1 (export_control) all: unknown term list 'export_rulez'",
        ),
        (
            ('category = "export_control"', 'category = "exports"'),
            "[[rule]] #1 (exports): category must be one of",
        ),
        (
            ('"{china}", "export\\\\w*"', '"{chian}", "export\\\\w*"'),
            "[terms] trade_context: {chian} names no other term list",
        ),
    ],
)
def test_lexicon_errors_name_the_rule(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = LEXICON_PATH.read_text()
    assert change[0] in text
    broken = tmp_path / "lexicon.toml"
    broken.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_lexicon(broken)
    assert str(caught.value).startswith(f"{broken}: ")
    assert message in str(caught.value)


def test_lexicon_version_is_its_hash(tmp_path: Path, lexicon: Lexicon) -> None:
    edited = tmp_path / "lexicon.toml"
    edited.write_text(LEXICON_PATH.read_text() + "\n# an analyst's note\n")
    assert load_lexicon(edited).version != lexicon.version
    assert len(lexicon.version) == 12


def test_taiwan_counts_as_relevant_like_china(lexicon: Lexicon) -> None:
    def score(place: str) -> int:
        text = (
            f"Geopolitical tensions involving {place} could disrupt our supply of wafers "
            "and components, and our business could be materially harmed."
        )
        findings = find_export_risk(parse_document(mini_10k(text)), lexicon).findings
        (geopolitical,) = [f for f in findings if f.category == "geopolitical"]
        return geopolitical.score

    assert score("Taiwan") == score("China") == 2 * score("Japan")  # relevance: otherwise 0.5
