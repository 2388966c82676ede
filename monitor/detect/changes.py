"""Two filings' findings → new / changed / unchanged / removed, and section similarity.

Each finding's paragraph in the later filing is looked up among the prose paragraphs of
each baseline (the previous comparable filing, the latest 10-K for a 10-Q, recent
8-Ks). Lookup is by 3-word shingles in an inverted index, so it survives reordering;
the best candidate is widened to its neighbours, so split and merged paragraphs match;
words are compared case- and punctuation-blind, so a reflowed sentence is no change.
No quadratic matching over whole documents: only the few candidate paragraphs are
compared word by word (difflib), and only for findings.
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from monitor.models import Document, Filing, Finding, RiskSummary, Section

_TOKEN = re.compile(r"\$?[a-z0-9]+(?:[.,][0-9]+)*%?")
SHINGLE = 3
CHANGED_AT = 0.5  # share of a paragraph's shingles found in the baseline to call it changed
UNCHANGED, CHANGED, NEW = "unchanged", "changed", "new"
_AMOUNT_TOKEN = re.compile(r"^\$|^\d[\d,.]*%?$|^(?:million|billion|trillion)$")
_RULE_WORDS = frozenset(
    {
        "license", "licence", "licenses", "licences", "licensing", "requirement",
        "requirements", "rule", "rules", "restriction", "restrictions", "controls",
        "control", "entity", "ban", "bans", "tariff", "tariffs", "sanctions", "prohibited",
    }
)  # fmt: skip
_COUNTRIES = frozenset(
    {
        "china", "chinese", "prc", "hong", "kong", "macau", "taiwan", "russia", "russian",
        "belarus", "ukraine", "israel", "india", "vietnam", "korea", "japan", "mexico",
        "canada", "singapore", "malaysia", "iran", "europe", "eu",
    }
)  # fmt: skip
_MONTHS = frozenset(
    {
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december",
    }
)  # fmt: skip
_FUNCTION_WORDS = frozenset(
    {
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "by", "as", "at",
        "from", "that", "this", "these", "those", "which", "is", "are", "was", "were", "be",
        "been", "has", "have", "had", "may", "could", "would", "will", "can", "also", "such",
        "our", "we", "us", "it", "its", "their", "any", "other", "including", "certain",
    }
)  # fmt: skip
MIN_CONTENT_WORDS = 4  # an edit of fewer content words, and no figure, name or rule, is minor
# Sections that answer each other across forms: 10-Q risk factors update the 10-K's.
COUNTERPARTS = {("II", "1A"): (None, "1A"), ("I", "2"): (None, "7"), ("I", "3"): (None, "7A")}


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """An earlier filing the new one is compared with."""

    label: str  # "10-Q 2025-01-26 0001045810-25-000023" or a file name
    document: Document
    risk: RiskSummary


@dataclass(frozen=True, slots=True, kw_only=True)
class WordDiff:
    inserted: tuple[str, ...]
    deleted: tuple[str, ...]
    ops: tuple[tuple[str, str], ...]  # ("equal" | "insert" | "delete", words)


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedParagraph:
    baseline: str
    start: int
    end: int
    similarity: float  # share of the paragraph's shingles found there


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangedFinding:
    finding: Finding
    change: str  # new | changed | unchanged
    severity: int  # the finding's severity, raised for new amounts, rules and categories
    diff: WordDiff | None = None
    matched: MatchedParagraph | None = None

    @property
    def is_warning(self) -> bool:
        return self.change in (NEW, CHANGED)


@dataclass(frozen=True, slots=True, kw_only=True)
class SectionSimilarity:
    cosine: float
    jaccard: float
    baseline: str
    baseline_section: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    findings: tuple[ChangedFinding, ...]
    removed: tuple[Finding, ...]
    similarity: dict[str, SectionSimilarity] = field(default_factory=dict)

    @property
    def warnings(self) -> tuple[ChangedFinding, ...]:
        return tuple(f for f in self.findings if f.is_warning)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class ParagraphIndex:
    """A document's prose paragraphs as words and 3-word shingle sets.

    Lookups are batched: `place_all` finds, for many query paragraphs at once, the
    baseline paragraphs sharing most of their shingles, by one pass of C-level set
    intersections over the baseline (no index of every shingle is built).
    """

    def __init__(self, document: Document) -> None:
        self.document = document
        self.paragraphs = [p for p in document.paragraphs if p.kind == "text"]
        self._starts = [p.start for p in self.paragraphs]
        self.words = [tokens(p.text) for p in self.paragraphs]
        self.shingles = [_shingles(words) for words in self.words]
        self.exact = {" ".join(words): n for n, words in enumerate(self.words)}

    def best_matches(self, queries: Sequence[list[str]]) -> list[tuple[float, int, int] | None]:
        """For each query: (similarity, first, last paragraph number) of its best window."""
        results: list[tuple[float, int, int] | None] = [None] * len(queries)
        owners: dict[tuple[str, ...], list[int]] = defaultdict(list)
        query_shingles = []
        for number, words in enumerate(queries):
            exact = self.exact.get(" ".join(words))
            shingles = _shingles(words)
            query_shingles.append(shingles)
            if exact is not None:
                results[number] = (1.0, exact, exact)
                continue
            for shingle in shingles:
                owners[shingle].append(number)
        if owners:
            wanted = set(owners)
            votes: list[Counter[int]] = [Counter() for _ in queries]
            for paragraph, shingles in enumerate(self.shingles):
                for shingle in shingles & wanted:
                    for number in owners[shingle]:
                        votes[number][paragraph] += 1
            for number, counts in enumerate(votes):
                if counts:
                    results[number] = self._best_window(query_shingles[number], counts)
        return results

    def _best_window(
        self, shingles: set[tuple[str, ...]], votes: Counter[int]
    ) -> tuple[float, int, int] | None:
        best: tuple[float, int, int] | None = None
        for paragraph, _ in votes.most_common(3):
            for first, last in (
                (paragraph, paragraph),
                (paragraph - 1, paragraph),
                (paragraph, paragraph + 1),
            ):
                if first < 0 or last >= len(self.words):
                    continue
                found = set().union(*(shingles & self.shingles[n] for n in range(first, last + 1)))
                if last > first:  # shingles that straddle the two paragraphs
                    found |= shingles & _shingles(
                        self.words[first][-SHINGLE:] + self.words[last][:SHINGLE]
                    )
                share = len(found) / len(shingles)
                if best is None or share > best[0] + 1e-9:
                    best = (share, first, last)
        return best

    def section_words(self, section: Section) -> list[str]:
        first = bisect.bisect_left(self._starts, section.start)
        last = bisect.bisect_left(self._starts, section.end)
        return [word for words in self.words[first:last] for word in words]

    def window_words(self, first: int, last: int) -> list[str]:
        return [w for n in range(first, last + 1) for w in self.words[n]]


def compare_filings(
    new: Document, new_risk: RiskSummary, baselines: Sequence[Baseline]
) -> Comparison:
    """Mark each finding of `new` against the baselines (the first is the previous
    comparable filing: its findings that vanished are `removed`)."""
    indexes = [ParagraphIndex(b.document) for b in baselines]
    texts = {f.start: f.text for f in new_risk.findings}  # a paragraph's findings share it
    starts = list(texts)
    queries = [tokens(texts[start]) for start in starts]
    matches = [index.best_matches(queries) for index in indexes]
    placements = {
        start: _place(queries[n], baselines, indexes, [m[n] for m in matches])
        for n, start in enumerate(starts)
    }
    findings = [_classify(finding, placements[finding.start]) for finding in new_risk.findings]
    new_index = ParagraphIndex(new)
    removed = _removed(baselines[0], new_index) if baselines else ()
    return Comparison(
        findings=tuple(findings),
        removed=removed,
        similarity=_similarities(new_index, baselines, indexes),
    )


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a paragraph of the new filing stands in the baselines."""

    change: str
    diff: WordDiff | None = None
    matched: MatchedParagraph | None = None
    old_categories: frozenset[str] = frozenset()


