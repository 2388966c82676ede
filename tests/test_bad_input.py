"""Bad input, as a user meets it: one clear line on stderr naming the source, and the
exit status DESIGN.md lists (0 ok, 1 failures, 2 configuration or usage).

Already covered elsewhere, and not repeated here:
- random bytes to `scan` (tests/test_cli.py::test_scan_errors_name_the_file), a missing
  file, a bad config key (test_bad_configuration_exits_2_with_one_line), a bad date;
- unreadable bytes and the size limit in-process, and a 50 MB document that parses
  (tests/parse/test_document.py);
- schema-breaking submissions JSON in-process (tests/fetch/test_filings.py), invalid
  JSON in the client (tests/fetch/test_client.py::test_invalid_json_names_the_url);
- each lexicon error in-process (tests/detect/test_export_risk.py), each config value
  in-process (tests/test_settings.py), an unknown ticker next to a known one
  (tests/test_cli.py::test_unknown_ticker_is_named_and_the_others_listed).

The very large document: a file over the 64 MB limit (MAX_DOCUMENT_BYTES) is refused
by its size before it is read (`monitor scan`), with a ParseError naming the file; a
document fetched over HTTP is checked before any parsing, and nothing else of its size
is held. Under the limit, documents parse in linear time (the 50 MB test).
"""

from __future__ import annotations

import email
import json
import os
import sqlite3
import subprocess
import sys
import time
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from monitor.parse.document import MAX_DOCUMENT_BYTES
from tests.conftest import REPO, Inbox, loopback_env
from tests.edgar_server import EdgarTestServer
from tests.test_cli import run_monitor
from tests.test_daily_job import env_for

EXIT_OK, EXIT_FAILURES, EXIT_CONFIG = 0, 1, 2
DATA = REPO / "tests" / "data"
NVDA_SUBMISSIONS = "submissions/CIK0001045810.json"
NVDA_FACTS = "companyfacts/CIK0001045810.json"


def error_lines(stderr: str) -> list[str]:
    """The lines that report the failure (retry warnings before them are not counted)."""
    return [line for line in stderr.splitlines() if not line.startswith("WARNING: ")]


def assert_one_line(result: subprocess.CompletedProcess[str], status: int, *names: str) -> str:
    assert result.returncode == status, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


# Documents: `monitor scan FILE` --------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "not a text document (PDF",
                     id="png"),
        pytest.param(b"\x00" * 100_000, "not a text document (8192 control bytes", id="nul"),
        pytest.param(b"", "the document is empty", id="empty"),
        pytest.param(b"\n \r\n\t" * 100, "the document is empty", id="white-space"),
        pytest.param(
            b"<html><head><script>var x = '<p>Item 1A.</p>';</script></head>"
            b"<body><div style='display:none'>hidden<table><tr><td>1</div></body>",
            "the document has no text",
            id="malformed-html-no-text",
        ),
    ],
)  # fmt: skip
def test_unreadable_document_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "filing.htm"
    path.write_bytes(content)
    line = assert_one_line(run_monitor("scan", str(path)), EXIT_FAILURES, str(path), message)
    assert line.startswith(f"monitor: error: {path}: ")


def test_malformed_html_is_read_not_refused() -> None:
    """Unclosed tags and stray end tags are what old filings look like: no error."""
    result = run_monitor("scan", str(DATA / "unclosed_tags.htm"), "--sections")
    assert result.returncode == EXIT_OK, result.stderr
    assert "1A" in result.stdout


