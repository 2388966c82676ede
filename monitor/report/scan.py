"""`monitor scan` output: the document's identity and sections, readable or as JSON."""

from __future__ import annotations

from monitor.models import Document, Section

SECTION_COLUMNS = (
    "part", "item", "title", "start", "end", "chars", "confidence", "method", "reason", "text",
)  # fmt: skip
EDGE_CHARS = 80


def document_record(document: Document) -> dict[str, object]:
    """The `scan --json` shape of DESIGN.md (findings and facts arrive with later stages)."""
    return {
        "document": {
            "form": document.form,
            "cik": document.cik,
            "company": document.company,
            "period": document.period.isoformat() if document.period else None,
            "fiscal_year": document.fiscal_year,
            "url": document.url,
            "chars": len(document.text),
            "paragraphs": len(document.paragraphs),
            "problems": list(document.problems),
        },
        "sections": section_records(document),
        "findings": [],
        "facts": {},
    }


def section_records(document: Document) -> list[dict[str, object]]:
    return [_section_record(document, section) for section in document.sections]


def _section_record(document: Document, section: Section) -> dict[str, object]:
    return {
        "part": section.part,
        "item": section.item,
        "title": section.title,
        "start": section.start,
        "end": section.end,
        "chars": section.chars,
        "confidence": round(section.confidence, 2),
        "method": section.method,
        "reason": section.reason or None,
        "text": document.section_text(section),
    }


def render_sections(document: Document) -> str:
    period = document.period.isoformat() if document.period else "?"
    lines = [
        f"{document.form or '?'}  {document.company or '?'}  CIK {document.cik or '?'}  "
        f"period {period}  {len(document.text):,} chars in {len(document.paragraphs):,} paragraphs",
        "",
    ]
    for section in document.sections:
        text = " ".join(document.section_text(section).split())
        lines.append(
            f"{section.label:<18} {section.title[:60]:<60} {section.chars:>9,} chars  "
            f"confidence {section.confidence:.1f} ({section.method})"
        )
        if section.reason:
            lines.append(f"    why low: {section.reason}")
        lines.append(f"    starts: {text[:EDGE_CHARS]}")
        lines.append(f"    ends:   {text[-EDGE_CHARS:]}")
    if not document.sections:
        lines.append("no sections found")
    lines += [f"problem: {problem}" for problem in document.problems]
    return "\n".join(lines) + "\n"
