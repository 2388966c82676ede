"""The labelled paragraph sets and their scoring.

tests/data/risk_labels.jsonl (896 paragraphs of 12 filings) is the set the lexicon
was tuned on; tests/data/risk_labels_heldout.jsonl (130 paragraphs of 3 other
filings) was labelled after the rules were written and never used to tune them.
Each line names a paragraph of a mirror filing by path, offset in the parser's text
and the SHA-256 (first 16 hex digits) of its text — never the text — with the
categories a reader gave it. `python -m tests.detect.labels` prints the tables that
the README quotes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from monitor.detect.export_risk import find_export_risk
from monitor.detect.lexicon import CATEGORIES, Lexicon, load_lexicon
from monitor.parse.document import parse_document

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "tests" / "data" / "risk_labels.jsonl"
HELD_OUT = REPO / "tests" / "data" / "risk_labels_heldout.jsonl"
KEYWORD = re.compile(r"china|export", re.I)  # the baseline: flag any paragraph naming either
ALL = "all categories"


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Scores:
    by_category: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    baseline: Tally = field(default_factory=Tally)
    paragraphs: int = 0
    filings: int = 0
    mismatched: list[str] = field(default_factory=list)


def load_labels(path: Path = LABELS) -> dict[str, list[dict[str, object]]]:
    by_path: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        by_path[row["path"]].append(row)
    return by_path


def score(mirror: Path, lexicon: Lexicon, labels: Path = LABELS) -> Scores:
    scores = Scores()
    for path, rows in load_labels(labels).items():
        document = parse_document((mirror / path).read_bytes(), source=path)
        texts = {p.start: p.text for p in document.paragraphs}
        predicted: dict[int, set[str]] = defaultdict(set)
        for finding in find_export_risk(document, lexicon).findings:
            predicted[finding.start].add(finding.category)
        scores.filings += 1
        for row in rows:
            start = int(row["start"])  # type: ignore[call-overload]
            text = texts.get(start, "")
            if hashlib.sha256(text.encode()).hexdigest()[:16] != row["sha"]:
                scores.mismatched.append(f"{path}@{start}")
                continue
            gold = set(row["labels"])  # type: ignore[call-overload]
            got = predicted.get(start, set())
            for category in CATEGORIES:
                scores.by_category[category].add(category in gold, category in got)
            scores.by_category[ALL].add(bool(gold), bool(got))
            scores.baseline.add(bool(gold), bool(KEYWORD.search(text)))
            scores.paragraphs += 1
    return scores


def table(scores: Scores) -> str:
    lines = [
        f"{scores.paragraphs} paragraphs of {scores.filings} filings",
        f"{'category':<18}{'precision':>10}{'recall':>8}{'labelled':>10}",
    ]
    for name in (*CATEGORIES, ALL):
        tally = scores.by_category[name]
        lines.append(
            f"{name:<18}{tally.precision:>10.2f}{tally.recall:>8.2f}{tally.tp + tally.fn:>10}"
        )
    base = scores.baseline
    lines.append(f"{'keyword baseline':<18}{base.precision:>10.2f}{base.recall:>8.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    mirror = Path(os.environ.get("MONITOR_EDGAR_MIRROR") or REPO.parent / "shared" / "edgar")
    lexicon = load_lexicon(REPO / "config" / "lexicon.toml")
    for name, labels in (("tuning set", LABELS), ("held-out set", HELD_OUT)):
        print(f"{name}: " + table(score(mirror, lexicon, labels)) + "\n")  # noqa: T201
