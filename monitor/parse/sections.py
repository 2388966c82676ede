"""Paragraphs → sections (10-K Items, 10-Q Part I/II Items, 20-F Items and 3.D, 8-K items).

Never guesses silently. Item headings are paragraphs that begin `Item 1A.` (or
`Items 1 and 2.`), short, not cross-references (`Item 1A of …`), and not table-of-
contents rows (rows ending in a page number; tables of contents laid out as tables
are kept out as tables already). Among those, the headings chosen are the heaviest
sequence in the form's item order (a weighted longest increasing subsequence), so a
stray early mention cannot push the real headings out. Where the table of contents
links to its target, the link confirms or disputes the heading. Each section gets a
confidence and, when low, the reason; a missing or doubtful risk-factor section is
reported as a problem, never replaced by a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.models import Paragraph, Section

MAX_HEADING_CHARS = 300
DOUBTFUL = 0.7

_ITEM = re.compile(
    r"^(?:PART\s+(?P<part>IV|I{1,3})\b\s*[,.:;—–-]?\s*)?"
    r"ITEMS?\s*(?P<item>\d{1,2}(?:\.\d{2})?[A-D]?)\b"
    r"(?:\s*(?:and|&|,|through|to|-|–)\s*(?P<item2>\d{1,2}[A-D]?)\b)?"
    r"\s*[.:—–-]?\s*(?P<title>.*)$",
    re.I | re.S,
)
_PART = re.compile(
    r"^PART\s+(?P<part>IV|I{1,3})\b\.?\s*[.:—–-]?\s*(?P<title>[^a-z].*)?$", re.I | re.S
)
_SIGNATURES = re.compile(r"^SIGNATURES?\.?$", re.I)
_PAGE_SUFFIX = re.compile(r"\s(?:\d{1,3}|[ivx]{1,5})$")
_SUBSECTION_3D = re.compile(r"^(?:Item\s+)?(?:3\.?\s*)?D\.?\s*[—–-]?\s*Risk Factors\b", re.I)

TENK = (
    ("1", "Business"), ("1A", "Risk Factors"), ("1B", "Unresolved Staff Comments"),
    ("1C", "Cybersecurity"), ("2", "Properties"), ("3", "Legal Proceedings"),
    ("4", "Mine Safety Disclosures"), ("5", "Market for"),
    ("6", "[Reserved]|Reserved|Selected Financial Data"),
    ("7", "Management"), ("7A", "Quantitative and Qualitative"),
    ("8", "Financial Statements"), ("9", "Changes in and Disagreements"),
    ("9A", "Controls and Procedures"), ("9B", "Other Information"), ("9C", "Disclosure Regarding"),
    ("10", "Directors"), ("11", "Executive Compensation"), ("12", "Security Ownership"),
    ("13", "Certain Relationships"), ("14", "Principal Account"), ("15", "Exhibits"),
    ("16", "Form 10-K Summary|Summary"),
)  # fmt: skip
TENQ = (
    ("I", "1", "Financial Statements"), ("I", "2", "Management"),
    ("I", "3", "Quantitative and Qualitative"), ("I", "4", "Controls and Procedures"),
    ("II", "1", "Legal Proceedings"), ("II", "1A", "Risk Factors"),
    ("II", "2", "Unregistered Sales"), ("II", "3", "Defaults"), ("II", "4", "Mine Safety"),
    ("II", "5", "Other Information"), ("II", "6", "Exhibits"),
)  # fmt: skip
TWENTYF = tuple(
    (str(n) + letter, "")
    for n in range(1, 20)
    for letter in ("", *(("A",) if n == 4 else ()), *("ABCDEFGHIJK" if n == 16 else ()))
)  # Item 3.D (Risk Factors) is a sub-heading inside Item 3, found on its own
RISK_ITEM = {"10-K": (None, "1A"), "10-Q": ("II", "1A"), "20-F": (None, "3.D")}


@dataclass(frozen=True, slots=True)
class ExhibitSpan:
    type: str
    description: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Key:
    part: str | None
    item: str


@dataclass(frozen=True, slots=True)
class _Heading:
    paragraph: int
    key: _Key
    title: str
    order: int
    weight: float
    combined: str = ""  # "Items 1 and 2" headings cover the second item too


class _Schema:
    def __init__(self, form: str) -> None:
        self.form = form
        base = form.removesuffix("/A")
        self.kind = (
            base
            if base in ("10-K", "10-Q", "20-F")
            else ("8-K" if base in ("8-K", "6-K") else "10-K")
        )
        rows: Sequence[tuple[str | None, str, str]]
        if self.kind == "10-Q":
            rows = TENQ
        elif self.kind == "20-F":
            rows = [(None, item, title) for item, title in TWENTYF]
        else:
            rows = [(None, item, title) for item, title in TENK]
        self.order = {_Key(part, item): n for n, (part, item, _) in enumerate(rows)}
        self.titles = {_Key(part, item): title for part, item, title in rows}

    def resolve(self, item: str, part: str | None, after: int) -> _Key | None:
        """The key an `Item N` heading stands for, given the Part it sits in."""
        item = item.upper()
        if self.kind == "8-K":
            return _Key(None, item) if re.fullmatch(r"\d\.\d{2}", item) else None
        if self.kind != "10-Q":
            key = _Key(None, item)
            return key if key in self.order else None
        options = [k for k in self.order if k.item == item]
        if part is not None:
            options = [k for k in options if k.part == part] or options
        later = [k for k in options if self.order[k] > after]
        return (later or options)[0] if options else None

    def key_for_title(self, text: str, part: str | None) -> _Key | None:
        """The one item whose usual title `text` begins with (a link reading "Risk Factors")."""
        text = text.strip().lower()
        matches = [
            key
            for key, title in self.titles.items()
            if title
            and (part is None or key.part in (None, part))
            and text.startswith(tuple(t.lower() for t in title.split("|")))
        ]
        return matches[0] if len(matches) == 1 else None

    def rank(self, key: _Key) -> float:
        if self.kind == "8-K":
            return float(key.item)
        return float(self.order[key])


def find_sections(
    text: str,
    paragraphs: Sequence[Paragraph],
    *,
    form: str | None,
    exhibits: Sequence[ExhibitSpan] = (),
    toc_targets: Mapping[int, str] | None = None,
) -> tuple[list[Section], list[str]]:
    """The document's sections in order, and the problems found (missing/doubtful risk items)."""
    problems: list[str] = []
    if form is None:
        form = _infer_form(paragraphs)
        problems.append(f"form not stated in the document; read as {form}")
    schema = _Schema(form)
    body_end = exhibits[0].start if exhibits else len(text)
    main = [p for p in paragraphs if p.start < body_end]  # exhibits are sections of their own
    candidates = _candidates(main, schema)
    chosen = _heaviest_ordered(candidates, schema)
    links = _toc_links(toc_targets or {}, schema)
    boundaries = sorted(
        {h.paragraph for h in chosen}
        | _part_headings(paragraphs, chosen)
        | _signature_headings(paragraphs, chosen)
    )
    sections = []
    for heading in chosen:
        start = paragraphs[heading.paragraph].start
        end = _next_boundary(heading.paragraph, boundaries, paragraphs, body_end)
        confidence, method, reason = _judge(heading, chosen, candidates, links, schema)
        for key in (
            heading.key,
            *([_Key(heading.key.part, heading.combined)] if heading.combined else []),
        ):
            sections.append(
                Section(
                    part=key.part if schema.kind == "10-Q" else None,
                    item=key.item,
                    title=heading.title,
                    start=start,
                    end=end,
                    confidence=confidence if key == heading.key else min(confidence, 0.8),
                    method=method if key == heading.key else "combined-heading",
                    reason=reason
                    if key == heading.key
                    else f"shares a combined heading with Item {heading.key.item}",
                )
            )
    if schema.kind == "20-F":
        sections += _risk_subsection_3d(sections, paragraphs)
    sections += [
        Section(part=None, item=s.type, title=s.description or s.type, start=s.start, end=s.end,
                confidence=1.0, method="submission-document")
        for s in exhibits
    ]  # fmt: skip
    problems += _risk_problems(sections, schema, text)
    return sorted(sections, key=lambda s: (s.start, -s.end)), problems


