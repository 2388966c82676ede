"""EDGAR's full-submission `.txt` (SGML wrapper) and plain-text documents.

A submission holds a header (`CONFORMED SUBMISSION TYPE:`, `CENTRAL INDEX KEY:` …)
and one `<DOCUMENT>` per file with `<TYPE>`, `<FILENAME>`, `<DESCRIPTION>` and a
`<TEXT>` body that is HTML, inline XBRL (inside `<XBRL>`), plain text or uuencoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.parse.html import RawBlock

_DOCUMENT = re.compile(rb"<DOCUMENT>(.*?)(?:</DOCUMENT>|\Z)", re.S)
_TAG_LINE = re.compile(rb"^<(TYPE|SEQUENCE|FILENAME|DESCRIPTION)>[ \t]*(.*?)[ \t]*$", re.M)
_TEXT = re.compile(rb"<TEXT>\s*(.*?)\s*(?:</TEXT>|\Z)", re.S)
_WRAPPER = re.compile(rb"^\s*<(XBRL|XML|PDF)>\s*(.*?)\s*(?:</\1>\s*)?$", re.S)
_HEADER_FIELD = re.compile(r"^\s*([A-Z][A-Z -]+):\s*(.+?)\s*$", re.M)
_COLUMNS = re.compile(r"\S\s{2,}[($]?[-\d][\d,.]*\)?\s*$")  # a line ending in a number column
_PAGE_MARK = re.compile(r"^\s*<PAGE>\s*\d*\s*$", re.I)


@dataclass(frozen=True, slots=True)
class SubmissionFile:
    type: str  # "10-K", "EX-99.1", …
    filename: str
    description: str
    body: bytes


def is_submission(data: bytes) -> bool:
    head = data[:65536]
    return b"<SEC-DOCUMENT>" in head or (b"<DOCUMENT>" in head and b"<TYPE>" in head)


def split_submission(data: bytes) -> tuple[dict[str, str], list[SubmissionFile]]:
    """The header fields (first value of each) and the files, in order."""
    header_end = data.find(b"<DOCUMENT>")
    header_text = data[: header_end if header_end >= 0 else 0].decode("latin-1")
    header: dict[str, str] = {}
    for name, value in _HEADER_FIELD.findall(header_text):
        header.setdefault(name.strip(), value)
    files = []
    for match in _DOCUMENT.finditer(data):
        chunk = match.group(1)
        tags = {k.decode(): v.decode("latin-1") for k, v in _TAG_LINE.findall(chunk)}
        text = _TEXT.search(chunk)
        body = text.group(1) if text else b""
        wrapped = _WRAPPER.match(body)
        if wrapped:
            body = wrapped.group(2)
        files.append(
            SubmissionFile(
                type=tags.get("TYPE", "").upper(),
                filename=tags.get("FILENAME", ""),
                description=tags.get("DESCRIPTION", ""),
                body=body,
            )
        )
    return header, files


def is_uuencoded(body: bytes) -> bool:
    return body.lstrip()[:10].startswith(b"begin 6")


def plain_text_blocks(text: str) -> list[RawBlock]:
    """Paragraphs of a plain-text document: blank lines separate them, <PAGE> breaks pages."""
    blocks: list[RawBlock] = []
    lines: list[str] = []

    def flush() -> None:
        if any(line.strip() for line in lines):
            columns = sum(1 for line in lines if _COLUMNS.search(line))
            kind = "table" if len(lines) >= 2 and columns * 2 >= len(lines) else "text"
            blocks.append(RawBlock(kind, "\n".join(lines)))
        lines.clear()

    for line in text.splitlines():
        if _PAGE_MARK.match(line) or "\f" in line:
            flush()
            blocks.append(RawBlock("break", ""))
        elif not line.strip():
            flush()
        else:
            lines.append(line)
    flush()
    return blocks