def _place(
    words: list[str],
    baselines: Sequence[Baseline],
    indexes: Sequence[ParagraphIndex],
    matches: Sequence[tuple[float, int, int] | None],
) -> _Placement:
    best: tuple[float, Baseline, ParagraphIndex, int, int] | None = None
    for baseline, index, match in zip(baselines, indexes, matches, strict=True):
        if match is None:
            continue
        if _contains(index.window_words(match[1], match[2]), words):
            return _Placement(UNCHANGED, matched=_matched(baseline, index, match))
        if best is None or match[0] > best[0]:
            best = (match[0], baseline, index, match[1], match[2])
    if best is None or best[0] < CHANGED_AT:
        return _Placement(NEW)
    share, baseline, index, first, last = best
    diff = word_diff(index.window_words(first, last), words)
    return _Placement(
        CHANGED if is_substantive(diff) else UNCHANGED,
        diff=diff if diff.inserted or diff.deleted else None,
        matched=_matched(baseline, index, (share, first, last)),
        old_categories=frozenset(_categories_at(baseline, index, first, last)),
    )


def _classify(finding: Finding, placement: _Placement) -> ChangedFinding:
    if placement.change == NEW:
        bump = 1 if finding.amounts else 0
    elif placement.change == CHANGED and placement.diff is not None:  # raise for what is new
        inserted = placement.diff.inserted
        bump = (
            any(_AMOUNT_TOKEN.match(w) for w in inserted)
            + any(w in _RULE_WORDS for w in inserted)
            + (finding.category not in placement.old_categories)
        )
    else:
        bump = 0
    return ChangedFinding(
        finding=finding,
        change=placement.change,
        severity=min(5, finding.severity + bump),
        diff=placement.diff,
        matched=placement.matched,
    )


