"""Responsible for finding, in a chunk of a log, every line that holds one of a few literals and
where in the line the first of them may start, with `bytes.find` doing the looping: literals
that share a byte rare in the chunk are found together by jumping between its occurrences.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from itertools import repeat

__all__ = ["PIVOT_MISS_BYTES", "PIVOT_SAMPLE", "first_hits"]

PIVOT_SAMPLE = 8 << 10
# A pivot byte met more often than once per this many bytes of each literal it stands for
# costs more in Python than a plain `find` of the literal (measured: a miss costs about what
# `find` takes for 1 KiB; see `_pivot_plan`).
PIVOT_MISS_BYTES = 1024


@dataclass(frozen=True)
class _PivotGroup:
    """Literals found together by jumping between the occurrences of one byte, the pivot, that
    each of them contains: a one-byte `find` is a memchr, many times faster than a multi-byte
    one, and one pass serves them all."""

    pivot: bytes
    literals: tuple[bytes, ...]
    # `match` at a pivot found succeeds when it is the first pivot byte of one of the literals.
    check: re.Pattern[bytes]
    # The largest index of that first pivot byte in a literal: no literal of the group starts
    # more than this many bytes before the first pivot that `check` accepts.
    back: int


@functools.lru_cache(maxsize=256)
def _pivot_group(pivot: int, literals: tuple[bytes, ...]) -> _PivotGroup:
    char = bytes([pivot])
    parts, back = [], 0
    for literal in literals:
        at = literal.index(char)
        back = max(back, at)
        # A fixed-width lookbehind: `match` at the pivot also sees the bytes before it.
        behind = b"(?<=" + re.escape(literal[:at]) + b")" if at else b""
        parts.append(behind + re.escape(literal[at:]))
    return _PivotGroup(char, literals, re.compile(b"|".join(parts)), back)


def _pivot_plan(
    literals: tuple[bytes, ...], sample: bytes
) -> tuple[list[_PivotGroup], list[bytes]]:
    """Which literals to find through which pivot byte, and which with a `find` of their own.

    A greedy weighted set cover: first the byte rarest in `sample` per literal it covers. Each
    occurrence of a pivot costs a turn of a Python loop, about what `find` takes for
    PIVOT_MISS_BYTES bytes; a byte is chosen only when it is met at most half as often per
    literal, so that a sample a little rarer than the chunk does not lead to a pass that
    `_find_by_pivot` has to give up midway.
    """
    counts = {byte: sample.count(byte) for byte in set(b"".join(literals))}
    worth = len(sample) / (2 * PIVOT_MISS_BYTES)
    uncovered, groups = set(literals), []

    def cost(byte: int) -> float:
        covered = sum(byte in literal for literal in uncovered)
        return (counts[byte] + 1) / covered if covered else float("inf")

    while uncovered:
        best = min(counts, key=cost)
        if cost(best) > worth:
            break
        covered = tuple(sorted(literal for literal in uncovered if best in literal))
        groups.append(_pivot_group(best, covered))
        uncovered.difference_update(covered)
    return groups, sorted(uncovered)


def first_hits(buf: bytes, end: int, literals: tuple[bytes, ...]) -> dict[int, int]:
    """For every line of buf[:end] holding a literal: its start -> a position in the line at
    or before the first literal in it."""
    hits: dict[int, int] = {}
    groups, whole = _pivot_plan(literals, buf[:PIVOT_SAMPLE])
    for group in groups:
        if not _find_by_pivot(buf, end, group, hits):
            whole += group.literals
    if len(whole) > 1:
        # Literals with no rare byte: one regex pass finds them all, where a `find` of each
        # would cross the chunk once per literal (two such `find`s: 0.4 GB/s, the regex 1 GB/s).
        _find_any(buf, end, _alternation(tuple(sorted(whole))), hits)
    elif whole:
        _find_whole(buf, end, whole[0], hits)
    return hits


@functools.lru_cache(maxsize=256)
def _alternation(literals: tuple[bytes, ...]) -> re.Pattern[bytes]:
    # Any of the literals, then the rest of its line: one match per line, at its first literal.
    either = b"|".join(re.escape(x) for x in sorted(literals, key=len, reverse=True))
    return re.compile(b"(?:" + either + b")[^\n]*")


def _find_any(buf: bytes, end: int, pattern: re.Pattern[bytes], hits: dict[int, int]) -> None:
    """Record the first occurrence of any of `pattern`'s literals in every line of buf[:end]
    holding one: one pass of the regex for all lines; a Python step per line only when a pivot
    search recorded lines already (the earlier position of the two is kept)."""
    found = [match.start() for match in pattern.finditer(buf, 0, end)]
    starts = [at + 1 for at in map(buf.rfind, repeat(b"\n"), repeat(0), found)]
    if not hits:
        hits.update(zip(starts, found, strict=True))
        return
    get = hits.get
    for start, at in zip(starts, found, strict=True):
        known = get(start)
        if known is None or at < known:
            hits[start] = at


def _find_whole(buf: bytes, end: int, literal: bytes, hits: dict[int, int]) -> None:
    """Record the first occurrence of `literal` in every line of buf[:end] holding it."""
    find, rfind = buf.find, buf.rfind
    found = find(literal, 0, end)
    while found >= 0:
        start = rfind(b"\n", 0, found) + 1
        known = hits.get(start)
        if known is None or found < known:
            hits[start] = found
        stop = find(b"\n", found, end)
        found = -1 if stop < 0 else find(literal, stop + 1, end)


def _find_by_pivot(buf: bytes, end: int, group: _PivotGroup, hits: dict[int, int]) -> bool:
    """Record every line of buf[:end] holding a literal of `group`, found through its pivot.

    Every pivot of a line up to the first one `check` accepts was tried, so no literal of the
    group starts before that one minus `group.back`. Returns False, leaving the work to
    `_find_whole`, once too many pivots turn out not to belong to a literal: the sample that
    chose the pivot was not like the rest of the chunk.
    """
    find, rfind, match, pivot, back = (
        buf.find,
        buf.rfind,
        group.check.match,
        group.pivot,
        group.back,
    )
    misses_allowed = len(group.literals) * end // PIVOT_MISS_BYTES + 16
    found = find(pivot, 0, end)
    while found >= 0:
        if match(buf, found, end) is not None:
            start = rfind(b"\n", 0, found) + 1
            at = found - back if found - back > start else start
            known = hits.get(start)
            if known is None or at < known:
                hits[start] = at
            stop = find(b"\n", found, end)
            found = -1 if stop < 0 else find(pivot, stop + 1, end)
        else:
            misses_allowed -= 1
            if misses_allowed < 0:
                return False
            found = find(pivot, found + 1, end)
    return True
