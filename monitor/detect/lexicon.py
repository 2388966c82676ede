"""config/lexicon.toml → a compiled Lexicon: every pattern in one combined regex.

One pass over a paragraph finds every term span (the combined pattern tries longer
patterns first); each span is then assigned to every term list whose own pattern
matches it whole, so a word can serve as topic and cue at once. Errors name the rule.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick

from monitor.detect.patterns import combine, literal_prefixes
from monitor.errors import ConfigError

CATEGORIES = (
    "export_control", "china_market", "trade_policy", "critical_supply", "geopolitical",
    "inventory",
)  # fmt: skip
DEFAULT_LEXICON = Path("config/lexicon.toml")
_ALIAS = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    lists: tuple[str, ...]  # every one must match within the window
    cue: bool


@dataclass(frozen=True, slots=True)
class Exclusion:
    name: str
    lists: tuple[str, ...]
    unless: tuple[str, ...] = ()
    categories: tuple[str, ...] = CATEGORIES
    min_matches: int = 1
    max_chars: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int
    text: str
    lists: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Lexicon:
    version: str
    path: str
    window_words: int
    min_paragraph_chars: int
    rules: tuple[Rule, ...]
    exclusions: tuple[Exclusion, ...]
    trade_link: tuple[str, ...]
    relevance: tuple[str, ...]  # lists that make a finding China-export relevant
    relevance_otherwise: float  # score factor for findings without them
    category_weights: dict[str, float]
    section_weights: dict[str, float]
    combined: re.Pattern[str]
    list_patterns: dict[str, re.Pattern[str]]
    rule_lists: frozenset[str]
    anchors: ahocorasick.Automaton | None  # see _anchor_automaton
    _lists_of: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def matches(self, text: str) -> Iterator[Match]:
        """Every term span in `text`, with all the term lists it belongs to."""
        for found in self.combined.finditer(text):
            span = found.group()
            lists = self._lists_of.get(span)
            if lists is None:  # spans repeat ("China", "could"): classify each text once
                lists = frozenset(
                    n for n in self.rule_lists if self.list_patterns[n].fullmatch(span)
                )
                self._lists_of[span] = lists
            if lists:
                yield Match(found.start(), found.end(), span, lists)


def load_lexicon(path: Path = DEFAULT_LEXICON) -> Lexicon:
    """The lexicon at `path`, compiled once per content: a replay or the service reads the
    file every run, and compiles it again only when it changed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: lexicon not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: lexicon is not valid TOML: {exc}") from None
    return _compiled(str(path), raw)


@functools.lru_cache(maxsize=4)
def _compiled(where: str, raw: bytes) -> Lexicon:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: lexicon is not valid TOML: {exc}") from None
    terms = _read_terms(where, data.get("terms"))
    rules = tuple(_read_rule(where, n, r, terms) for n, r in enumerate(data.get("rule", []), 1))
    if not rules:
        raise ConfigError(f"{where}: the lexicon has no [[rule]]")
    if "cue" not in terms:
        raise ConfigError(f"{where}: [terms] cue: the list of risk cues is missing")
    exclusions = tuple(
        _read_exclusion(where, n, e, terms) for n, e in enumerate(data.get("exclude", []), 1)
    )
    trade_link = tuple(data.get("trade_link", {}).get("all", ()))
    _check_lists(where, "[trade_link] all", trade_link, terms)
    relevance = data.get("relevance", {})
    relevance_lists = tuple(relevance.get("all", ()))
    if relevance_lists:
        _check_lists(where, "[relevance] all", relevance_lists, terms)
    otherwise = relevance.get("otherwise", 1.0)
    if (
        isinstance(otherwise, bool)
        or not isinstance(otherwise, int | float)
        or not 0 <= otherwise <= 1
    ):
        raise ConfigError(f"{where}: [relevance] otherwise: must be a number from 0 to 1")
    settings = data.get("settings", {})
    weights = data.get("weights", {})
    list_patterns = {name: _compile(where, name, patterns) for name, patterns in terms.items()}
    return Lexicon(
        version=hashlib.sha256(raw).hexdigest()[:12],
        path=where,
        window_words=_int(where, "[settings] window_words", settings.get("window_words", 30)),
        min_paragraph_chars=_int(
            where, "[settings] min_paragraph_chars", settings.get("min_paragraph_chars", 60)
        ),
        rules=rules,
        exclusions=exclusions,
        trade_link=trade_link,
        relevance=relevance_lists,
        relevance_otherwise=float(otherwise),
        category_weights={c: float(weights.get("categories", {}).get(c, 1.0)) for c in CATEGORIES},
        section_weights={str(k): float(v) for k, v in weights.get("sections", {}).items()},
        combined=combine(p for name in _rule_lists(rules) for p in terms[name]),
        rule_lists=frozenset(_rule_lists(rules)),
        anchors=_anchor_automaton(rules, terms),
        list_patterns=list_patterns,
    )