def _candidates(paragraphs: Sequence[Paragraph], schema: _Schema) -> list[_Heading]:
    found: list[_Heading] = []
    part: str | None = None
    last = -1
    for p in paragraphs:
        if p.kind != "text" or len(p.text) > MAX_HEADING_CHARS:
            continue
        part_match = _PART.match(p.text)
        if part_match and not _ITEM.match(p.text) and not _PAGE_SUFFIX.search(p.text):
            part = part_match.group("part").upper()
            continue
        match = _ITEM.match(p.text)
        if not match or _is_cross_reference(match.group("title")):
            continue
        if _PAGE_SUFFIX.search(p.text) and len(match.group("title")) > 0:
            continue  # a table-of-contents row: "Item 1A. Risk Factors 13"
        part = (match.group("part") or part or "").upper() or None
        key = schema.resolve(match.group("item"), part, last)
        if key is None:
            continue
        title = match.group("title").strip(" .:—–-")
        if not title and p.index + 1 < len(paragraphs):
            following = paragraphs[p.index + 1]
            if (
                following.kind == "text"
                and len(following.text) < 150
                and not _ITEM.match(following.text)
            ):
                title = following.text.strip(" .:")
        expected = schema.titles.get(key, "")
        usual = expected and title.lower().startswith(tuple(expected.lower().split("|")))
        weight = 2.0 if usual else 1.0
        combined = (match.group("item2") or "").upper()
        found.append(_Heading(p.index, key, title, schema.order.get(key, 0), weight, combined))
        last = schema.order.get(key, last)
    return found


