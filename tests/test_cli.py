"""The CLI as a user runs it: a subprocess, real settings, the mirror or the loopback server."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FILING_JSON_KEYS, REPO, TEST_USER_AGENT, loopback_env
from tests.edgar_server import EdgarTestServer


def run_monitor(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def nvidia_rows_since(mirror: Path, since: str) -> dict[str, dict[str, str]]:
    recent = json.loads((mirror / "data.sec.gov/submissions/CIK0001045810.json").read_text())[
        "filings"
    ]["recent"]
    forms = {"10-K", "10-Q", "8-K", "20-F", "6-K"}
    forms |= {f + "/A" for f in forms}
    return {
        a: {k: recent[k][i] for k in recent}
        for i, a in enumerate(recent["accessionNumber"])
        if recent["form"][i] in forms and recent["filingDate"][i] >= since
    }


def test_filings_json_from_the_mirror(mirror: Path) -> None:
    result = run_monitor(
        "filings", "NVDA", "--since", "2025-01-01", "--json", "--mirror", str(mirror)
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    expected = nvidia_rows_since(mirror, "2025-01-01")
    assert {r["accession"] for r in records} == set(expected)
    assert [r["accepted"] for r in records] == sorted(
        (r["accepted"] for r in records), reverse=True
    )
    for record in records:
        row = expected[record["accession"]]
        assert tuple(record) == FILING_JSON_KEYS
        assert (record["cik"], record["ticker"], record["company"]) == (
            1045810,
            "NVDA",
            "NVIDIA CORP",
        )
        assert record["url"] == (
            "https://www.sec.gov/Archives/edgar/data/1045810/"
            f"{record['accession'].replace('-', '')}/{row['primaryDocument']}"
        )
        assert record["filed"] == row["filingDate"] and record["form"] == row["form"]
    mirrored = [r for r in records if (mirror / r["url"].removeprefix("https://")).exists()]
    assert mirrored, "the mirror holds some of these documents at exactly these URLs"


def test_loopback_server_gives_the_same_canonical_output(
    mirror: Path, edgar_server: EdgarTestServer, tmp_path: Path
) -> None:
    env = loopback_env(edgar_server, tmp_path)
    over_http = run_monitor("filings", "NVDA", "TSLA", "--since", "2025-01-01", "--json", env=env)
    from_mirror = run_monitor(
        "filings", "NVDA", "TSLA", "--since", "2025-01-01", "--json", "--mirror", str(mirror)
    )
    assert over_http.returncode == 0, over_http.stderr
    assert json.loads(over_http.stdout) == json.loads(from_mirror.stdout)
    assert {r.headers["user-agent"] for r in edgar_server.requests} == {TEST_USER_AGENT}


def test_filings_csv_table_and_out_file(mirror: Path, tmp_path: Path) -> None:
    args = ("filings", "AAPL", "--since", "2025-01-01", "--forms", "10-K", "--mirror", str(mirror))
    as_csv = run_monitor(*args, "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == [
        "ticker",
        "form",
        "filed",
        "accepted",
        "period",
        "accession",
        "items",
        "url",
    ]
    assert {r["form"] for r in rows} == {"10-K"}
    table = run_monitor(*args)
    assert table.stdout.splitlines()[0].split()[:3] == ["TICKER", "FORM", "FILED"]
    assert len(table.stdout.splitlines()) == len(rows) + 1
    out = tmp_path / "aapl.json"
    written = run_monitor(*args, "--json", "--out", str(out))
    assert written.stdout == "" and len(json.loads(out.read_text())) == len(rows)


def test_unknown_ticker_is_named_and_the_others_listed(mirror: Path) -> None:
    result = run_monitor(
        "filings", "NVDA", "NOPE1", "--since", "2026-01-01", "--json", "--mirror", str(mirror)
    )
    assert result.returncode == 2
    assert "unknown ticker 'NOPE1'" in result.stderr
    assert {r["ticker"] for r in json.loads(result.stdout)} == {"NVDA"}


def test_company_the_mirror_lacks_is_a_warning_not_a_failure(mirror: Path) -> None:
    result = run_monitor(
        "filings", "SNPS", "NVDA", "--since", "2026-01-01", "--mirror", str(mirror)
    )
    assert result.returncode == 0
    assert "SNPS (CIK 0000883241): no filing history at the source" in result.stderr
    assert "NVDA" in result.stdout


def test_common_flags_work_before_the_command_too(mirror: Path) -> None:
    before = run_monitor("--mirror", str(mirror), "filings", "NVDA", "--since", "2026-01-01")
    after = run_monitor("filings", "NVDA", "--since", "2026-01-01", "--mirror", str(mirror))
    assert before.returncode == after.returncode == 0, before.stderr
    assert before.stdout == after.stdout and "0001045810-26-000021" in before.stdout
    # given on both sides, the one after the command wins
    both = run_monitor(
        "--log-level", "DEBUG", "--mirror", "/nonexistent", "filings", "NVDA",
        "--since", "2026-01-01", "--mirror", str(mirror), "--log-level", "ERROR",
    )  # fmt: skip
    assert both.returncode == 0 and both.stdout == after.stdout and both.stderr == ""


def test_company_without_company_facts_is_a_warning(mirror: Path) -> None:
    result = run_monitor("facts", "BA", "--csv", "--mirror", str(mirror))
    assert result.returncode == 0
    assert result.stdout.startswith("ticker,period_end,") and result.stdout.count("\n") == 1
    assert "BA: no company facts at the source (https://data.sec.gov/api/xbrl/companyfacts/" in (
        result.stderr
    )


def test_usage_mistakes_exit_2(mirror: Path, tmp_path: Path) -> None:
    env = {"MONITOR_STORE_PATH": str(tmp_path / "monitor.db"), "MONITOR_EDGAR_MIRROR": str(mirror),
           "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
           "MONITOR_EDGAR_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    backwards = run_monitor("replay", "--from", "2025-05-02", "--to", "2025-05-01", env=env)
    assert backwards.returncode == 2
    assert "usage error: replay: --to 2025-05-01 is before --from 2025-05-02" in backwards.stderr
    unknown = run_monitor("backfill", "--since", "2026-01-01", "--tickers", "NVDA", "NOPE1",
                          env=env)  # fmt: skip
    assert unknown.returncode == 2, unknown.stderr
    assert "unknown ticker 'NOPE1'" in unknown.stderr and "unknown ticker: NOPE1" in unknown.stderr
    # NVIDIA's filings were taken all the same (those of 2026 are not in the mirror)
    assert re.search(r"backfill: \d+ processed, \d+ skipped, [1-9]\d* unavailable", unknown.stderr)


def test_bad_configuration_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[edgar]\nrate_per_s = 25\n")
    result = run_monitor("filings", "NVDA", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{config}: [edgar] rate_per_s: must be more than 0 and at most 10" in result.stderr


def test_live_mode_without_user_agent_refuses_to_start(edgar_server: EdgarTestServer) -> None:
    env = {
        "MONITOR_EDGAR_WWW_URL": edgar_server.www_url,
        "MONITOR_EDGAR_DATA_URL": edgar_server.data_url,
    }
    result = run_monitor("filings", "NVDA", env=env)
    assert result.returncode == 2
    assert "[edgar] user_agent (MONITOR_EDGAR_USER_AGENT) must name the operator" in result.stderr
    assert edgar_server.requests == []


def test_bad_date_is_a_usage_error() -> None:
    result = run_monitor("filings", "NVDA", "--since", "2025-13-01")
    assert result.returncode == 2
    assert "not an ISO date" in result.stderr


def test_run_lists_the_watchlist_window_and_warns_for_missing_companies(
    mirror: Path, tmp_path: Path
) -> None:
    env = {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_RUN_LOOKBACK_DAYS": "30",
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
    }
    result = run_monitor("run", "--as-of", "2026-03-06", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/digests/2026-03-06.csv").exists()
    dry = run_monitor("run", "--as-of", "2026-03-06", "--dry-run", env=env)
    assert dry.returncode == 0 and "dry run" in dry.stderr
    records = json.loads(result.stdout)
    assert all("2026-02-04" <= r["filed"] <= "2026-03-06" for r in records)
    assert {"NVDA", "AAPL"} <= {r["ticker"] for r in records}
    assert any(r["form"] == "10-K" and r["ticker"] == "NVDA" for r in records)
    for ticker in ("QCOM", "SNPS", "INTC", "FDX"):
        assert f"{ticker} (CIK " in result.stderr


def test_console_script_and_module_agree() -> None:
    script = Path(sys.executable).parent / "monitor"
    assert script.exists()
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == run_monitor("--version").stdout.strip() == "monitor 0.1.0"


@pytest.mark.parametrize("command", ["filings", "run"])
def test_help_lists_the_format_flags(command: str) -> None:
    result = run_monitor(command, "--help")
    assert "--json" in result.stdout and "--csv" in result.stdout and "--out" in result.stdout


NVDA_10Q = "www.sec.gov/Archives/edgar/data/1045810/000104581025000116/nvda-20250427.htm"


def test_scan_sections_json_offsets_point_into_the_text(mirror: Path) -> None:
    path = str(mirror / NVDA_10Q)
    text = run_monitor("scan", path, "--text")
    as_json = run_monitor("scan", path, "--sections", "--json")
    assert text.returncode == as_json.returncode == 0, as_json.stderr
    document_text = text.stdout[:-1]  # --text ends with one newline
    scanned = json.loads(as_json.stdout)
    assert {k: scanned["document"][k] for k in ("form", "cik", "period", "fiscal_year", "url")} == {
        "form": "10-Q",
        "cik": 1045810,
        "period": "2025-04-27",
        "fiscal_year": 2026,
        "url": "https://" + NVDA_10Q,
    }
    sections = scanned["sections"]
    assert [(s["part"], s["item"]) for s in sections] == [
        ("I", "1"), ("I", "2"), ("I", "3"), ("I", "4"),
        ("II", "1"), ("II", "1A"), ("II", "2"), ("II", "5"), ("II", "6"),
    ]  # fmt: skip
    for section in sections:
        assert set(section) >= {"part", "item", "title", "start", "end", "confidence", "text"}
        assert document_text[section["start"] : section["end"]] == section["text"]
    risk = next(s for s in sections if s["item"] == "1A")
    assert risk["title"] == "Risk Factors" and risk["confidence"] == 1.0
    keys = {"id", "category", "severity", "score", "section", "text", "sentence", "terms"}
    keys |= {"start", "end", "amounts", "dates"}
    assert scanned["findings"] and scanned["facts"] == {}
    for finding in scanned["findings"]:
        assert set(finding) >= keys
        assert document_text[finding["start"] : finding["end"]] == finding["text"]
        assert 1 <= finding["severity"] <= 5 and 0 <= finding["score"] <= 100
    assert scanned["risk"]["counts"]["export_control"] >= 10


def test_scan_readable_sections_and_problems(mirror: Path) -> None:
    tesla_amendment = (
        mirror / "www.sec.gov/Archives/edgar/data/1318605/000110465925042659/tm252787d2_10ka.htm"
    )
    result = run_monitor("scan", str(tesla_amendment))
    assert result.returncode == 0
    assert result.stdout.startswith("10-K/A  Tesla, Inc.  CIK 1318605  period 2024-12-31")
    assert "risk score" in result.stdout
    sections = run_monitor("scan", str(tesla_amendment), "--sections").stdout
    assert "Item 10 " in sections and "starts: ITEM 10." in sections
    assert "problem: no Item 1A (Risk Factors) section found" in result.stdout
    assert "no Item 1A (Risk Factors) section found" in result.stderr


def test_scan_errors_name_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.htm"
    junk.write_bytes(bytes(range(256)) * 16)
    result = run_monitor("scan", str(junk))
    assert result.returncode == 1
    assert result.stderr.startswith(f"monitor: error: {junk}: not a text document (")
    assert result.stderr.count("\n") == 1
    missing = run_monitor("scan", str(tmp_path / "absent.htm"))
    assert missing.returncode == 2
    assert "absent.htm: cannot read the file" in missing.stderr


def test_diff_json_shape_and_readable_default(mirror: Path) -> None:
    archive = mirror / "www.sec.gov/Archives/edgar/data/1045810"
    old = archive / "000104581024000316/nvda-20241027.htm"
    new = archive / "000104581025000116/nvda-20250427.htm"
    annual = archive / "000104581025000023/nvda-20250126.htm"
    result = run_monitor("diff", str(old), str(new), "--also", str(annual), "--json")
    assert result.returncode == 0, result.stderr
    diffed = json.loads(result.stdout)
    assert set(diffed) >= {"old", "new", "findings", "removed", "similarity"}
    assert diffed["old"]["period"] == "2024-10-27" and diffed["new"]["period"] == "2025-04-27"
    changes = {f["change"] for f in diffed["findings"]}
    assert changes == {"new", "changed", "unchanged"}
    for finding in diffed["findings"]:
        assert {"change", "diff", "matched"} <= set(finding)
        if finding["change"] == "changed":
            assert finding["diff"]["inserted"] or finding["diff"]["deleted"]
            assert finding["matched"]["similarity"] >= 0.5
        if finding["change"] == "new":
            assert finding["matched"] is None
    assert set(diffed["similarity"]["Part II Item 1A"]) >= {"cosine", "jaccard"}
    readable = run_monitor("diff", str(old), str(new), "--also", str(annual))
    assert "warning(s):" in readable.stdout and "[NEW]" in readable.stdout
    assert "{+" in readable.stdout  # inserted words of a changed paragraph
    itself = run_monitor("diff", str(new), str(new), "--json")
    assert [f for f in json.loads(itself.stdout)["findings"] if f["change"] != "unchanged"] == []


def test_backfill_trends_chart_and_rescan(mirror: Path, tmp_path: Path) -> None:
    env = {
        "MONITOR_EDGAR_MIRROR": str(mirror),
        "MONITOR_STORE_PATH": str(tmp_path / "monitor.db"),
        "MONITOR_OUTPUT_DIR": str(tmp_path / "out"),
    }
    filled = run_monitor("backfill", "--since", "2024-06-01", "--tickers", "NVDA", env=env)
    assert filled.returncode == 0, filled.stderr
    assert "backfill: 6 processed" in filled.stderr  # the mirror's NVIDIA filings since then
    as_csv = run_monitor("trends", "NVDA", "--csv", env=env)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["period"] for r in rows] == [  # the first two: earlier filings kept as baselines
        "2024-01-28", "2024-04-28",
        "2024-07-28", "2024-10-27", "2025-01-26", "2025-04-27", "2025-07-27", "2025-10-26",
    ]  # fmt: skip
    assert [r["new_warnings"] for r in rows][:2] == ["0", "0"]  # baselines alert nothing
    columns = {
        "ticker",
        "form",
        "period",
        "filed",
        "risk_score",
        "new_warnings",
        "inventory",
        "dio",
    }
    assert columns <= set(rows[0])
    parquet = tmp_path / "trends.parquet"
    assert run_monitor("trends", "--parquet", "--out", str(parquet), env=env).returncode == 0
    assert parquet.read_bytes()[:4] == b"PAR1"
    assert run_monitor("trends", "--parquet", env=env).returncode == 2  # --parquet needs --out
    chart = run_monitor("chart", "NVDA", env=env)
    png = Path(chart.stdout.strip())
    assert chart.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    edited = tmp_path / "lexicon.toml"
    edited.write_text((REPO / "config/lexicon.toml").read_text() + "\n# an analyst's edit\n")
    rescanned = run_monitor(
        "rescan", "--tickers", "NVDA", env={**env, "MONITOR_LEXICON_PATH": str(edited)}
    )
    assert rescanned.returncode == 0 and "rescan: " in rescanned.stderr
    import sqlite3

    versions = (
        sqlite3.connect(tmp_path / "monitor.db")
        .execute("SELECT DISTINCT lexicon_version FROM filings WHERE status = 'processed'")
        .fetchall()
    )
    from monitor.detect.lexicon import load_lexicon

    assert versions == [(load_lexicon(edited).version,)]