def word_diff(old: list[str], new: list[str]) -> WordDiff:
    """Inserted and deleted words, the old side cropped to where the new text lies."""
    old = _crop(old, new)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    inserted: list[str] = []
    deleted: list[str] = []
    ops: list[tuple[str, str]] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            deleted += old[a0:a1]
            ops.append(("delete", " ".join(old[a0:a1])))
        if tag in ("replace", "insert"):
            inserted += new[b0:b1]
            ops.append(("insert", " ".join(new[b0:b1])))
        if tag == "equal":
            ops.append(("equal", " ".join(new[b0:b1])))
    return WordDiff(inserted=tuple(inserted), deleted=tuple(deleted), ops=tuple(ops))


def inserted_spans(text: str, diff: WordDiff) -> list[tuple[int, int]]:
    """Where the inserted words lie in `text`, the new paragraph `diff` was made from, as
    character spans of each inserted run (none if the text and the diff disagree)."""
    lowered = text.lower()
    positions = [m.span() for m in _TOKEN.finditer(lowered)]
    if len(lowered) != len(text):  # lower-casing moved the offsets (rare letters)
        return []
    spans: list[tuple[int, int]] = []
    at = 0
    for tag, words in diff.ops:
        if tag == "delete":
            continue
        count = len(words.split())
        if at + count > len(positions):
            return []
        if tag == "insert" and count:
            spans.append((positions[at][0], positions[at + count - 1][1]))
        at += count
    return spans


def is_substantive(diff: WordDiff) -> bool:
    """A changed amount, date, product, rule or country counts; so does a rewrite of at
    least MIN_CONTENT_WORDS content words. Swapping "the" for "these" does not."""
    edited = [*diff.inserted, *diff.deleted]
    if any(
        any(ch.isdigit() for ch in w) or w in _RULE_WORDS or w in _COUNTRIES or w in _MONTHS
        for w in edited
    ):
        return True
    return sum(1 for w in edited if w not in _FUNCTION_WORDS) >= MIN_CONTENT_WORDS


def _crop(old: list[str], new: list[str]) -> list[str]:
    """The part of a (merged or longer) old window that the new paragraph spans:
    from where its first shingle found in `old` lies to where its last one does."""
    positions: dict[tuple[str, ...], int] = {}
    for i in range(len(old) - SHINGLE + 1):
        positions.setdefault(tuple(old[i : i + SHINGLE]), i)
    anchors = [
        (positions[shingle] - j, positions[shingle] + len(new) - j)
        for j in range(len(new) - SHINGLE + 1)
        if (shingle := tuple(new[j : j + SHINGLE])) in positions
    ]
    if not anchors:
        return old
    start = max(0, min(a for a, _ in anchors))
    stop = min(len(old), max(b for _, b in anchors))
    return old[start:stop]


def _removed(previous: Baseline, new_index: ParagraphIndex) -> tuple[Finding, ...]:
    """Findings of the previous filing whose paragraph the new one no longer has."""
    texts = {f.start: f.text for f in previous.risk.findings}
    starts = list(texts)
    matches = new_index.best_matches([tokens(texts[start]) for start in starts])
    gone = {
        start
        for start, match in zip(starts, matches, strict=True)
        if match is None or match[0] < CHANGED_AT
    }
    return tuple(f for f in previous.risk.findings if f.start in gone)