def _is_cross_reference(title: str) -> bool:
    """`Item 1A of Part II`, `Item 7 above`: a mention, not a heading."""
    first = title.split(" ", 1)[0] if title else ""
    return bool(first) and first[0].islower() and not first.startswith(("[", "("))


def _heaviest_ordered(candidates: list[_Heading], schema: _Schema) -> list[_Heading]:
    """The subsequence in strictly increasing item order with the greatest total weight."""
    if not candidates:
        return []
    best = [c.weight for c in candidates]
    back = [-1] * len(candidates)
    for i, current in enumerate(candidates):
        for j in range(i):
            if (
                schema.rank(candidates[j].key) < schema.rank(current.key)
                and best[j] + current.weight > best[i]
            ):
                best[i], back[i] = best[j] + current.weight, j
    i = max(range(len(candidates)), key=lambda n: (best[n], -n))
    chain = []
    while i >= 0:
        chain.append(candidates[i])
        i = back[i]
    return chain[::-1]


def _part_headings(paragraphs: Sequence[Paragraph], chosen: list[_Heading]) -> set[int]:
    if not chosen:
        return set()
    first = chosen[0].paragraph
    return {
        p.index
        for p in paragraphs[first:]
        if p.kind == "text"
        and len(p.text) < 150
        and _PART.match(p.text)
        and not _ITEM.match(p.text)
    }


def _signature_headings(paragraphs: Sequence[Paragraph], chosen: list[_Heading]) -> set[int]:
    if not chosen:
        return set()
    return {
        p.index
        for p in paragraphs[chosen[-1].paragraph :]
        if p.kind == "text" and _SIGNATURES.match(p.text)
    }


def _next_boundary(
    index: int, boundaries: list[int], paragraphs: Sequence[Paragraph], body_end: int
) -> int:
    for boundary in boundaries:
        if boundary > index:
            return min(paragraphs[boundary - 1].end, body_end)
    last = max(
        (p for p in paragraphs if p.end <= body_end), key=lambda p: p.end, default=paragraphs[index]
    )
    return last.end


@dataclass(frozen=True, slots=True)
class _TocLinks:
    """Where the table of contents points for each item.

    A row of the table of contents often links each cell on its own ("Item 1A." and
    "Risk Factors"), and filers sometimes get one of them wrong. A link by number can
    dispute a heading; a link by title (a looser match) can only confirm one.
    """

    numbered: dict[_Key, set[int]]
    titled: dict[_Key, set[int]]


