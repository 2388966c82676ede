"""Section boundaries on every 10-K, 10-K/A and 10-Q of the mirror, against read labels.

The labels (tests/data/risk_sections.toml) were made by reading each filing, not from
this parser, and keep only fingerprints of the first and last eight words.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from monitor.parse.document import parse_document
from tests.conftest import REPO, manifest_rows

LABELS = tomllib.loads((REPO / "tests/data/risk_sections.toml").read_text())
PERIODIC = {"10-K", "10-K/A", "10-Q", "10-Q/A"}
ROWS = manifest_rows(PERIODIC)


def fingerprint(words: list[str]) -> str:
    return hashlib.sha256(" ".join(words).encode()).hexdigest()[:16]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.mark.parametrize(
    "row",
    [pytest.param(row, id=row["path"].rsplit("/", 1)[-1]) for row in ROWS]
    or [pytest.param(None, id="no-mirror")],
)
def test_risk_section_boundaries(mirror: Path, row: dict[str, str] | None) -> None:
    assert row is not None
    label = LABELS.get(row["path"])
    assert label is not None, f"{row['path']} is in the mirror but not labelled: read it and add it"
    document = parse_document((mirror / row["path"]).read_bytes(), source=row["path"])
    assert document.form == row["form"]
    part = "II" if row["form"].startswith("10-Q") else None
    risk = document.section("1A", part)
    if label["risk"] == "absent":
        assert risk is None
        assert any("no Item 1A (Risk Factors) section found" in p for p in document.problems)
        return
    assert risk is not None, document.problems
    text = document.section_text(risk)
    assert fingerprint(words(text)[:8]) == label["start"], "starts at the body heading"
    assert fingerprint(words(text)[-8:]) == label["end"], "ends where the next item begins"
    assert abs(risk.chars - label["chars"]) <= 0.02 * label["chars"] + 40
    following = min((s for s in document.sections if s.start > risk.start), key=lambda s: s.start)
    assert following.label == label["next"]
    assert document.text[risk.end : following.start].strip() == ""
    assert risk.confidence >= 0.9, risk.reason
    assert not any("Item 1A" in p for p in document.problems)


def test_every_label_is_a_mirror_filing() -> None:
    if ROWS:
        assert set(LABELS) == {row["path"] for row in ROWS}