def _contains(window: list[str], words: list[str]) -> bool:
    return " ".join(words) in " ".join(window) if words else False


def _matched(
    baseline: Baseline, index: ParagraphIndex, match: tuple[float, int, int]
) -> MatchedParagraph:
    share, first, last = match
    return MatchedParagraph(
        baseline=baseline.label,
        start=index.paragraphs[first].start,
        end=index.paragraphs[last].end,
        similarity=round(share, 3),
    )


def _categories_at(baseline: Baseline, index: ParagraphIndex, first: int, last: int) -> set[str]:
    start, end = index.paragraphs[first].start, index.paragraphs[last].end
    return {f.category for f in baseline.risk.findings if start <= f.start < end}


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < SHINGLE:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:], strict=False))


def _similarities(
    new: ParagraphIndex, baselines: Sequence[Baseline], indexes: Sequence[ParagraphIndex]
) -> dict[str, SectionSimilarity]:
    """Per section of the new filing: cosine and Jaccard against its counterpart in the
    first baseline that has one (prose words; tables left out)."""
    result: dict[str, SectionSimilarity] = {}
    for section in new.document.sections:
        for baseline, index in zip(baselines, indexes, strict=True):
            counterpart = _counterpart(section, baseline.document)
            if counterpart is None:
                continue
            cosine, jaccard = section_similarity(
                index.section_words(counterpart), new.section_words(section)
            )
            result[section.label] = SectionSimilarity(
                cosine=round(cosine, 4),
                jaccard=round(jaccard, 4),
                baseline=baseline.label,
                baseline_section=counterpart.label,
            )
            break
    return result


def _counterpart(section: Section, document: Document) -> Section | None:
    same = document.section(section.item, section.part)
    if same is not None and (same.part == section.part):
        return same
    other = COUNTERPARTS.get((section.part or "", section.item)) if section.part else None
    if other is not None:
        return document.section(other[1], other[0])
    return None


def section_similarity(old: list[str], new: list[str]) -> tuple[float, float]:
    """Cosine of term-frequency vectors and Jaccard of word sets ("Lazy Prices")."""
    old_counts, new_counts = Counter(old), Counter(new)
    dot = sum(count * new_counts[word] for word, count in old_counts.items())
    norm = math.sqrt(sum(c * c for c in old_counts.values())) * math.sqrt(
        sum(c * c for c in new_counts.values())
    )
    old_set, new_set = set(old_counts), set(new_counts)
    union = old_set | new_set
    return (dot / norm if norm else 0.0, len(old_set & new_set) / len(union) if union else 1.0)


def choose_baselines(new: Filing, history: Sequence[Filing]) -> list[Filing]:
    """The filings `new` is compared with, most important first (DESIGN.md pairing).

    10-K: the previous 10-K. 10-Q: the previous 10-Q and the latest 10-K. 20-F: the
    previous 20-F. An amendment: the filing it amends (same form and period), else the
    latest of its form. 8-K and 6-K: none (every finding is new) — but any filing's
    findings that repeat an 8-K of the last 90 days are unchanged, so those 8-Ks come last.
    Only the same company's filings (same CIK) are considered.
    """
    earlier = sorted(
        (
            f
            for f in history
            if f.cik == new.cik and f.accepted < new.accepted and f.accession != new.accession
        ),
        key=lambda f: f.accepted,
        reverse=True,
    )
    base = new.form.removesuffix("/A")

    def latest(form: str, *, period: date | None = None) -> Filing | None:
        for filing in earlier:
            if filing.form == form and (period is None or filing.period == period):
                return filing
        return None

    chosen: list[Filing | None] = []
    if new.is_amendment:
        chosen.append(latest(base, period=new.period) or latest(base))
    elif base in ("10-K", "20-F", "40-F"):
        chosen.append(latest(base))
    elif base == "10-Q":
        chosen += [latest("10-Q"), latest("10-K")]
    recent_8ks = [
        f for f in earlier if f.form in ("8-K", "6-K") and (new.filed - f.filed).days <= 90
    ]
    return [f for f in dict.fromkeys(chosen) if f is not None] + recent_8ks
