"""`monitor diff` output: the later filing's findings with their change, readable or JSON."""

from __future__ import annotations

from itertools import groupby

from monitor.detect.changes import Comparison, WordDiff
from monitor.models import Document
from monitor.report.scan import document_identity, finding_records, identity_line

CONTEXT_WORDS = 8


def diff_record(old: Document, new: Document, comparison: Comparison) -> dict[str, object]:
    """The `diff --json` shape of DESIGN.md."""
    records = finding_records(tuple(c.finding for c in comparison.findings))
    for record, changed in zip(records, comparison.findings, strict=True):
        record["severity"] = changed.severity
        record["change"] = changed.change
        record["diff"] = _diff_record(changed.diff)
        record["matched"] = (
            {
                "baseline": changed.matched.baseline,
                "start": changed.matched.start,
                "end": changed.matched.end,
                "similarity": changed.matched.similarity,
            }
            if changed.matched
            else None
        )
    return {
        "old": document_identity(old),
        "new": document_identity(new),
        "findings": records,
        "removed": finding_records(comparison.removed),
        "similarity": {
            label: {
                "cosine": s.cosine,
                "jaccard": s.jaccard,
                "baseline": s.baseline,
                "baseline_section": s.baseline_section,
            }
            for label, s in comparison.similarity.items()
        },
    }


def render_diff(old: Document, new: Document, comparison: Comparison) -> str:
    counts = {c: 0 for c in ("new", "changed", "unchanged")}
    for changed in comparison.findings:
        counts[changed.change] += 1
    lines = [
        "old: " + identity_line(old),
        "new: " + identity_line(new),
        f"{len(comparison.warnings)} warning(s): {counts['new']} new, "
        f"{counts['changed']} changed; {counts['unchanged']} unchanged, "
        f"{len(comparison.removed)} removed",
    ]
    warnings = sorted(comparison.warnings, key=lambda c: (c.finding.start, c.finding.category))
    for section, group in groupby(warnings, key=lambda c: c.finding.section):
        lines += ["", f"== {section or 'outside any section'}"]
        for _, same in groupby(group, key=lambda c: c.finding.start):
            found = list(same)
            labels = ", ".join(f"{c.finding.category} (severity {c.severity})" for c in found)
            lines.append(f"  [{found[0].change.upper()}] {labels}")
            lines.append("    " + found[0].finding.sentence)
            if found[0].diff is not None:
                lines.append("    diff: " + _marked_diff(found[0].diff))
            figures = (*found[0].finding.amounts, *found[0].finding.dates)
            if figures:
                lines.append("    figures: " + "; ".join(figures))
    if comparison.removed:
        lines += ["", "== removed (in the old filing, gone from the new)"]
        for _, gone in groupby(comparison.removed, key=lambda f: f.start):
            removed = list(gone)
            categories = ", ".join(f.category for f in removed)
            lines.append(f"  [{categories}] {removed[0].section}: {removed[0].sentence[:200]}")
    if comparison.similarity:
        lines += ["", f"{'section':<20}{'cosine':>8}{'jaccard':>9}  compared with"]
        for label, sim in comparison.similarity.items():
            lines.append(
                f"{label:<20}{sim.cosine:>8.3f}{sim.jaccard:>9.3f}  "
                f"{sim.baseline_section} of {sim.baseline}"
            )
    return "\n".join(lines) + "\n"


def _marked_diff(diff: WordDiff) -> str:
    """Changed words as [-deleted-] {+inserted+}, with a few words of context."""
    pieces = []
    for op, words in diff.ops:
        if op == "delete":
            pieces.append(f"[-{words}-]")
        elif op == "insert":
            pieces.append(f"{{+{words}+}}")
        else:
            split = words.split()
            if len(split) > 2 * CONTEXT_WORDS:
                words = " ".join(split[:CONTEXT_WORDS]) + " … " + " ".join(split[-CONTEXT_WORDS:])
            pieces.append(words)
    return " ".join(pieces)


def _diff_record(diff: WordDiff | None) -> dict[str, object] | None:
    if diff is None:
        return None
    return {
        "inserted": list(diff.inserted),
        "deleted": list(diff.deleted),
        "ops": [[op, words] for op, words in diff.ops],
    }
