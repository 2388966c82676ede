"""Alert e-mails: one per run with warnings, plain text and HTML, sent once.

Filing text is untrusted: the HTML part escapes every piece of it, and header values
are built by the email package (no raw newlines reach a header). The Message-ID is
derived from the run date and the warnings, so a resend after a crash carries the same
one. Transports: `file` (an .eml per alert in out/alerts) and `smtp`.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from email import parser as email_parser
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses
from html import escape
from itertools import groupby
from pathlib import Path

from monitor.errors import DeliveryError
from monitor.settings import EmailSettings, email_transport


def build_alert(
    rows: Sequence[dict[str, object]],
    run_date: date,
    email: EmailSettings,
    *,
    to: Sequence[str] | None = None,
    charts: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """The day's warnings and signals as one message (rows as the digest has them), to
    `to` (default: [email] to), with each company's trend chart (PNG) inline."""
    tickers = sorted({str(r["ticker"]) for r in rows})
    shown = [row for items in _by_filing(rows) for row in items]  # as the reader sees them
    warnings = [r for r in shown if not str(r["category"]).startswith("signal:")]
    signals = [r for r in shown if str(r["category"]).startswith("signal:")]
    message = EmailMessage(policy=SMTP)
    message["Subject"] = (
        f"Filing Risk Monitor {run_date}: {len(warnings)} new warning(s), "
        f"{len(signals)} signal(s) — {', '.join(tickers)}"
    )
    message["From"] = email.from_ or "filing-risk-monitor@localhost"
    recipients = list(email.to if to is None else to)
    message["To"] = ", ".join(recipients) or "analysts@localhost"
    keys = [f"{r['accession']}:{r['finding_id']}:{r['category']}" for r in rows]
    message["Message-ID"] = _message_id(run_date.isoformat(), *keys, *recipients)
    charts = {t: png for t, png in (charts or {}).items() if t in tickers}
    message.set_content(_text(rows, run_date))
    message.add_alternative(_html(rows, run_date, charts), subtype="html")
    html_part = message.get_body(("html",))
    assert html_part is not None
    for ticker, png in sorted(charts.items()):
        html_part.add_related(png, "image", "png", cid=_chart_cid(ticker),
                              filename=f"{ticker}.png")  # fmt: skip
    return message


