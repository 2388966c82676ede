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
from dataclasses import dataclass

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
    sentences = _sentences(text)
    starts = [start for start, _ in sentences]
    in_sentence: list[dict[str, list[Match]]] = [defaultdict(list) for _ in sentences]
    for match in matches:
        lists = in_sentence[bisect.bisect_right(starts, match.start) - 1]
        for name in match.lists:
            lists[name].append(match)
    context = _Context(by_list.get(CUE_LIST, []), _Words(text), lexicon.window_words)
    fired: dict[str, list[tuple[tuple[int, int], list[Match]]]] = defaultdict(list)
    for rule in lexicon.rules:
        for sentence, evidence in _rule_hits(rule, in_sentence, sentences, context):
            fired[rule.category].append((sentence, evidence))
    vetoed = _vetoed_categories(text, set(fired), lexicon) if fired else set()
    return [
        _finding(category, hits, paragraph, section, by_list, lexicon)
        for category, hits in fired.items()
        if category not in vetoed
    ]


def _vetoed_categories(text: str, fired: set[str], lexicon: Lexicon) -> set[str]:
    """Categories an exclusion rules out for this paragraph (legends, lists, policy).

    Only exclusions that could veto a category that fired are tried.
    """
    vetoed: set[str] = set()
    patterns = lexicon.list_patterns
    for exclusion in lexicon.exclusions:
        if not fired.intersection(exclusion.categories) or fired <= vetoed:
            continue
        if exclusion.max_chars is not None and len(text) > exclusion.max_chars:
            continue
        if all(
            _count_at_least(patterns[name], text, exclusion.min_matches) for name in exclusion.lists
        ) and not any(patterns[name].search(text) for name in exclusion.unless):
            vetoed.update(exclusion.categories)
    return vetoed


def _count_at_least(pattern: re.Pattern[str], text: str, count: int) -> bool:
    if count <= 1:
        return pattern.search(text) is not None
    return sum(1 for _ in zip(range(count), pattern.finditer(text), strict=False)) >= count


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
    in_sentence: list[dict[str, list[Match]]],
    sentences: list[tuple[int, int]],
    context: _Context,
) -> list[tuple[tuple[int, int], list[Match]]]:
    """(sentence, evidence) for each sentence where the rule holds."""
    hits = []
    for sentence, lists in zip(sentences, in_sentence, strict=True):
        if not all(name in lists for name in rule.lists):
            continue
        evidence = [lists[name][0] for name in rule.lists]
        if rule.cue:
            cue = _nearest_cue(evidence, lists.get(CUE_LIST, []), context)
            if cue is None:
                continue
            evidence.append(cue)
        hits.append((sentence, evidence))
    return hits


@dataclass
class _Context:
    """What a paragraph's rules share: all cues, word numbers, the window."""

    cues: list[Match]
    words: _Words
    window_words: int


def _nearest_cue(
    evidence: list[Match], sentence_cues: list[Match], context: _Context
) -> Match | None:
    """A cue that is not itself a topic span: in the sentence, or within the word window."""
    taken = {(m.start, m.end) for m in evidence}
    for cue in sentence_cues:
        if (cue.start, cue.end) not in taken:
            return cue
    anchor = context.words.index(evidence[0].start)
    best: tuple[int, Match] | None = None
    for cue in context.cues:
        if (cue.start, cue.end) in taken:
            continue
        distance = abs(context.words.index(cue.start) - anchor)
        if distance <= context.window_words and (best is None or distance < best[0]):
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
    relevant = not lexicon.relevance or any(
        by_list.get(n) or (n not in lexicon.rule_lists and lexicon.list_patterns[n].search(text))
        for n in lexicon.relevance
    )  # a list no rule reads (Taiwan) is not in the one matching pass: searched here
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
