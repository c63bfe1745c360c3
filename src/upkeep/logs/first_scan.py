"""Responsible for where the first scan of a log starts: at its end (the default: lines written
from then on), at its start (`first_scan: whole`), or at the first line of a window such as the
last 24 hours, found by bisecting the file on its lines' timestamps (`logs.line_times`) and, when
the window reaches back past the log's first line, in its rotated copies too. Lines without a
timestamp (a traceback's) go with the stamped line before them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from upkeep.logs.line_times import line_time

__all__ = [
    "PROBE_BYTES",
    "WindowStart",
    "end_of_complete_lines",
    "first_in_window",
    "window_start",
]

# How far a probe reads from an offset for a line with a timestamp.
PROBE_BYTES = 64 << 10
# Below this span the bisection ends and the lines are read one by one.
LINEAR_BYTES = 256 << 10
# What is read of a line for its timestamp.
HEAD_BYTES = 512


@dataclass(frozen=True)
class WindowStart:
    """Where a window starts in one file: `offset`, the start of its first line in the window
    (the end of its complete lines when none is); `stamped`, whether any timestamp was read;
    `from_first_line`, whether the file's first stamped line is in the window already (so the
    window may reach back into the copies rotated out before it)."""

    offset: int
    stamped: bool
    from_first_line: bool = False


def end_of_complete_lines(handle: BinaryIO, size: int) -> int:
    """The offset just past the file's last newline: a half-written last line is left for the
    next scan."""
    at = size
    while at > 0:
        start = max(0, at - PROBE_BYTES)
        handle.seek(start)
        newline = handle.read(at - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        at = start
    return 0


def _line_start_after(handle: BinaryIO, offset: int, limit: int) -> int | None:
    """The start of the first line beginning in [offset, offset + PROBE_BYTES), or None."""
    if offset == 0:
        return 0
    handle.seek(offset - 1)
    newline = handle.read(min(PROBE_BYTES, limit - offset + 1)).find(b"\n")
    return None if newline < 0 else offset + newline


def _first_stamp(
    handle: BinaryIO, offset: int, limit: int, now: datetime
) -> tuple[int, int, datetime] | None:
    """The first line starting in a probe from `offset` (a line's start) that has a timestamp:
    its offset, its end (past its newline) and its time; None when no line there has one."""
    handle.seek(offset)
    data = handle.read(min(PROBE_BYTES, limit - offset))
    at = 0
    while (newline := data.find(b"\n", at)) >= 0:
        moment = line_time(data[at:newline], now)
        if moment is not None:
            return offset + at, offset + newline + 1, moment
        at = newline + 1
    return None


def _line_heads(
    handle: BinaryIO, offset: int, limit: int | None
) -> Iterator[tuple[int, int, bytes]]:
    """The offset, the end (past its newline) and the first HEAD_BYTES of each complete line
    from `offset` (a line's start) to `limit` (or the end), reading forward only, so a gzip
    stream too, in memory bounded by a probe whatever the lines' lengths."""
    handle.seek(offset)
    at, buffered = offset, b""  # `buffered` starts at `at`
    long_line: tuple[int, bytes] | None = None  # a line longer than a probe, read past
    while limit is None or at + len(buffered) < limit:
        wanted = PROBE_BYTES if limit is None else min(PROBE_BYTES, limit - at - len(buffered))
        data = handle.read(wanted)
        if not data:
            return
        if long_line is not None:
            newline = data.find(b"\n")
            at += len(data) if newline < 0 else newline + 1
            if newline < 0:
                continue
            yield long_line[0], at, long_line[1]
            long_line, data = None, data[newline + 1 :]
        buffered += data
        start = 0
        while (newline := buffered.find(b"\n", start)) >= 0:
            yield at + start, at + newline + 1, buffered[start : min(newline, start + HEAD_BYTES)]
            start = newline + 1
        at, buffered = at + start, buffered[start:]
        if len(buffered) > PROBE_BYTES:
            long_line = (at, buffered[:HEAD_BYTES])
            at, buffered = at + len(buffered), b""


def first_in_window(
    handle: BinaryIO, offset: int, limit: int | None, cutoff: datetime, now: datetime
) -> WindowStart:
    """Read on from `offset` (a line's start), forward only (a gzip stream too), up to `limit`
    (or the end): the first line stamped at or after `cutoff`."""
    stamped = seen_before = False
    end = offset  # past the last complete line read
    for at, line_end, head in _line_heads(handle, offset, limit):
        end = line_end
        moment = line_time(head, now)
        if moment is None:
            continue  # goes with the stamped line before it
        stamped = True
        if moment >= cutoff:
            return WindowStart(at, True, not seen_before and offset == 0)
        seen_before = True
    return WindowStart(end, stamped)


def window_start(handle: BinaryIO, size: int, cutoff: datetime, now: datetime) -> WindowStart:
    """Where the lines written at or after `cutoff` start in a file of `size` bytes whose lines
    are in the order they were written: bisected on the first stamped line after each
    midpoint, then read line by line from the last point known to be before the window
    (`first_in_window`). A midpoint with no stamped line near it (inside a long line, or among
    lines without timestamps) only narrows the bisection; the reading goes on past it."""
    end = end_of_complete_lines(handle, size)
    low, high, seen_before = 0, end, False
    while high - low > LINEAR_BYTES:
        middle = _line_start_after(handle, (low + high) // 2, high)
        found = None if middle is None else _first_stamp(handle, middle, high, now)
        if found is None:
            high = (low + high) // 2
            continue
        at, after, moment = found
        if moment < cutoff:
            low, seen_before = after, True
        else:
            high = at
    start = first_in_window(handle, low, end, cutoff, now)
    return WindowStart(
        start.offset, start.stamped or seen_before, start.from_first_line and not seen_before
    )