def _rule_lists(rules: tuple[Rule, ...]) -> set[str]:
    """The term lists that rules read, matched in the one combined pass (the cue too).

    Lists only exclusions read are searched on their own, so that a long exclusion
    phrase ("excess inventory") never hides the words a rule needs inside it.
    """
    return {name for rule in rules for name in rule.lists} | {"cue"}


def _anchor_automaton(
    rules: tuple[Rule, ...], terms: dict[str, list[str]]
) -> ahocorasick.Automaton | None:
    """Aho-Corasick over the literal prefixes of every rule's first term list.

    Every rule needs a match of its first list, and every such match starts with one of
    these prefixes, so one pass of the automaton over the lower-cased document finds
    every paragraph worth the full match; the rest cannot fire any rule. None when some
    pattern has no finite set of literal prefixes (then every paragraph is matched).
    """
    automaton = ahocorasick.Automaton()
    for name in {rule.lists[0] for rule in rules}:
        for pattern in terms[name]:
            prefixes = literal_prefixes(pattern)
            if prefixes is None:
                return None
            for prefix in prefixes:
                automaton.add_word(prefix, len(prefix))
    automaton.make_automaton()
    return automaton


def _read_terms(where: str, table: object) -> dict[str, list[str]]:
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{where}: [terms] must hold named lists of patterns")
    terms: dict[str, list[str]] = {}
    for name, patterns in table.items():
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise ConfigError(f"{where}: [terms] {name}: must be a list of non-empty strings")
        terms[name] = patterns
    expanded: dict[str, list[str]] = {}
    for name, patterns in terms.items():
        expanded[name] = [_expand(where, name, p, terms) for p in patterns]
    return expanded


def _expand(where: str, name: str, pattern: str, terms: dict[str, list[str]]) -> str:
    def alias(found: re.Match[str]) -> str:
        target = found.group(1)
        if target not in terms or target == name:
            raise ConfigError(f"{where}: [terms] {name}: {{{target}}} names no other term list")
        return "(?:" + "|".join(terms[target]) + ")"

    return _ALIAS.sub(alias, pattern)


def _compile(where: str, name: str, patterns: list[str]) -> re.Pattern[str]:
    for number, pattern in enumerate(patterns, 1):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"{where}: [terms] {name} #{number} {pattern!r}: invalid pattern ({exc})"
            ) from None
    return combine(patterns)


def _check_lists(where: str, label: str, lists: object, terms: dict[str, list[str]]) -> None:
    if not isinstance(lists, list | tuple) or not lists:
        raise ConfigError(f"{where}: {label}: must list term names")
    for name in lists:
        if name not in terms:
            raise ConfigError(f"{where}: {label}: unknown term list {name!r}")


def _read_rule(where: str, number: int, rule: object, terms: dict[str, list[str]]) -> Rule:
    if not isinstance(rule, dict):
        raise ConfigError(f"{where}: [[rule]] #{number}: must be a table")
    category = rule.get("category")
    label = f"[[rule]] #{number} ({category})"
    if category not in CATEGORIES:
        raise ConfigError(f"{where}: {label}: category must be one of {', '.join(CATEGORIES)}")
    lists = [_alias_list(name) for name in rule.get("all", [])]
    _check_lists(where, label + " all", lists, terms)
    return Rule(category=category, lists=tuple(lists), cue=bool(rule.get("cue", True)))


def _alias_list(name: object) -> str:
    """`{china}` in a rule's `all` means the term list `china`."""
    text = str(name)
    return text[1:-1] if text.startswith("{") and text.endswith("}") else text


def _read_exclusion(
    where: str, number: int, entry: object, terms: dict[str, list[str]]
) -> Exclusion:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: [[exclude]] #{number}: must be a table")
    label = f"[[exclude]] #{number} ({entry.get('name', '?')})"
    lists = tuple(entry.get("all", []))
    _check_lists(where, label + " all", lists, terms)
    unless = tuple(entry.get("unless", []))
    if unless:
        _check_lists(where, label + " unless", unless, terms)
    categories = tuple(entry.get("categories", CATEGORIES))
    if not set(categories) <= set(CATEGORIES):
        raise ConfigError(f"{where}: {label}: unknown category in {list(categories)}")
    max_chars = entry.get("max_chars")
    return Exclusion(
        name=str(entry.get("name", f"exclusion #{number}")),
        lists=lists,
        unless=unless,
        categories=categories,
        min_matches=_int(where, label + " min_matches", entry.get("min_matches", 1)),
        max_chars=_int(where, label + " max_chars", max_chars) if max_chars is not None else None,
    )


def _int(where: str, label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: {label}: must be a whole number, got {value!r}")
    return value
