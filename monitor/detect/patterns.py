"""One combined regular expression for many patterns, grouped by first character.

Python's regex engine tries the alternatives of a big alternation one by one at each
position. Grouping them behind a one-character lookahead (`(?=[cC])(?:China|…)`) lets
it skip all but one group at each word start: about four times faster on a 10-K than a
flat alternation of the ~300 lexicon patterns.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

# The regex parser's own tree and opcodes (stable across 3.11+; no type stubs exist).
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

WORD_START = r"(?<![\w-])"
WORD_END = r"(?!\w)"


def combine(patterns: Iterable[str], flags: int = re.I | re.M) -> re.Pattern[str]:
    """A whole-word alternation of `patterns`, longest first, grouped by first character."""
    ordered = sorted(set(patterns), key=lambda p: (-len(p), p))
    buckets: dict[str, list[str]] = defaultdict(list)
    unknown: list[str] = []
    for pattern in ordered:
        starts = first_characters(pattern)
        if starts is None:
            unknown.append(pattern)
            continue
        for char in starts:
            buckets[char].append(pattern)
    groups = [
        f"(?={_char_class(char)})(?:{'|'.join(f'(?:{p})' for p in members)})"
        for char, members in sorted(buckets.items())
    ]
    groups += [f"(?:{p})" for p in unknown]
    return re.compile(f"{WORD_START}(?:{'|'.join(groups)}){WORD_END}", flags)


def first_characters(pattern: str) -> set[str] | None:
    """The lower-cased characters a match of `pattern` can begin with; None if unknown."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    return _first(list(parsed))


def _char_class(char: str) -> str:
    return f"[{char}{char.upper()}]" if char.isalpha() else re.escape(char)


def _first(items: list[Any]) -> set[str] | None:
    result: set[str] = set()
    for op, argument in items:
        if op is sre.LITERAL:
            return result | {chr(argument).lower()}
        if op is sre.IN:
            chars = _charset(argument)
            return None if chars is None else result | chars
        if op is sre.SUBPATTERN:
            body = argument[-1]
            inner = _first(list(body))
            if inner is None:
                return None
            result |= inner
            if body.getwidth()[0] > 0:
                return result
            continue
        if op is sre.BRANCH:
            for branch in argument[1]:
                inner = _first(list(branch))
                if inner is None:
                    return None
                result |= inner
            return result
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, _, body = argument
            inner = _first(list(body))
            if inner is None:
                return None
            result |= inner
            if low > 0:
                return result
            continue
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        return None
    return None  # the pattern can match the empty string: no first character


def _charset(items: Any) -> set[str] | None:
    chars: set[str] = set()
    for op, argument in items:
        if op is sre.LITERAL:
            chars.add(chr(argument).lower())
        elif op is sre.RANGE:
            chars.update(chr(c).lower() for c in range(argument[0], argument[1] + 1))
        elif op is sre.CATEGORY and argument is sre.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return chars


MAX_PREFIXES = 64


def literal_prefixes(pattern: str) -> set[str] | None:
    """Lower-cased literal strings one of which every match of `pattern` starts with.

    None when no such finite set is known (the pattern may start anywhere). Used to
    rule out, with a fast substring test, text that cannot match at all.
    """
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    prefixes = _prefixes(list(parsed), {""})
    if prefixes is None or "" in prefixes:
        return None
    return prefixes


def _prefixes(items: list[Any], heads: set[str]) -> set[str] | None:
    """Grow `heads` by the literal text `items` must match, expanding alternatives and
    optional parts (each followed by the rest), until something is not a literal."""
    for index, (op, argument) in enumerate(items):
        if op is sre.LITERAL:
            heads = {h + chr(argument).lower() for h in heads}
        elif op is sre.IN:
            chars = _charset(argument)
            if chars is None or len(chars) * len(heads) > MAX_PREFIXES:
                return heads
            heads = {h + c for h in heads for c in chars}
        elif op in (sre.SUBPATTERN, sre.BRANCH, sre.MAX_REPEAT, sre.MIN_REPEAT):
            if op is sre.SUBPATTERN:
                alternatives = [list(argument[-1])]
            elif op is sre.BRANCH:
                alternatives = [list(branch) for branch in argument[1]]
            else:
                low, high, body = argument
                if high != 1:
                    return heads  # a real repeat: the heads so far are sound
                alternatives = [list(body)] + ([[]] if low == 0 else [])
            rest = list(items[index + 1 :])
            grown: set[str] = set()
            for alternative in alternatives:
                inner = _prefixes(alternative + rest, heads)
                if inner is None:
                    return None
                grown |= inner
                if len(grown) > MAX_PREFIXES:
                    return heads
            return grown
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        else:
            return heads  # a class or repeat we do not expand: the heads so far are sound
    return heads
