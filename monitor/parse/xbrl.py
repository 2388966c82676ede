"""Inline XBRL of one filing → revenue by geography: the China and Taiwan shares.

companyfacts holds no dimensional facts, so the share comes from the filing itself:
revenue facts whose context has one member on a geographic axis (srt: or us-gaap:
StatementGeographicalAxis) naming China, Hong Kong or Macau — standard country members
(country:CN, country:HK, country:MO) or company ones such as
nvda:ChinaIncludingHongKongMember — divided by total revenue (the same concept with no
dimension) for the same period. Taiwan (country:TW, *Taiwan*) is its own share. Parsed
with lxml's HTML parser: no DTD, no external entities, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import lxml.etree

from monitor.errors import ParseError

REVENUE_CONCEPTS = (
    "us-gaap:Revenues",
    "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
    "us-gaap:SalesRevenueNet",
    "ifrs-full:Revenue",
)
_GEOGRAPHIC_AXIS = re.compile(r"GeographicalAxis|GeographicAreasAxis|GeographicAxis", re.I)
_CHINA = re.compile(r"^country:(?:CN|HK|MO)$|China|HongKong|Macau|Macao|PeoplesRepublic|PRC", re.I)
_TAIWAN = re.compile(r"^country:TW$|Taiwan", re.I)
_INCLUDES_HONG_KONG = re.compile(r"China.*HongKong|Greater ?China", re.I)
_SCALE = re.compile(r"-?[0-9]{1,2}")  # XBRL scales run from -30 to 30; nothing larger is a number


@dataclass(frozen=True, slots=True, kw_only=True)
class GeographicRevenue:
    start: date
    end: date
    concept: str
    total: float
    china: float | None  # None: the filing reports no China member for this period
    taiwan: float | None
    china_members: tuple[str, ...]

    @property
    def china_share(self) -> float | None:
        return self.china / self.total if self.china is not None and self.total else None

    @property
    def taiwan_share(self) -> float | None:
        return self.taiwan / self.total if self.taiwan is not None and self.total else None


@dataclass(frozen=True, slots=True)
class _Context:
    start: date | None
    end: date | None
    members: tuple[tuple[str, str], ...]  # (dimension, member)


def geographic_revenue(data: bytes) -> list[GeographicRevenue]:
    """Per revenue period of the filing: total, China and Taiwan revenue."""
    try:
        root = lxml.etree.fromstring(
            data, lxml.etree.HTMLParser(no_network=True, huge_tree=True, recover=True)
        )
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError) as exc:
        raise ParseError(f"inline XBRL could not be read: {exc}") from None
    if root is None:
        return []
    contexts = {c.get("id", ""): _read_context(c) for c in root.iter("xbrli:context")}
    totals: dict[tuple[str, date, date], float] = {}
    china: dict[tuple[str, date, date], dict[str, float]] = {}
    taiwan: dict[tuple[str, date, date], float] = {}
    for fact in root.iter("ix:nonfraction"):
        concept = fact.get("name", "")
        context = contexts.get(fact.get("contextref", ""))
        if (
            concept not in REVENUE_CONCEPTS
            or context is None
            or not context.start
            or not context.end
        ):
            continue
        value = _number(fact)
        if value is None:
            continue
        key = (concept, context.start, context.end)
        if not context.members:
            totals[key] = value
            continue
        if len(context.members) != 1 or not _GEOGRAPHIC_AXIS.search(context.members[0][0]):
            continue
        member = context.members[0][1]
        if _TAIWAN.search(member):
            taiwan[key] = value
        elif _CHINA.search(member):
            china.setdefault(key, {})[member] = value
    results = []
    for key, total in totals.items():
        if key not in china and key not in taiwan:
            continue
        members = china.get(key, {})
        if any(_INCLUDES_HONG_KONG.search(m) for m in members):  # do not count Hong Kong twice
            members = {m: v for m, v in members.items() if not re.search(r"country:HK$", m)}
        results.append(
            GeographicRevenue(
                start=key[1],
                end=key[2],
                concept=key[0],
                total=total,
                china=sum(members.values()) if members else None,
                taiwan=taiwan.get(key),
                china_members=tuple(sorted(members)),
            )
        )
    return sorted(results, key=lambda r: (r.end, r.start))


def _read_context(element: lxml.etree._Element) -> _Context:
    def day(tag: str) -> date | None:
        found = element.find(f".//{tag}")
        try:
            return date.fromisoformat((found.text or "").strip()) if found is not None else None
        except ValueError:
            return None

    members = tuple(
        (m.get("dimension", ""), (m.text or "").strip())
        for m in element.iter("xbrldi:explicitmember")
    )
    return _Context(start=day("xbrli:startdate"), end=day("xbrli:enddate"), members=members)


def _number(fact: lxml.etree._Element) -> float | None:
    text = "".join(str(t) for t in fact.itertext()).strip().replace(",", "")
    if not text or text in ("-", "—", "–"):
        return 0.0 if text else None
    try:
        value = float(text)
    except ValueError:
        return None
    scale = fact.get("scale") or ""
    if _SCALE.fullmatch(scale):
        value *= 10.0 ** int(scale)
    elif scale:
        return None  # "²", "x" or a scale of thousands of digits: not a number we can use
    return -value if fact.get("sign") == "-" else value
