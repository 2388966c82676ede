"""Document → China-export-risk and inventory findings, with their evidence.

For each prose paragraph: one pass of the lexicon's combined pattern finds every term;
each rule fires on a sentence that holds all of its term lists (and a risk cue in the
same sentence or within `window_words` words, when the rule asks for one); exclusions
(legends, subsidiary lists, exhibit rows, accounting policy) veto whole paragraphs.
One finding per paragraph and category, scored by category, section, amounts and
whether the effect has already happened.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Sequence

from monitor.detect.lexicon import CATEGORIES, Lexicon, Match, Rule
from monitor.models import Document, Finding, Paragraph, RiskSummary, Section

CUE_LIST = "cue"
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
_SENTENCE_END = re.compile(r"[.!?][\"”’)]*\s+(?=[\"“(]?[A-Z0-9•])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:U\.S|U\.K|U\.N|E\.U|P\.R\.C|Inc|Corp|Co|Ltd|No|Nos|vs|Mr|Ms|Dr|St|Jan|Feb|Mar"
    r"|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|e\.g|i\.e|etc|approx|Fig|Sec|Rev)|\b[A-Z])\.$"
)
_AMOUNT = re.compile(
    r"(?:US)?[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|trillion|thousand|[MBK]\b))?",
    re.I,
)
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_DATE = re.compile(rf"\b{_MONTH}\s+(?:\d{{1,2}},\s+)?\d{{4}}\b")
_REALISED = re.compile(
    r"\b(?:recorded|recognized|incurred|resulted in|informed us|became effective|took effect|"
    r"were required|was required|imposed|announced|wrote down|written down|charges? of)\b",
    re.I,
)


def find_export_risk(document: Document, lexicon: Lexicon) -> RiskSummary:
    findings: list[Finding] = []
    for paragraph in _candidate_paragraphs(document, lexicon):
        if paragraph.kind != "text" or len(paragraph.text) < lexicon.min_paragraph_chars:
            continue
        section = document.section_at(paragraph.start)
        findings += paragraph_findings(paragraph, section, lexicon)
    counts = {category: 0 for category in CATEGORIES}
    for finding in findings:
        counts[finding.category] += 1
    return RiskSummary(
        findings=tuple(findings),
        counts=counts,
        risk_score=filing_risk_score([f.score for f in findings]),
        lexicon_version=lexicon.version,
    )


def _candidate_paragraphs(document: Document, lexicon: Lexicon) -> list[Paragraph]:
    """Paragraphs that hold an anchor (one automaton pass over the whole text)."""
    if lexicon.anchors is None:
        return list(document.paragraphs)  # no sound shortcut for this lexicon
    lowered = _lower_in_place(document.text)
    starts = [p.start for p in document.paragraphs]
    anchored = {bisect.bisect_right(starts, end) - 1 for end, _ in lexicon.anchors.iter(lowered)}
    return [document.paragraphs[i] for i in sorted(anchored) if i >= 0]


def _lower_in_place(text: str) -> str:
    """text.lower(), keeping every offset: "İ" (the one character that lowers to two)
    lowers here to "i"."""
    return text.replace("\u0130", "i").lower()


RISK_SCALE = 1500.0  # the summed finding scores at which a filing's risk reaches 63


def filing_risk_score(scores: Sequence[int]) -> int:
    """Saturating sum: many strong findings approach 100, a few weak ones stay low."""
    return round(100 * (1 - math.exp(-sum(scores) / RISK_SCALE)))


def paragraph_findings(
    paragraph: Paragraph,
    section: Section | None,
    lexicon: Lexicon,
) -> list[Finding]:
    text = paragraph.text
    matches = list(lexicon.matches(text))
    if not matches:
        return []
    by_list: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        for name in match.lists:
            by_list[name].append(match)
    vetoed = _vetoed_categories(text, lexicon)
    sentences = _sentences(text)
    words = _Words(text)
    fired: dict[str, list[tuple[tuple[int, int], list[Match]]]] = defaultdict(list)
    for rule in lexicon.rules:
        if rule.category in vetoed:
            continue
        for sentence, evidence in _rule_hits(rule, by_list, sentences, words, lexicon):
            fired[rule.category].append((sentence, evidence))
    return [
        _finding(category, hits, paragraph, section, by_list, lexicon)
        for category, hits in fired.items()
    ]


def _vetoed_categories(text: str, lexicon: Lexicon) -> set[str]:
    """Categories an exclusion rules out for this paragraph (legends, lists, policy)."""
    vetoed: set[str] = set()
    for exclusion in lexicon.exclusions:
        if exclusion.max_chars is not None and len(text) > exclusion.max_chars:
            continue
        patterns = lexicon.list_patterns
        if all(
            len(patterns[name].findall(text)) >= exclusion.min_matches for name in exclusion.lists
        ) and not any(patterns[name].search(text) for name in exclusion.unless):
            vetoed.update(exclusion.categories)
    return vetoed


class _Words:
    """Word numbers of character offsets, computed only when a window is needed."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def index(self, offset: int) -> int:
        if self._starts is None:
            self._starts = [m.start() for m in _WORD.finditer(self._text)]
        return bisect.bisect_right(self._starts, offset)


