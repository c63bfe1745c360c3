"""Responsible for reading, from a line pattern, the literal text that every match must contain
(or start with), through `re`'s own parser: what lets a scan look for a few strings at C speed
instead of running the patterns over every line.
"""

from __future__ import annotations

import re

__all__ = ["MIN_LITERAL", "lead_literals", "required_literals"]

MIN_LITERAL = 3

try:  # re's own parser, an internal module: any surprise falls back to plain regex search
    from re import _constants as _sre
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover
    _sre = _sre_parser = None  # type: ignore[assignment]


def _better(candidate: set[str], best: set[str] | None) -> bool:
    score = (min(map(len, candidate)), -len(candidate))
    return best is None or score > (min(map(len, best)), -len(best))


def _required(items: list) -> set[str] | None:
    """Strings one of which every match of the parsed `items` contains; None if unknown."""
    repeats = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
    repeats.add(getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT))
    best: set[str] | None = None
    run: list[str] = []
    for op, av in [*items, (None, None)]:  # the sentinel flushes the last run of literals
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if op is _sre.AT:  # zero-width (\b, ^, $): the literals either side stay adjacent
            continue
        candidates = [{"".join(run)} if run else None]
        run.clear()
        if op is _sre.SUBPATTERN and not av[1] & re.IGNORECASE:
            candidates.append(_required(list(av[3])))
        elif op is _sre.BRANCH:
            alternatives = [_required(list(alt)) for alt in av[1]]
            if all(alternatives):
                candidates.append(set().union(*alternatives))  # type: ignore[arg-type]
        elif op in repeats and av[0] >= 1:
            candidates.append(_required(list(av[2])))
        for found in candidates:
            if found and _better(found, best):
                best = found
    return best


def required_literals(pattern: str) -> set[bytes] | None:
    """UTF-8 literals every line matching `pattern` contains, long enough to search for quickly."""
    if _sre_parser is None:
        return None
    try:
        parsed = _sre_parser.parse(pattern)
        found = None if parsed.state.flags & re.IGNORECASE else _required(list(parsed))
    except Exception:  # an internal API: never let it break a scan
        return None
    # U+FFFD in a decoded line may stand for any invalid bytes: not a literal to search for;
    # a newline would make it span lines, which a line-by-line search cannot see.
    if not found or any("\ufffd" in text or "\n" in text for text in found):
        return None
    encoded = {text.encode("utf-8") for text in found}
    return encoded if min(map(len, encoded)) >= MIN_LITERAL else None


def _leading_run(items: list) -> set[str] | None:
    """Strings one of which every match of the parsed `items` starts with, zero-width
    assertions aside; None if unknown."""
    run: list[str] = []
    for op, av in items:
        if op is _sre.AT and not run:
            continue
        if op is not _sre.LITERAL:
            if run:
                break
            if op is _sre.SUBPATTERN and not av[1] & re.IGNORECASE:
                return _leading_run(list(av[3]))
            if op is _sre.BRANCH:
                alternatives = [_leading_run(list(alt)) for alt in av[1]]
                return set().union(*alternatives) if all(alternatives) else None  # type: ignore[arg-type]
            return None
        run.append(chr(av))
    return {"".join(run)} if run else None


def _leading(pattern: str) -> set[bytes] | None:
    """UTF-8 literals one of which every match of `pattern` starts with: a search of a line
    may begin at the first of them instead of at the line's start."""
    if _sre_parser is None:
        return None
    try:
        parsed = _sre_parser.parse(pattern)
        found = None if parsed.state.flags & re.IGNORECASE else _leading_run(list(parsed))
    except Exception:  # an internal API: never let it break a scan
        return None
    if not found or any("\ufffd" in text or "\n" in text for text in found):
        return None
    return {text.encode("utf-8") for text in found}


def lead_literals(patterns: tuple[str, ...]) -> set[bytes] | None:
    """Literals one of which starts every match of every pattern, long enough to search for
    quickly; None when some pattern has no such literal."""
    leads: set[bytes] = set()
    for pattern in patterns:
        found = _leading(pattern)
        if found is None or min(map(len, found)) < MIN_LITERAL:
            return None
        leads |= found
    return leads
