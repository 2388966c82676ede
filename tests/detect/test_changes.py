"""What is new: real filing pairs from the mirror and hand-written edits."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from monitor.detect.changes import (
    CHANGED,
    NEW,
    UNCHANGED,
    Baseline,
    Comparison,
    choose_baselines,
    compare_filings,
    inserted_spans,
    tokens,
    word_diff,
)
from monitor.detect.export_risk import find_export_risk
from monitor.detect.lexicon import load_lexicon
from monitor.models import Document, Filing, RiskSummary
from monitor.parse.document import parse_document
from tests.conftest import REPO, mirror_path

ARCHIVE = "www.sec.gov/Archives/edgar/data"
CASES = tomllib.loads((REPO / "tests/data/change_cases.toml").read_text())["case"]
LEXICON = load_lexicon(REPO / "config" / "lexicon.toml")


@cache
def scanned(path: str) -> tuple[Document, RiskSummary]:
    document = parse_document((mirror_path() / ARCHIVE / path).read_bytes(), source=path)
    return document, find_export_risk(document, LEXICON)


def compare(new: str, olds: list[str]) -> Comparison:
    baselines = [Baseline(label=o, document=scanned(o)[0], risk=scanned(o)[1]) for o in olds]
    return compare_filings(*scanned(new), baselines)


@pytest.mark.parametrize("case", CASES, ids=[c["what"][:50] for c in CASES])
def test_key_passages_are_new_or_changed(mirror: Path, case: dict[str, object]) -> None:
    comparison = compare(str(case["new"]), list(case["old"]))  # type: ignore[call-overload]
    by_start = {c.finding.start: c for c in comparison.findings}
    for start, sha in case["paragraphs"]:  # type: ignore[union-attr]
        assert start in by_start, f"no finding at paragraph {start}"
        changed = by_start[start]
        assert hashlib.sha256(changed.finding.text.encode()).hexdigest()[:16] == sha
        assert changed.change in (NEW, CHANGED), (start, changed.change)


@pytest.mark.parametrize(
    "path",
    ["1045810/000104581025000023/nvda-20250126.htm", "12927/000001292725000062/ba-20250630.htm"],
)
def test_a_filing_compared_with_itself_raises_nothing(mirror: Path, path: str) -> None:
    comparison = compare(path, [path])
    assert comparison.findings and comparison.warnings == ()
    assert comparison.removed == ()
    assert {s.cosine for s in comparison.similarity.values()} == {1.0}


Q = {
    "2023-04": "000104581023000093/nvda-20230430.htm",
    "2023-07": "000104581023000175/nvda-20230730.htm",
    "2023-10": "000104581023000227/nvda-20231029.htm",
    "2024-04": "000104581024000124/nvda-20240428.htm",
    "2024-07": "000104581024000264/nvda-20240728.htm",
    "2024-10": "000104581024000316/nvda-20241027.htm",
    "2025-04": "000104581025000116/nvda-20250427.htm",
    "2025-07": "000104581025000209/nvda-20250727.htm",
    "2025-10": "000104581025000230/nvda-20251026.htm",
}
K = {
    "2023": "000104581023000017/nvda-20230129.htm",
    "2024": "000104581024000029/nvda-20240128.htm",
    "2025": "000104581025000023/nvda-20250126.htm",
}
NVIDIA_10QS = [  # consecutive 10-Qs of one fiscal year, with that year's 10-K
    (Q[new], Q[previous], K[new[:4]])
    for new, previous in (
        ("2023-07", "2023-04"), ("2023-10", "2023-07"), ("2024-07", "2024-04"),
        ("2024-10", "2024-07"), ("2025-07", "2025-04"), ("2025-10", "2025-07"),
    )
]  # fmt: skip


def test_carried_over_export_control_paragraphs_are_mostly_unchanged(mirror: Path) -> None:
    unchanged = carried_over = 0
    for new, previous, annual in NVIDIA_10QS:
        comparison = compare(f"1045810/{new}", [f"1045810/{previous}", f"1045810/{annual}"])
        for changed in comparison.findings:
            if changed.finding.category == "export_control" and changed.change != NEW:
                carried_over += 1
                unchanged += changed.change == UNCHANGED
    assert carried_over >= 60
    assert unchanged / carried_over > 0.5


def test_boeing_section_similarity_is_recorded(mirror: Path) -> None:
    comparison = compare(
        "12927/000001292725000062/ba-20250630.htm", ["12927/000001292725000015/ba-20241231.htm"]
    )
    risk = comparison.similarity["Part II Item 1A"]
    assert risk.baseline_section == "Item 1A"  # 10-Q risk factors answer the 10-K's
    assert 0 < risk.jaccard < risk.cosine < 1.0  # the 10-Q section is a short update
    assert comparison.similarity["Part I Item 2"].baseline_section == "Item 7"


# Hand-written edits on a mini filing -----------------------------------------------------

PARAGRAPHS = [
    "Export controls could prevent us from selling our accelerators to customers in China, "
    "which may reduce our revenue.",
    "Tariffs on components imported from China could increase our costs and reduce our margins.",
    "We recorded an inventory write-down of $120 million for products we can no longer sell.",
    "Tensions between the United States and China could disrupt our suppliers in Taiwan.",
]


def mini(paragraphs: list[str]) -> tuple[Document, RiskSummary]:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (
        "<html><body><p>FORM 10-K</p><p>Item 1A. Risk Factors</p>"
        f"{body}<p>Item 1B. Unresolved Staff Comments</p><p>None.</p></body></html>"
    )
    document = parse_document(html.encode())
    return document, find_export_risk(document, LEXICON)


def compare_mini(old: list[str], new: list[str]) -> Comparison:
    before = mini(old)
    return compare_filings(*mini(new), [Baseline(label="old", document=before[0], risk=before[1])])


def changes(comparison: Comparison) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for changed in comparison.findings:
        result.setdefault(changed.finding.text[:20], set()).add(changed.change)
    return result


def test_reordered_reflowed_split_and_merged_paragraphs_are_unchanged() -> None:
    reordered = [PARAGRAPHS[3], PARAGRAPHS[1], PARAGRAPHS[0], PARAGRAPHS[2]]
    reflowed = [p.replace(", ", " , ").replace("our", "Our") for p in PARAGRAPHS]
    split = [
        *PARAGRAPHS[:2],
        "We recorded an inventory write-down of $120 million",
        "for products we can no longer sell.",
        PARAGRAPHS[3],
    ]
    merged = [PARAGRAPHS[0] + " " + PARAGRAPHS[1], *PARAGRAPHS[2:]]
    for new in (reordered, reflowed, split, merged):
        comparison = compare_mini(PARAGRAPHS, new)
        assert comparison.warnings == (), [
            (c.finding.text[:40], c.change) for c in comparison.warnings
        ]
        assert comparison.removed == ()


def test_a_changed_amount_is_a_change_with_a_word_diff_and_higher_severity() -> None:
    edited = [*PARAGRAPHS[:2], PARAGRAPHS[2].replace("$120 million", "$4.5 billion"), PARAGRAPHS[3]]
    comparison = compare_mini(PARAGRAPHS, edited)
    (changed,) = comparison.warnings
    assert changed.change == CHANGED and changed.finding.category == "inventory"
    assert changed.diff is not None
    assert changed.diff.inserted == ("$4.5", "billion") and changed.diff.deleted == (
        "$120",
        "million",
    )
    assert changed.severity == min(5, changed.finding.severity + 1)
    assert changed.matched is not None and changed.matched.baseline == "old"


def test_a_one_word_rewording_is_not_a_warning() -> None:
    edited = [PARAGRAPHS[0].replace("which may", "and this may"), *PARAGRAPHS[1:]]
    assert compare_mini(PARAGRAPHS, edited).warnings == ()


def test_new_and_removed_paragraphs() -> None:
    added = "The Commerce Department added our largest distributor to the Entity List in May 2026."
    comparison = compare_mini(PARAGRAPHS, [*PARAGRAPHS[:3], added])
    assert changes(comparison)[added[:20]] == {NEW}
    assert {f.text for f in comparison.removed} == {PARAGRAPHS[3]}


def test_word_diff_crops_a_merged_old_window() -> None:
    old = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
    ]
    new = ["eta", "theta", "iota", "kappa", "new", "words"]
    diff = word_diff(old, new)
    assert diff.inserted == ("new", "words") and diff.deleted == ("lambda", "mu")


def filing(form: str, filed: date, period: date | None = None, accession: str = "") -> Filing:
    return Filing(
        cik=1, ticker="X", company="X", form=form, filed=filed,
        accepted=datetime(filed.year, filed.month, filed.day, 21, tzinfo=UTC),
        period=period, accession=accession or f"{form}-{filed}", url="https://www.sec.gov/x",
    )  # fmt: skip


def test_choose_baselines_follows_the_pairing_rules() -> None:
    k24 = filing("10-K", date(2025, 2, 1), date(2024, 12, 31))
    q1 = filing("10-Q", date(2025, 5, 1), date(2025, 3, 31))
    eight_k = filing("8-K", date(2025, 6, 20))
    old_8k = filing("8-K", date(2025, 1, 5))
    q2 = filing("10-Q", date(2025, 8, 1), date(2025, 6, 30))
    amendment = filing("10-K/A", date(2025, 4, 30), date(2024, 12, 31))
    history = [k24, q1, eight_k, old_8k, q2, amendment]
    assert choose_baselines(q2, history) == [q1, k24, eight_k]
    assert choose_baselines(q1, history) == [k24]
    assert choose_baselines(amendment, history) == [k24]
    k25 = filing("10-K", date(2026, 2, 1), date(2025, 12, 31))
    assert choose_baselines(k25, [*history, k25]) == [k24]
    assert choose_baselines(eight_k, history) == []


def test_news_already_in_a_recent_8k_is_unchanged_and_names_it() -> None:
    news = (
        "On April 9, 2026, the government informed us that exports of our accelerators to "
        "China require a license, and we expect a charge of $1.2 billion."
    )
    html = f"<html><body><p>FORM 8-K</p><p>Item 8.01 Other Events.</p><p>{news}</p></body></html>"
    release = parse_document(html.encode())
    quarterly = mini([*PARAGRAPHS, news])
    previous = mini(PARAGRAPHS)
    comparison = compare_filings(
        *quarterly,
        [
            Baseline(label="10-Q 2025-12-31", document=previous[0], risk=previous[1]),
            Baseline(
                label="8-K 2026-04-10", document=release, risk=find_export_risk(release, LEXICON)
            ),
        ],
    )
    repeated = [c for c in comparison.findings if c.finding.text == news]
    assert repeated and {c.change for c in repeated} == {UNCHANGED}
    assert {c.matched.baseline for c in repeated if c.matched} == {"8-K 2026-04-10"}
    assert comparison.warnings == ()


def test_choose_baselines_never_crosses_companies() -> None:
    mine = filing("10-K", date(2025, 2, 1), date(2024, 12, 31))
    other = Filing(
        **{**{f: getattr(mine, f) for f in mine.__slots__}, "cik": 2, "accession": "other"}
    )
    later = filing("10-K", date(2026, 2, 1), date(2025, 12, 31))
    assert choose_baselines(later, [other]) == []
    assert choose_baselines(later, [other, mine]) == [mine]


def test_inserted_words_are_located_in_the_new_paragraph() -> None:
    old = "Export controls restrict sales of our A100 products to China."
    new = (
        "New export controls restrict sales of our A100 and H20 products to China, "
        "at a cost of $4.5 billion."
    )
    diff = word_diff(tokens(old), tokens(new))
    spans = inserted_spans(new, diff)
    assert [new[a:b] for a, b in spans] == ["New", "and H20", "at a cost of $4.5 billion"]
    assert inserted_spans("İstanbul " + new, diff) == []  # lower-casing moved the offsets
