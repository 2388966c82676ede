"""`monitor scan` output: identity, sections and findings, readable or as JSON / CSV."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from monitor.models import Document, Finding, RiskSummary, Section

SECTION_COLUMNS = (
    "part", "item", "title", "start", "end", "chars", "confidence", "method", "reason", "text",
)  # fmt: skip
FINDING_COLUMNS = (
    "id", "category", "severity", "score", "section", "sentence", "terms", "amounts", "dates",
    "trade_linked", "start", "end",
)  # fmt: skip
EDGE_CHARS = 80
BOLD, PLAIN = "\033[1;33m", "\033[0m"


def document_record(document: Document, risk: RiskSummary) -> dict[str, object]:
    """The `scan --json` shape of DESIGN.md (`facts` arrive with the financial signals)."""
    return {
        "document": document_identity(document),
        "sections": section_records(document),
        "findings": finding_records(risk.findings),
        "risk": {
            "score": risk.risk_score,
            "counts": risk.counts,
            "lexicon_version": risk.lexicon_version,
        },
        "facts": {},
    }


def document_identity(document: Document) -> dict[str, object]:
    return {
        "form": document.form,
        "cik": document.cik,
        "company": document.company,
        "period": document.period.isoformat() if document.period else None,
        "fiscal_year": document.fiscal_year,
        "url": document.url,
        "chars": len(document.text),
        "paragraphs": len(document.paragraphs),
        "problems": list(document.problems),
    }


def finding_records(findings: Sequence[Finding]) -> list[dict[str, object]]:
    return [
        {
            "id": f.id,
            "category": f.category,
            "severity": f.severity,
            "score": f.score,
            "section": f.section,
            "text": f.text,
            "sentence": f.sentence,
            "terms": list(f.terms),
            "start": f.start,
            "end": f.end,
            "amounts": list(f.amounts),
            "dates": list(f.dates),
            "trade_linked": f.trade_linked,
            "sentence_spans": [list(span) for span in f.sentence_spans],
            "lexicon_version": f.lexicon_version,
        }
        for f in findings
    ]


def render_report(document: Document, risk: RiskSummary, *, color: bool) -> str:
    """Findings grouped by section, strongest first, the triggering words marked."""
    counts = ", ".join(f"{c} {n}" for c, n in risk.counts.items() if n)
    lines = [
        identity_line(document),
        f"risk score {risk.risk_score}/100 from {len(risk.findings)} finding(s): "
        f"{counts or 'none'} (lexicon {risk.lexicon_version})",
    ]
    lines += [f"problem: {problem}" for problem in document.problems]
    ordered = sorted(risk.findings, key=lambda f: (f.start, f.category))
    for section, group in groupby(ordered, key=lambda f: f.section):
        lines += ["", f"== {section or 'outside any section'}"]
        by_paragraph = groupby(group, key=lambda f: f.start)
        for _, findings in by_paragraph:
            found = list(findings)
            head = found[0]
            labels = ", ".join(
                f"{f.category} (severity {f.severity}, score {f.score})" for f in found
            )
            lines.append(f"  [{labels}]")
            lines.append("    " + _marked(document, found, color))
            extras = [*head.amounts, *head.dates]
            if extras:
                lines.append("    figures: " + "; ".join(extras))
    if not risk.findings:
        lines += ["", "no findings"]
    return "\n".join(lines) + "\n"


def _marked(document: Document, findings: list[Finding], color: bool) -> str:
    """The triggering sentences of a paragraph's findings, each matched term wrapped in
    **…** (or bold on a terminal)."""
    opening, closing = (BOLD, PLAIN) if color else ("**", "**")
    sentences = sorted({span for f in findings for span in f.sentence_spans})
    terms = sorted({span for f in findings for span in f.term_spans})
    pieces = []
    for start, end in sentences:
        cursor = start
        out = []
        for term_start, term_end in terms:
            if term_start < cursor or term_end > end:
                continue
            out += [
                document.text[cursor:term_start],
                opening,
                document.text[term_start:term_end],
                closing,
            ]
            cursor = term_end
        out.append(document.text[cursor:end])
        pieces.append("".join(out))
    return " … ".join(pieces)


def identity_line(document: Document) -> str:
    period = document.period.isoformat() if document.period else "?"
    return (
        f"{document.form or '?'}  {document.company or '?'}  CIK {document.cik or '?'}  "
        f"period {period}  {len(document.text):,} chars in {len(document.paragraphs):,} paragraphs"
    )


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
    lines = [identity_line(document), ""]
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
