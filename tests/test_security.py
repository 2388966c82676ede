"""Hostile text stays inert; XML entities and the network stay shut; TLS certificates are
checked for HTTPS and for SMTP (STARTTLS and implicit TLS) unless the operator says
otherwise through the standard CA variables."""

from __future__ import annotations

import csv
import io
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import date
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.errors import DeliveryError, FetchError
from monitor.fetch.client import EdgarClient
from monitor.parse.document import parse_document
from monitor.report.digest import write_digest
from monitor.report.mail import build_alert, deliver
from monitor.settings import EdgarSettings, EmailSettings
from tests.conftest import REPO, TEST_USER_AGENT, Inbox, free_port
from tests.edgar_server import EdgarTestServer
from tests.test_bad_input import RECENT, hand_mirror
from tests.test_cli import run_monitor
from tests.test_daily_job import job_env

DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a certificate no CA vouches for."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=127.0.0.1", "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_digest_cells_that_a_spreadsheet_would_run_are_neutralised(tmp_path: Path) -> None:
    hostile = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "plain"]
    rows = [
        {"run_date": "2026-01-02", "ticker": "EVIL", "sentence": text, "finding_id": "f"}
        for text in hostile
    ]
    path = write_digest(rows, date(2026, 1, 2), tmp_path)
    cells = [r["sentence"] for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))]
    assert cells == ["'" + text for text in hostile[:4]] + ["plain"]


def test_filing_html_cannot_reach_files_or_the_network(
    edgar_server: EdgarTestServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    remote = f"{edgar_server.url}/xxe-probe"
    hostile = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY file SYSTEM "file://{secret}">'
        f'<!ENTITY net SYSTEM "{remote}">]>'
        "<html><body><p>Item 1A. Risk Factors</p><p>Export controls &file; &net; "
        f'<img src="{remote}"> <script src="{remote}"></script></p></body></html>'
    ).encode()
    document = parse_document(hostile, url="https://www.sec.gov/x.htm", source="hostile.htm")
    assert "TOP-SECRET-VALUE" not in document.text
    assert not [r for r in edgar_server.requests if "xxe-probe" in r.path]


def test_https_certificates_are_checked(self_signed: ssl.SSLContext, tmp_path: Path) -> None:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.socket = self_signed.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"https://127.0.0.1:{server.server_address[1]}"
    settings = EdgarSettings(
        user_agent=TEST_USER_AGENT, www_url=base, data_url=base, cache_dir=tmp_path / "cache",
        max_retry_wait_s=0,
    )  # fmt: skip
    try:
        with EdgarClient(settings) as client, pytest.raises(FetchError) as refused:
            client.get_json("https://data.sec.gov/submissions/CIK0000000001.json")
    finally:
        server.shutdown()
        server.server_close()
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


@pytest.fixture
def tls_smtp(self_signed: ssl.SSLContext) -> Iterator[dict[str, int]]:
    """Two real SMTP servers with the untrusted certificate: STARTTLS and implicit TLS."""
    from aiosmtpd.controller import Controller

    class Accept:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    ports = {"starttls": free_port(), "tls": free_port()}
    servers = [
        Controller(Accept(), hostname="127.0.0.1", port=ports["starttls"],
                   tls_context=self_signed, require_starttls=True),
        Controller(Accept(), hostname="127.0.0.1", port=ports["tls"], ssl_context=self_signed),
    ]  # fmt: skip
    for server in servers:
        server.start()
    yield ports
    for server in servers:
        server.stop()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_smtp_certificates_are_checked(
    tls_smtp: dict[str, int], security: str, tmp_path: Path
) -> None:
    email = EmailSettings(
        smtp_host="127.0.0.1", smtp_port=tls_smtp[security], security=security,
        to=("analysts@example.com",), smtp_user="monitor", smtp_password="hunter2",
    )  # fmt: skip
    row = {
        "ticker": "NVDA", "company": "NVIDIA", "cik": 1, "form": "8-K", "filed": "2026-01-02",
        "accepted": "x", "accession": "a", "period": "2026-01-01", "section": "Item 8.01",
        "category": "export_control", "severity": 3, "change": "new", "url": "https://x",
        "sentence": "export controls", "figures": "", "finding_id": "f", "diff": None,
    }  # fmt: skip
    message = build_alert([row], date(2026, 1, 2), email)
    with pytest.raises(DeliveryError) as refused:
        deliver(message.as_string(), str(message["Message-ID"]), email, tmp_path)
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert "hunter2" not in str(refused.value)  # and the password was never sent


HOSTILE_NAME = "Evil <b>Corp</b>\r\nBcc: victim@example.com"
HOSTILE_BULLET = (  # as a filing's HTML would carry it: escaped, so it is text to the reader
    "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; "
    "Export controls could stop us from selling widgets to customers in China.\r\nBcc: x@evil"
)


def test_hostile_filing_text_reaches_mail_and_digest_inert(
    tmp_path: Path, smtp_server: Inbox
) -> None:
    """The whole way: a hand-written 10-K whose risk factor and company name carry markup
    and header-injection characters, through `monitor run`, to the delivered e-mail and
    the day's CSV digest."""
    document = (DATA / "mini_10k.htm").read_text(encoding="utf-8")
    bullet = "Export controls could stop us from selling widgets to customers in China."
    assert bullet in document
    submissions = {"name": HOSTILE_NAME, "filings": {"recent": RECENT}}
    mirror = hand_mirror(tmp_path, {"submissions/CIK0000000001.json": submissions})
    folder = mirror / "www.sec.gov/Archives/edgar/data/1/000000000125000001"
    folder.mkdir(parents=True)
    (folder / "x-20241231.htm").write_text(document.replace(bullet, HOSTILE_BULLET))
    env = {"MONITOR_EDGAR_MIRROR": str(mirror)} | job_env(smtp_server, tmp_path)
    run = run_monitor("run", "--as-of", "2025-03-03", "--tickers", "XCO", env=env)
    assert "0000000001-25-000001" in run.stdout, run.stderr
    assert run.returncode in (0, 1), run.stderr  # 1: the hand mirror has no company facts

    mails = [message_from_bytes(raw, policy=default) for raw in smtp_server.messages]
    (alert,) = [m for m in mails if "problem" not in m["Subject"]]
    assert alert["Bcc"] is None and "\n" not in str(alert["Subject"])
    assert all(rcpt == ["analysts@example.com"] for rcpt in smtp_server.envelopes)  # no Bcc
    html = alert.get_body(("html",)).get_content()
    assert "<script" not in html and "<img src=x" not in html and "<b>Corp" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    text = alert.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script><img src=x onerror=alert(2)> Export controls" in text

    with (tmp_path / "out/digests/2025-03-03.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    hostile = {r["sentence"] for r in rows if "alert(1)" in r["sentence"]}  # per category
    assert len(hostile) == 1, hostile
    sentence = hostile.pop()
    assert "<script>alert(1)</script><img src=x onerror=alert(2)> Export controls" in sentence
    assert "\r" not in sentence and "\n" not in sentence
    assert {r["company"] for r in rows} == {"Evil <b>Corp</b> Bcc: victim@example.com"}
    digest = (tmp_path / "out/digests/2025-03-03.csv").read_text(encoding="utf-8")
    assert len(digest.splitlines()) == len(rows) + 1  # one row, one line