def _toc_links(targets: Mapping[int, str], schema: _Schema) -> _TocLinks:
    links = _TocLinks({}, {})
    part: str | None = None
    last = -1
    for paragraph, link_text in sorted(targets.items()):
        part_match = _PART.match(link_text)
        match = _ITEM.match(link_text)
        if part_match and not match:
            part = part_match.group("part").upper()
            continue
        if match:
            found = match.group("part") or part
            key = schema.resolve(match.group("item"), found.upper() if found else None, last)
            bucket = links.numbered
        else:
            key = schema.key_for_title(link_text, part)
            bucket = links.titled
        if key is not None:
            bucket.setdefault(key, set()).add(paragraph)
            last = max(last, schema.order.get(key, last))
    firsts = [min(links.numbered[k]) for k in sorted(links.numbered, key=schema.rank)]
    if firsts != sorted(firsts):  # links out of item order: a careless table, confirm only
        for key, paragraphs in links.numbered.items():
            links.titled.setdefault(key, set()).update(paragraphs)
        links.numbered.clear()
    return links


def _judge(
    heading: _Heading,
    chosen: list[_Heading],
    candidates: list[_Heading],
    links: _TocLinks,
    schema: _Schema,
) -> tuple[float, str, str]:
    reasons = []
    confidence = 0.9 if heading.weight >= 2 or schema.kind in ("8-K", "20-F") else 0.7
    method = "heading"
    if confidence < 0.9:
        expected = schema.titles.get(heading.key, "")
        reasons.append(f"heading title {heading.title[:60]!r} is not the usual {expected!r}")
    numbered = links.numbered.get(heading.key, set())
    linked = numbered | links.titled.get(heading.key, set())
    if any(abs(target - heading.paragraph) <= 2 for target in linked):
        confidence, method = min(1.0, confidence + 0.1), "heading+toc-link"
    elif numbered:
        confidence = min(confidence, 0.5)
        reasons.append(
            f"the table of contents links to paragraph(s) {sorted(numbered)}, "
            f"not to the heading (paragraph {heading.paragraph})"
        )
    repeats = [c for c in candidates if c.key == heading.key and c.paragraph != heading.paragraph]
    if repeats:
        confidence = min(confidence, 0.6)
        reasons.append(f"the heading appears {len(repeats) + 1} times")
    return confidence, method, "; ".join(reasons)


def _risk_subsection_3d(sections: list[Section], paragraphs: Sequence[Paragraph]) -> list[Section]:
    item3 = next((s for s in sections if s.item == "3"), None)
    if item3 is None:
        return []
    inside = [p for p in paragraphs if item3.start <= p.start < item3.end and p.kind == "text"]
    heading = next((p for p in inside if len(p.text) < 100 and _SUBSECTION_3D.match(p.text)), None)
    if heading is None:
        return []
    return [
        Section(part=None, item="3.D", title="Risk Factors", start=heading.start, end=item3.end,
                confidence=min(item3.confidence, 0.9), method="sub-heading in Item 3")
    ]  # fmt: skip


def _risk_problems(sections: list[Section], schema: _Schema, text: str) -> list[str]:
    if schema.kind not in RISK_ITEM:
        return []
    part, item = RISK_ITEM[schema.kind]
    label = f"Part {part} Item {item}" if part else f"Item {item}"
    risk = next((s for s in sections if s.item == item and s.part == part), None)
    if risk is None:
        note = " (an amendment that may not restate them)" if schema.form.endswith("/A") else ""
        return [f"no {label} (Risk Factors) section found{note}"]
    problems = []
    if risk.confidence < DOUBTFUL:
        problems.append(f"{label} is doubtful (confidence {risk.confidence:.1f}): {risk.reason}")
    if schema.kind == "10-K" and risk.chars < 2000:
        problems.append(f"{label} is only {risk.chars} characters long")
    return problems


def _infer_form(paragraphs: Sequence[Paragraph]) -> str:
    """A guess for documents that do not say their form (reported as a problem)."""
    short = [p.text for p in paragraphs if p.kind == "text" and len(p.text) < MAX_HEADING_CHARS]
    items = [m.group("item").upper() for t in short if (m := _ITEM.match(t))]
    parts = {m.group("part").upper() for t in short if (m := _PART.match(t))}
    if any("." in item for item in items):
        return "8-K"
    if "II" in parts and not {"7", "8", "9A"} & set(items):
        return "10-Q"
    return "10-K"