def run_measured(*args: str, scratch: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    """`monitor ARGS` as run_monitor runs it, and the child's own peak resident memory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    with (scratch / "stdout").open("w+") as out, (scratch / "stderr").open("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args], env=env, cwd=REPO, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)  # this child's rusage, no other's
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(
            process.args, process.returncode, out.read(), err.read()
        )
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, kB on Linux
    return result, usage.ru_maxrss * scale


def test_a_100_mb_document_is_refused_by_size_quickly_and_in_bounded_memory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "huge.htm"
    paragraph = b"<p>Filler paragraph about widgets and their many uses in industry today.</p>\n"
    with path.open("wb") as out:
        out.write(b"<html><body><p>FORM 10-K</p>")
        block = paragraph * (2**20 // len(paragraph))
        for _ in range(100):
            out.write(block)
    size = path.stat().st_size
    assert size > MAX_DOCUMENT_BYTES
    _, baseline = run_measured("--version", scratch=tmp_path)
    started = time.monotonic()
    result, peak = run_measured("scan", str(path), scratch=tmp_path)
    elapsed_s = time.monotonic() - started
    assert_one_line(result, EXIT_FAILURES, str(path), "over the 64 MB limit")
    assert elapsed_s < 30  # ~1.5 s: refused before parsing
    assert peak < baseline + 1.3 * size, (peak, baseline, size)  # the file, held once


# Configuration: lexicon and schedule ---------------------------------------------------

LEXICON = """\
# hand-written for this test: one rule, one bad pattern
[terms]
cue = ["may", "could"]
china = ["China", "Chin(a"]

[[rule]]
category = "export_control"
all = ["china"]

[trade_link]
all = ["china"]
"""


def test_invalid_lexicon_pattern_names_the_file_list_and_pattern(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_text(LEXICON)
    result = run_monitor("scan", str(DATA / "mini_10k.htm"), "--lexicon", str(lexicon))
    line = assert_one_line(
        result, EXIT_CONFIG, str(lexicon), "[terms] china #2 'Chin(a': invalid pattern"
    )
    assert line.startswith("monitor: configuration error: ")
    assert result.stdout == ""


def test_lexicon_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon.toml"
    lexicon.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = run_monitor("scan", str(DATA / "mini_10k.htm"), "--lexicon", str(lexicon))
    assert_one_line(result, EXIT_CONFIG, str(lexicon), "lexicon is not valid TOML")


@pytest.mark.parametrize("cron", ["61 7 * * *", "every day"])  # file form: test_settings
def test_invalid_cron_from_the_environment_names_the_variable(mirror: Path, cron: str) -> None:
    result = run_monitor(
        "filings", "NVDA", "--mirror", str(mirror), env={"MONITOR_SCHEDULE_CRON": cron}
    )
    assert_one_line(
        result, EXIT_CONFIG, "MONITOR_SCHEDULE_CRON", "[schedule] cron: must be a 5-field cron"
    )
    assert result.stdout == ""


def test_an_unknown_ticker_alone_is_a_usage_error(mirror: Path) -> None:
    result = run_monitor("filings", "ZZZZZZ", "--json", "--mirror", str(mirror))
    assert_one_line(result, EXIT_CONFIG, "unknown ticker 'ZZZZZZ'", "company_tickers.json")
    assert json.loads(result.stdout) == []


# EDGAR's JSON: cut short or garbled on the wire (the loopback server) -----------------


@pytest.mark.parametrize("fault", ["truncate", "garbage"])
@pytest.mark.parametrize(
    ("command", "path"),
    [
        (("filings", "NVDA", "--since", "2025-01-01"), NVDA_SUBMISSIONS),
        (("facts", "NVDA"), NVDA_FACTS),
    ],
)
def test_broken_json_from_edgar_names_the_url(
    edgar_server: EdgarTestServer,
    tmp_path: Path,
    fault: str,
    command: tuple[str, ...],
    path: str,
) -> None:
    edgar_server.inject(fault, path_contains=path, times=50)
    env = {**loopback_env(edgar_server, tmp_path), "MONITOR_EDGAR_MAX_RETRY_WAIT_S": "1"}
    result = run_monitor(*command, env=env)
    url = f"{edgar_server.data_url}/{'api/xbrl/' if 'facts' in path else ''}{path}"
    line = assert_one_line(result, EXIT_FAILURES, url)
    if fault == "garbage":
        assert "not valid JSON" in line
    else:
        assert "peer closed connection" in line and "gave up after" in line


@pytest.mark.parametrize(
    ("fault", "sent"),
    [("html-page", "text/html titled 'Scheduled Maintenance'"), ("png", "image/png")],
)
def test_a_body_of_the_wrong_content_type_is_refused_by_it(
    edgar_server: EdgarTestServer, tmp_path: Path, fault: str, sent: str
) -> None:
    edgar_server.inject(fault, path_contains=NVDA_SUBMISSIONS, times=50)
    result = run_monitor("filings", "NVDA", "--json", env=loopback_env(edgar_server, tmp_path))
    url = f"{edgar_server.data_url}/{NVDA_SUBMISSIONS}"
    assert_one_line(result, EXIT_FAILURES, url, f"JSON was expected, the server sent {sent}")
    assert json.loads(result.stdout) == []


# The daily run: each bad source named on a line of its own, the rest goes on ----------


def test_bad_sources_in_a_daily_run_are_named_and_the_rest_goes_on(
    edgar_server: EdgarTestServer, smtp_server: Inbox, tmp_path: Path
) -> None:
    """2025-05-02: Apple's 10-Q came that day, Tesla's 10-K/A two days before. Tesla's
    document arrives as an image, Boeing's history as a maintenance page, NVIDIA's cut
    short: three problems, each naming its company and URL, and Apple's warnings are
    digested and alerted all the same. When the faults are gone, the next run takes
    Tesla's 10-K/A: nothing was lost."""
    tesla_10ka = "1318605/000110465925042659/tm252787d2_10ka.htm"
    edgar_server.inject("png", path_contains=tesla_10ka, times=50)
    edgar_server.inject("html-page", path_contains="submissions/CIK0000012927", times=50)
    edgar_server.inject("truncate", path_contains=NVDA_SUBMISSIONS, times=50)
    env = env_for(edgar_server, smtp_server, tmp_path) | {"MONITOR_EDGAR_MAX_RETRY_WAIT_S": "1"}
    day = ("--as-of", "2025-05-02", "--tickers", "NVDA", "AAPL", "TSLA", "BA")
    result = run_monitor("run", *day, env=env)
    assert result.returncode == EXIT_FAILURES, result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  problem: ")]
    assert len(problems) == 3, result.stderr
    nvda, boeing, tesla = problems
    assert nvda.startswith(f"  problem: NVDA: GET {edgar_server.data_url}/{NVDA_SUBMISSIONS}: ")
    assert "peer closed connection" in nvda and "fetched again next run" in nvda
    assert boeing.startswith(f"  problem: BA: GET {edgar_server.data_url}/submissions/CIK00000")
    assert "JSON was expected, the server sent text/html titled 'Scheduled Maintenance'" in boeing
    assert tesla.startswith(f"  problem: TSLA 0001104659-25-042659: GET {edgar_server.www_url}/")
    assert tesla_10ka in tesla and "the server sent image/png" in tesla
    digest = (tmp_path / "out/digests/2025-05-02.csv").read_text()
    assert {line.split(",")[1] for line in digest.splitlines()[1:]} == {"AAPL"}
    mails = [email.message_from_bytes(raw, policy=default) for raw in smtp_server.messages]
    (alert,) = [m for m in mails if "problem" not in m["Subject"]]
    assert "AAPL" in alert["Subject"] and "TSLA" not in alert["Subject"]

    store = tmp_path / "monitor.db"
    assert filing_status(store, "0001104659-25-042659") == ("failed", 1)

    edgar_server.heal()
    rerun = run_monitor("run", *day, env=env)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    # taken this time: a Part III amendment, rightly skipped for want of risk factors
    assert filing_status(store, "0001104659-25-042659") == ("skipped", 1)


def filing_status(store: Path, accession: str) -> tuple[str, int]:
    with sqlite3.connect(store) as db:
        row = db.execute("SELECT status, attempts FROM filings WHERE accession = ?", (accession,))
        status, attempts = row.fetchone()
    return status, attempts


# EDGAR's JSON: valid JSON of the wrong shape (a hand-written mirror) ------------------

TICKERS = {"0": {"cik_str": 1, "ticker": "XCO", "title": "X CO"}}
RECENT = {
    "accessionNumber": ["0000000001-25-000001"],
    "filingDate": ["2025-03-03"],
    "reportDate": ["2024-12-31"],
    "acceptanceDateTime": ["2025-03-03T16:00:00.000Z"],
    "form": ["10-K"],
    "primaryDocument": ["x-20241231.htm"],
}


def hand_mirror(tmp_path: Path, files: dict[str, Any]) -> Path:
    """A mirror directory holding only the given JSON files (paths under data.sec.gov)."""
    root = tmp_path / "mirror"
    (root / "www.sec.gov/files").mkdir(parents=True)
    (root / "www.sec.gov/files/company_tickers.json").write_text(json.dumps(TICKERS))
    for relative, content in files.items():
        target = root / "data.sec.gov" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))
    return root