def _sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans, not cut after abbreviations such as U.S. or Inc."""
    spans, start = [], 0
    for end_match in _SENTENCE_END.finditer(text):
        stop = end_match.start() + 1
        if _ABBREVIATION.search(text[start:stop]):
            continue
        spans.append((start, stop))
        start = end_match.end()
    spans.append((start, len(text)))
    return spans


def _rule_hits(
    rule: Rule,
    by_list: dict[str, list[Match]],
    sentences: list[tuple[int, int]],
    words: _Words,
    lexicon: Lexicon,
) -> list[tuple[tuple[int, int], list[Match]]]:
    """(sentence, evidence) for each sentence where the rule holds."""
    hits = []
    for sentence in sentences:
        inside = [
            [m for m in by_list.get(name, ()) if sentence[0] <= m.start < sentence[1]]
            for name in rule.lists
        ]
        if not all(inside):
            continue
        evidence = [group[0] for group in inside]
        if rule.cue:
            cue = _nearest_cue(evidence, by_list.get(CUE_LIST, []), sentence, words, lexicon)
            if cue is None:
                continue
            evidence.append(cue)
        hits.append((sentence, evidence))
    return hits


def _nearest_cue(
    evidence: list[Match],
    cues: list[Match],
    sentence: tuple[int, int],
    words: _Words,
    lexicon: Lexicon,
) -> Match | None:
    """A cue that is not itself a topic span: in the sentence, or within the word window."""
    taken = {(m.start, m.end) for m in evidence}
    inside = [
        c for c in cues if sentence[0] <= c.start < sentence[1] and (c.start, c.end) not in taken
    ]
    if inside:
        return inside[0]
    anchor = words.index(evidence[0].start)
    best: tuple[int, Match] | None = None
    for cue in cues:
        if (cue.start, cue.end) in taken:
            continue
        distance = abs(words.index(cue.start) - anchor)
        if distance <= lexicon.window_words and (best is None or distance < best[0]):
            best = (distance, cue)
    return best[1] if best else None


def _finding(
    category: str,
    hits: list[tuple[tuple[int, int], list[Match]]],
    paragraph: Paragraph,
    section: Section | None,
    by_list: dict[str, list[Match]],
    lexicon: Lexicon,
) -> Finding:
    text = paragraph.text
    spans = sorted({sentence for sentence, _ in hits})
    evidence = sorted(
        {(m.start, m.end): m for _, ms in hits for m in ms}.values(), key=lambda m: m.start
    )
    sentence_text = " ".join(text[a:b] for a, b in spans)
    amounts = tuple(dict.fromkeys(m.group().strip() for m in _AMOUNT.finditer(text)))
    dates = tuple(dict.fromkeys(m.group() for m in _DATE.finditer(text)))
    realised = bool(_REALISED.search(sentence_text))
    topics = {m.text.lower() for m in evidence if CUE_LIST not in m.lists or len(m.lists) > 1}
    section_weight = _section_weight(section, lexicon)
    strength = (
        0.55 + 0.15 * bool(amounts) + 0.15 * realised + 0.15 * min(1.0, (len(topics) - 1) / 3)
    )
    relevant = not lexicon.relevance or any(by_list.get(n) for n in lexicon.relevance)
    factor = 1.0 if relevant else lexicon.relevance_otherwise
    score = round(100 * lexicon.category_weights[category] * section_weight * strength * factor)
    offset = paragraph.start
    return Finding(
        id=hashlib.sha256(f"{category}|{text}".encode()).hexdigest()[:12],
        category=category,
        severity=min(5, 1 + score // 20),
        score=score,
        section=section.label if section else None,
        text=text,
        sentence=sentence_text,
        terms=tuple(dict.fromkeys(m.text for m in evidence)),
        start=paragraph.start,
        end=paragraph.end,
        sentence_spans=tuple((offset + a, offset + b) for a, b in spans),
        term_spans=tuple((offset + m.start, offset + m.end) for m in evidence),
        amounts=amounts,
        dates=dates,
        trade_linked=category == "inventory"
        and any(lexicon.list_patterns[n].search(text) for n in lexicon.trade_link),
        lexicon_version=lexicon.version,
    )


def _section_weight(section: Section | None, lexicon: Lexicon) -> float:
    weights = lexicon.section_weights
    default = weights.get("default", 0.5)
    if section is None:
        return default
    if section.item.startswith("EX-"):
        return weights.get("EX-99" if section.item.startswith("EX-99") else section.item, default)
    key = f"{section.part}.{section.item}" if section.part else section.item
    return weights.get(key, default)
