"""Filing bytes → Document: the one entry point of the parse stage.

Sniffs what the bytes are (full-submission `.txt`, HTML / inline XBRL, plain text),
turns them into blocks, removes page furniture (page numbers, running headers and
footers, "Table of Contents" back-links), rejoins paragraphs that a page break cut,
normalises characters and white space, lays the paragraphs out in one text with
their offsets, reads the filing's identity from the document itself and finds its
sections.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from monitor.errors import ParseError
from monitor.models import Document, Paragraph
from monitor.parse.html import RawBlock, parse_html
from monitor.parse.sections import ExhibitSpan, find_sections
from monitor.parse.submission import (
    is_submission,
    is_uuencoded,
    plain_text_blocks,
    split_submission,
)

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
PARAGRAPH_SEPARATOR = "\n\n"
BULLETS = "•●◦▪■·\uf0b7\uf0a7"
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*(?:\d{1,3}|[ivxlc]{1,7}|[A-Z]-\d{1,3})\s*[-–—]?(?:\s+of\s+\d+)?$", re.I
)
_BACK_LINK = re.compile(
    r"^(?:back to |return to )?(?:the )?(?:table of contents|contents|index)$", re.I
)
_TERMINAL = re.compile(r"[.!?:;\"”’)\]]$")
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype[^>]*>\s*)?(?:<!--.*?-->\s*)*<", re.I | re.S
)


@dataclass(frozen=True, slots=True)
class _Identity:
    form: str | None = None
    cik: int | None = None
    company: str | None = None
    period: date | None = None
    fiscal_year: int | None = None


def parse_document(data: bytes, *, url: str | None = None, source: str = "document") -> Document:
    """Parse a filing's primary document (or its full submission) into a Document.

    `source` names the input in errors (a file path or accession number).
    Raises ParseError for what is not a readable text document.
    """
    _check_bytes(data, source)
    exhibits: list[tuple[str, str, list[RawBlock]]] = []
    if is_submission(data):
        header, files = split_submission(data)
        readable = [f for f in files if f.body.strip() and not is_uuencoded(f.body)]
        if not readable:
            raise ParseError(f"{source}: the submission holds no readable document")
        body = _read_body(readable[0].body)
        identity = _merge(body.identity, _header_identity(header))
        for file in readable[1:]:
            if file.type.startswith("EX-99"):
                exhibit = _read_body(file.body)
                exhibits.append((file.type, file.description, exhibit.blocks))
    else:
        body = _read_body(data)
        identity = body.identity
    paragraphs, spans, anchors = _lay_out(body.blocks, exhibits)
    text = PARAGRAPH_SEPARATOR.join(p.text for p in paragraphs)
    if not text.strip():
        raise ParseError(f"{source}: the document has no text")
    sections, problems = find_sections(
        text,
        paragraphs,
        form=identity.form,
        exhibits=spans,
        toc_targets=_link_targets(body.links, anchors),
    )
    return Document(
        text=text,
        paragraphs=tuple(paragraphs),
        sections=tuple(sections),
        form=identity.form,
        cik=identity.cik,
        company=identity.company,
        period=identity.period,
        fiscal_year=identity.fiscal_year,
        url=url,
        problems=tuple(problems),
    )


def _check_bytes(data: bytes, source: str) -> None:
    if len(data) > MAX_DOCUMENT_BYTES:  # first: nothing is copied or scanned
        raise ParseError(
            f"{source}: the document is {len(data) / 2**20:.0f} MB, over the "
            f"{MAX_DOCUMENT_BYTES // 2**20} MB limit for one filing document"
        )
    if not data or data.isspace():  # `not data.strip()` without copying the bytes
        raise ParseError(f"{source}: the document is empty")
    head = data[:8192]
    if head.startswith((b"%PDF", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff")):
        raise ParseError(f"{source}: not a text document (PDF, archive or image bytes)")
    control = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    if b"\x00" in head or control > len(head) * 0.05:
        raise ParseError(
            f"{source}: not a text document ({control} control bytes in the first {len(head)})"
        )


@dataclass(frozen=True, slots=True)
class _Body:
    blocks: list[RawBlock]
    identity: _Identity
    links: list[tuple[str, str]]


def _read_body(data: bytes) -> _Body:
    head = data[:4096]
    if _HTML_START.match(head) or re.search(rb"<(?:html|body|div|p|table)\b", head, re.I):
        content = parse_html(data)
        cover = " ".join(b.text for b in content.blocks[:80])
        identity = _merge(_dei_identity(content.facts), _text_identity(cover[:5000]))
        return _Body(content.blocks, identity, content.links)
    text = data.decode("utf-8", errors="replace")
    return _Body(plain_text_blocks(text), _text_identity(text[:5000]), [])


def _link_targets(links: list[tuple[str, str]], anchors: dict[str, int]) -> dict[int, str]:
    """Paragraph index → the text of the in-document links that point at it."""
    targets: dict[int, str] = {}
    for target, label in links:
        if target in anchors:
            index = anchors[target]
            targets[index] = f"{targets.get(index, '')} {' '.join(label.split())}".strip()
    return targets


def _lay_out(
    blocks: list[RawBlock], exhibits: list[tuple[str, str, list[RawBlock]]]
) -> tuple[list[Paragraph], list[ExhibitSpan], dict[str, int]]:
    """Clean each group of blocks and give every paragraph its offsets in one text.

    Also returns where each element id of the main document landed (paragraph index).
    """
    paragraphs: list[Paragraph] = []
    spans: list[ExhibitSpan] = []
    anchors: dict[str, int] = {}
    offset = 0
    groups = [("", "", blocks), *exhibits]
    for kind, description, group in groups:
        first = len(paragraphs)
        for block in _clean(group):
            if not kind:
                for anchor in block.anchors:
                    anchors.setdefault(anchor, len(paragraphs))
            if paragraphs:
                offset += len(PARAGRAPH_SEPARATOR)
            paragraphs.append(
                Paragraph(
                    index=len(paragraphs),
                    start=offset,
                    end=offset + len(block.text),
                    kind=block.kind,
                    text=block.text,
                    linked=block.linked,
                )
            )
            offset += len(block.text)
        if kind and len(paragraphs) > first:
            spans.append(ExhibitSpan(kind, description, paragraphs[first].start, offset))
    return paragraphs, spans, anchors


def _clean(blocks: list[RawBlock]) -> list[RawBlock]:
    normalised = [_normalise(b) for b in blocks]
    kept = _drop_page_furniture([b for b in normalised if b.kind == "break" or b.text])
    return [piece for block in _rejoin_across_pages(kept) for piece in _split_bullets(block)]


def _normalise(block: RawBlock) -> RawBlock:
    text = block.text
    if not text.isascii():
        text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    lines = [" ".join(line.split()) for line in text.split("\n")]  # all Unicode spaces
    lines = [line for line in lines if line]
    joiner = "\n" if block.kind == "table" or any(line[0] in BULLETS for line in lines[1:]) else " "
    return RawBlock(block.kind, joiner.join(lines), block.linked, block.anchors)


def _drop_page_furniture(blocks: list[RawBlock]) -> list[RawBlock]:
    """Page numbers, back-links, and short lines repeated next to page breaks."""
    near_break: set[int] = set()
    for i, block in enumerate(blocks):
        if block.kind == "break":
            near_break.update(range(max(0, i - 3), min(len(blocks), i + 4)))

    def shape(text: str) -> str:
        return re.sub(r"\d+", "#", text.lower())

    repeated = Counter(
        shape(blocks[i].text)
        for i in near_break
        if blocks[i].kind == "text" and len(blocks[i].text) <= 150
    )
    kept: list[RawBlock] = []
    orphaned: list[str] = []  # ids on dropped blocks move to the next kept one
    for i, block in enumerate(blocks):
        if block.kind == "text" and (
            _PAGE_NUMBER.match(block.text)
            or (_BACK_LINK.match(block.text) and (block.linked or i in near_break))
            or (i in near_break and len(block.text) <= 150 and repeated[shape(block.text)] >= 3)
        ):
            orphaned += block.anchors
            continue
        if orphaned and block.kind != "break":
            block = RawBlock(block.kind, block.text, block.linked, orphaned + block.anchors)
            orphaned = []
        kept.append(block)
    return kept


def _rejoin_across_pages(blocks: list[RawBlock]) -> list[RawBlock]:
    """A paragraph that a page break cut mid-sentence becomes one paragraph again."""
    joined: list[RawBlock] = []
    after_break = False
    for block in blocks:
        if block.kind == "break":
            after_break = True
            continue
        previous = joined[-1] if joined else None
        if (
            after_break
            and previous is not None
            and previous.kind == block.kind == "text"
            and not _TERMINAL.search(previous.text)
            and block.text[:1].islower()
        ):
            joined[-1] = RawBlock(
                "text", f"{previous.text} {block.text}", previous.linked, previous.anchors
            )
        else:
            joined.append(block)
        after_break = False
    return joined


def _split_bullets(block: RawBlock) -> list[RawBlock]:
    if block.kind != "text" or "\n" not in block.text:
        return [block]
    pieces: list[str] = []
    for line in block.text.split("\n"):
        if pieces and line[0] not in BULLETS:
            pieces[-1] += " " + line
        else:
            pieces.append(line)
    return [
        RawBlock("text", piece, block.linked, block.anchors if n == 0 else [])
        for n, piece in enumerate(pieces)
    ]


# Identity ------------------------------------------------------------------------------

_DATE_FORMATS = (
    "%B %d, %Y",
    "%b %d, %Y",
    "%b. %d, %Y",
    "%Y-%m-%d",
    "%d %B %Y",
    "%m/%d/%Y",
    "%Y%m%d",
)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    cleaned = " ".join(text.replace(" ,", ",").split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def _int(text: str | None) -> int | None:
    digits = re.sub(r"\D", "", text or "")
    return int(digits) if digits else None


def _dei_identity(facts: dict[str, str]) -> _Identity:
    form = facts.get("dei:DocumentType") or None
    return _Identity(
        form=form.upper() if form else None,
        cik=_int(facts.get("dei:EntityCentralIndexKey")),
        company=facts.get("dei:EntityRegistrantName") or None,
        period=_date(facts.get("dei:DocumentPeriodEndDate")),
        fiscal_year=_int(facts.get("dei:DocumentFiscalYearFocus")),
    )


def _header_identity(header: dict[str, str]) -> _Identity:
    period = _date(header.get("CONFORMED PERIOD OF REPORT"))
    return _Identity(
        form=header.get("CONFORMED SUBMISSION TYPE"),
        cik=_int(header.get("CENTRAL INDEX KEY")),
        company=header.get("COMPANY CONFORMED NAME"),
        period=period,
    )


_COVER_FORM = re.compile(r"\bFORM\s+(10-K|10-Q|8-K|20-F|6-K|40-F)(/A)?\b", re.I)
_COVER_PERIOD = re.compile(r"(?:year|period|quarter) ended\s+([A-Z][a-z]+\.? \d{1,2}, \d{4})", re.I)


def _text_identity(head: str) -> _Identity:
    form = _COVER_FORM.search(head)
    period = _COVER_PERIOD.search(head)
    return _Identity(
        form="".join(g for g in form.groups() if g).upper() if form else None,
        period=_date(period.group(1)) if period else None,
    )


def _merge(first: _Identity, second: _Identity) -> _Identity:
    return _Identity(
        form=first.form or second.form,
        cik=first.cik or second.cik,
        company=first.company or second.company,
        period=first.period or second.period,
        fiscal_year=first.fiscal_year or second.fiscal_year,
    )