SUBMISSIONS_URL = "https://data.sec.gov/submissions/CIK0000000001.json"


@pytest.mark.parametrize(
    ("submissions", "message"),
    [
        pytest.param({"filings": {"recent": [1, 2]}}, "filings table lacks column", id="recent"),
        pytest.param(
            {"filings": {"recent": RECENT, "files": "CIK0000000001-submissions-001.json"}},
            "filings.files names no submissions page",
            id="files-a-string",
        ),
        pytest.param(
            {"filings": {"recent": RECENT, "files": [{"name": "../../../etc/passwd"}]}},
            "filings.files names no submissions page",
            id="page-outside",
        ),
        pytest.param(
            {"filings": {"recent": {**RECENT, "accessionNumber": ["../../../x"]}}},
            "filing '../../../x': not an EDGAR accession number",
            id="accession-outside",
        ),
        pytest.param(
            {"filings": {"recent": {**RECENT, "primaryDocument": ["../../x.htm"]}}},
            "primary document '../../x.htm' is not a file of the filing's folder",
            id="document-outside",
        ),
    ],
)
def test_schema_breaking_submissions_name_the_url(
    tmp_path: Path, submissions: dict[str, Any], message: str
) -> None:
    mirror = hand_mirror(tmp_path, {"submissions/CIK0000000001.json": submissions})
    result = run_monitor("filings", "XCO", "--json", "--mirror", str(mirror))
    assert_one_line(result, EXIT_FAILURES, SUBMISSIONS_URL, message)
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("companyfacts", "message"),
    [
        ([], "companyfacts: not a company facts file (a JSON array, not an object)"),
        ({"cik": 1, "facts": "none"}, "companyfacts of CIK 1: 'facts' is a JSON string"),
    ],
)
def test_schema_breaking_companyfacts_name_the_company(
    tmp_path: Path, companyfacts: Any, message: str
) -> None:
    mirror = hand_mirror(tmp_path, {"api/xbrl/companyfacts/CIK0000000001.json": companyfacts})
    result = run_monitor("facts", "XCO", "--mirror", str(mirror))
    line = assert_one_line(result, EXIT_FAILURES, message)
    assert line.startswith("monitor: error: ")


def test_companyfacts_with_wrongly_shaped_facts_inside_leave_them_out(tmp_path: Path) -> None:
    """Deeper damage is treated like any unusable fact: left out, the rest still read."""
    facts = {
        "cik": 1,
        "facts": {
            "us-gaap": {
                "InventoryNet": {"units": {"USD": [{"val": 10**400, "end": "2024-12-31"}, 7]}},
                "Revenues": {"units": "USD"},
                "CostOfRevenue": [],
            },
            "ifrs-full": None,
        },
    }
    mirror = hand_mirror(tmp_path, {"api/xbrl/companyfacts/CIK0000000001.json": facts})
    result = run_monitor("facts", "XCO", "--json", "--mirror", str(mirror))
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout) == []