def build_ops_message(
    subject: str, lines: Sequence[str], run_date: date, email: EmailSettings
) -> EmailMessage:
    """An operations notice (a failed run, no successful run for days) to [email] ops_to."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = f"Filing Risk Monitor {run_date}: {subject}"
    message["From"] = email.from_ or "filing-risk-monitor@localhost"
    message["To"] = ", ".join(email.ops_to or email.to) or "operations@localhost"
    message["Message-ID"] = _message_id("ops", run_date.isoformat(), subject, *lines)
    message.set_content("\n".join([subject, "", *lines]) + "\n")
    return message


def _message_id(*parts: str) -> str:
    """Derived from what the message says, so a resend after a crash carries the same one."""
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]
    return f"<{digest}@filing-risk-monitor>"


def _chart_cid(ticker: str) -> str:
    return f"<chart-{ticker.lower()}@filing-risk-monitor>"


def deliver(raw: str, message_id: str, email: EmailSettings, out_dir: Path) -> None:
    """Send one stored message; raises DeliveryError when it was not accepted."""
    if email_transport(email) == "file":
        path = out_dir / "alerts" / f"{message_id.strip('<>').split('@')[0]}.eml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(raw, encoding="utf-8")
        return
    headers = email_parser.HeaderParser(policy=SMTP).parsestr(raw)
    recipients = [address for _, address in getaddresses(headers.get_all("To", []))]
    recipients = [r for r in recipients if r and not r.endswith("@localhost")]
    if not recipients:
        raise DeliveryError(
            f"alert {message_id} names no recipient ([email] to, ops_to or the watchlist's "
            "recipients); it stays pending"
        )
    try:
        if email.security in ("tls", "ssl"):  # implicit TLS (port 465)
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                email.smtp_host, email.smtp_port, timeout=30, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=30)
        with client:
            if email.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if email.smtp_user:
                client.login(email.smtp_user, email.smtp_password)
            client.sendmail(
                email.from_ or "filing-risk-monitor@localhost", recipients, raw.encode("utf-8")
            )
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"alert {message_id} not delivered via {email.smtp_host}:{email.smtp_port} "
            f"({type(exc).__name__}: {exc}); it stays pending for the next run"
        ) from None


def _by_filing(rows: Sequence[dict[str, object]]) -> list[list[dict[str, object]]]:
    """Rows per filing; a sentence flagged under several categories is shown once, its
    categories joined and the highest severity kept (one mute silences the paragraph)."""
    filings = []
    for _, group in groupby(rows, key=lambda r: (r["ticker"], r["accession"])):
        merged: dict[tuple[object, ...], dict[str, object]] = {}
        for row in group:
            key: tuple[object, ...] = (row["sentence"], row["section"], row["change"])
            if str(row["category"]).startswith("signal:"):
                key += (row["category"],)
            if key in merged:
                first = merged[key]
                first["category"] = f"{first['category']} + {row['category']}"
                first["severity"] = max(int(str(first["severity"])), int(str(row["severity"])))
            else:
                merged[key] = dict(row)
        filings.append(list(merged.values()))
    return filings


def _added(row: dict[str, object]) -> str:
    diff = row.get("diff")
    if isinstance(diff, dict) and diff.get("inserted"):
        return " ".join(map(str, diff["inserted"]))[:300]
    return ""


def _marked(row: dict[str, object], mark: str, escape_text: Callable[[str], str]) -> list[str]:
    """The sentence in pieces, escaped, the words the filing inserted since the baseline
    put in `mark` ("[+{}+]" in text, "<ins>{}</ins>" in HTML)."""
    sentence, paragraph, diff = str(row["sentence"]), str(row.get("text") or ""), row.get("diff")
    at = paragraph.find(sentence)
    spans = diff.get("spans", []) if isinstance(diff, dict) and at >= 0 else []
    pieces, done = [], 0
    for start, end in spans:
        start, end = max(start - at, done), min(end - at, len(sentence))
        if start >= end:
            continue
        pieces += [escape_text(sentence[done:start]), mark.format(escape_text(sentence[start:end]))]
        done = end
    return [*pieces, escape_text(sentence[done:])]


def _text(rows: Sequence[dict[str, object]], run_date: date) -> str:
    lines = [
        f"New China-export-risk and inventory warnings, run of {run_date}.",
        "Words the filing added since the earlier comparable one are marked [+like this+].",
        "",
    ]
    for items in _by_filing(rows):
        head = items[0]
        filing = f"{head['form']} for {head['period']}, filed {head['filed']}"
        lines += [f"{head['ticker']} — {head['company']}: {filing}", f"  {head['url']}"]
        for row in items:
            category = str(row["category"])
            if category.startswith("signal:"):
                lines.append(f"  * signal {category[7:]}: {row['figures']}")
                continue
            where = row["section"] or "no section"
            change = str(row["change"]).upper()
            lines.append(f"  * [{change}] {category}, severity {row['severity']}, {where}")
            lines.append(f"    {''.join(_marked(row, '[+{}+]', str))}")
            if _added(row):
                lines.append(f"    added: {_added(row)}")
            if row["figures"]:
                lines.append(f"    figures: {row['figures']}")
            lines.append(f"    noise? monitor mute {row['finding_id']}")
        lines.append("")
    lines.append(f"The day's digest: digests/{run_date}.csv")
    return "\n".join(lines) + "\n"


def _html(rows: Sequence[dict[str, object]], run_date: date, charts: Mapping[str, bytes]) -> str:
    def e(value: object) -> str:
        return escape(str(value), quote=True)

    parts = [
        '<html><body style="font-family: sans-serif">',
        f"<h2>New China-export-risk and inventory warnings, run of {e(run_date)}</h2>",
    ]
    for items in _by_filing(rows):
        head = items[0]
        link = f'<a href="{e(head["url"])}">{e(head["form"])} for {e(head["period"])}</a>'
        parts.append(
            f"<h3>{e(head['ticker'])} — {e(head['company'])}: {link}, filed {e(head['filed'])}</h3>"
        )
        parts.append("<ul>")
        for row in items:
            category = str(row["category"])
            if category.startswith("signal:"):
                parts.append(f"<li><b>signal {e(category[7:])}</b>: {e(row['figures'])}</li>")
                continue
            added = f"<br><small>added: <ins>{e(_added(row))}</ins></small>" if _added(row) else ""
            label = f"<b>{e(str(row['change']).upper())}</b> {e(category)}"
            where = e(row["section"] or "no section")
            parts.append(
                f"<li>{label}, severity {e(row['severity'])}, {where}"
                f"<br>{''.join(_marked(row, '<ins>{}</ins>', e))}{added}"
                f"<br><small>noise? <code>monitor mute {e(row['finding_id'])}</code></small></li>"
            )
        parts.append("</ul>")
    for ticker in sorted(charts):
        cid = _chart_cid(ticker).strip("<>")
        parts.append(f'<p><img src="cid:{e(cid)}" alt="{e(ticker)} trend chart" width="660"></p>')
    parts.append("</body></html>")
    return "\n".join(parts)
