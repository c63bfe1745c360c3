"""Responsible for deciding which lines of a chunk of a log match its error or warning patterns
and tallying them: `LineMatcher` (one per pattern set, cached by `line_matcher`) finds candidate
lines through the literals every match contains and lets the patterns themselves give the verdict;
`LongLine` judges a line longer than the scan's buffer piece by piece, never holding it whole.
"""

from __future__ import annotations

import functools
import re
from typing import AnyStr

from upkeep.logs.excerpts import LINE_HEAD_BYTES
from upkeep.logs.grouping import LineLevel, MessageTally
from upkeep.logs.literal_search import first_hits
from upkeep.logs.pattern_literals import lead_literals, required_literals

__all__ = ["WINDOW_OVERLAP", "LineMatcher", "LongLine", "line_matcher"]

# How much of a long line before each new piece is searched again with it: a match up to half
# of this long is found whole wherever the pieces were cut.
WINDOW_OVERLAP = 4096


def _combine(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    """One regex for all `patterns` if they combine (inline flags may forbid it), else one each."""
    if len(patterns) > 1:
        try:
            return [re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)]
        except re.error:
            pass
    return [re.compile(p, re.MULTILINE) for p in patterns]


def _as_bytes(patterns: list[re.Pattern[str]]) -> list[re.Pattern[bytes]] | None:
    """The same patterns for ASCII lines, where str and bytes regexes agree; None if impossible.

    (They differ only on the ASCII separators 0x1C-0x1F, which `\\s` matches in text alone.)
    """
    try:
        return [re.compile(p.pattern.encode("utf-8"), re.MULTILINE) for p in patterns]
    except (re.error, UnicodeEncodeError):
        return None


def _level_of(
    line: AnyStr, errors: list[re.Pattern[AnyStr]], warnings: list[re.Pattern[AnyStr]]
) -> LineLevel | None:
    if any(p.search(line) for p in errors):
        return LineLevel.ERROR
    if any(p.search(line) for p in warnings):
        return LineLevel.WARNING
    return None


class LineMatcher:
    """Finds the lines of a chunk that match error or warning patterns.

    When every pattern has a literal that each match must contain, the lines holding one are
    located over the whole chunk at C speed (`first_hits`) and only those are sliced out: no
    Python runs for the other lines. Otherwise the chunk is decoded and searched with the
    patterns. Either way a line's verdict comes from the patterns themselves, applied to the
    line (as bytes when it is ASCII, else to its decoded text); when every match must start
    with one of the literals (`\bERROR\b` does), the search starts where the first literal in
    the line may start (`re` cannot skip ahead by itself to a literal behind `\b` or `^`).
    """

    def __init__(self, error_patterns: tuple[str, ...], warn_patterns: tuple[str, ...]) -> None:
        self.errors = _combine(error_patterns)
        self.warnings = _combine(warn_patterns)
        # Matching an ASCII line as bytes is about 3x faster than decoding it and matching text.
        ascii_errors, ascii_warnings = _as_bytes(self.errors), _as_bytes(self.warnings)
        self.ascii = (
            None
            if ascii_errors is None or ascii_warnings is None
            else (ascii_errors, ascii_warnings)
        )
        # One error and one warning regex (the usual case): searched without a loop.
        self.single = (
            (self.ascii[0][0], self.ascii[1][0])
            if self.ascii is not None and len(self.ascii[0]) == len(self.ascii[1]) == 1
            else None
        )
        leads = lead_literals(error_patterns + warn_patterns)
        self.from_hit = leads is not None
        literals: set[bytes] | None = leads
        if literals is None:
            literals = set()
            for pattern in error_patterns + warn_patterns:
                found = required_literals(pattern)
                literals = None if found is None or literals is None else literals | found
        # A literal containing another one finds no line the shorter one misses (and, when it
        # starts with it, no literal earlier in the line).
        contains = bytes.startswith if self.from_hit else bytes.__contains__
        self.literals = (
            None
            if not literals
            else tuple(
                sorted(x for x in literals if not any(o != x and contains(x, o) for o in literals))
            )
        )

    def level(self, line: str) -> LineLevel | None:
        return _level_of(line, self.errors, self.warnings)

    def raw_level(self, raw: bytes, offset: int = 0) -> LineLevel | None:
        """The level of one line; its patterns are searched from `offset` (an ASCII line)."""
        if self.ascii is not None and raw.isascii():
            errors, warnings = self.ascii
            if any(p.search(raw, offset) for p in errors):
                return LineLevel.ERROR
            if any(p.search(raw, offset) for p in warnings):
                return LineLevel.WARNING
            return None
        return _level_of(raw.decode("utf-8", "replace"), self.errors, self.warnings)

    def matches_in(self, level: LineLevel, window: bytes, start: int, limit: int) -> bool:
        """Whether a pattern of `level` has a match in `window` that starts in [start, limit):
        the bytes around that span are context for look-behinds, look-aheads and `\\b`."""
        if self.literals is not None and not any(window.find(x, start) >= 0 for x in self.literals):
            return False  # every match holds one of them: no pattern can match here
        if self.ascii is not None and window.isascii():
            errors, warnings = self.ascii
            patterns = errors if level is LineLevel.ERROR else warnings
            return any(
                (match := p.search(window, start)) is not None and match.start() < limit
                for p in patterns
            )
        text = window.decode("utf-8", "replace")
        start = len(window[:start].decode("utf-8", "replace"))
        limit = len(window[:limit].decode("utf-8", "replace"))
        return any(
            (match := p.search(text, start)) is not None and match.start() < limit
            for p in (self.errors if level is LineLevel.ERROR else self.warnings)
        )

    def scan(self, buf: bytes, end: int, tally: MessageTally) -> None:
        """Tally the matching lines of buf[:end], which starts at a line's start."""
        if self.literals is None:
            self._scan_decoded(buf[:end].decode("utf-8", "replace"), tally)
            return
        hits = first_hits(buf, end, self.literals)
        starts = sorted(hits)
        find = buf.find
        stops = [find(b"\n", hits[start], end) for start in starts]
        raws = [
            buf[start : end if stop < 0 else stop]
            for start, stop in zip(starts, stops, strict=True)
        ]
        offsets = [hits[start] - start for start in starts] if self.from_hit else [0] * len(raws)
        if self.single is not None and b"".join(raws).isascii():
            # The usual case: one regex per level and ASCII lines, matched through `map`
            # and tallied in bulk, so that no Python runs per line.
            error, warning = self.single
            found = list(map(error.search, raws, offsets))
            tally.add_many(
                LineLevel.ERROR, [raw for raw, m in zip(raws, found, strict=True) if m is not None]
            )
            rest = [
                (raw, offset)
                for raw, offset, m in zip(raws, offsets, found, strict=True)
                if m is None
            ]
            found = list(map(warning.search, *zip(*rest, strict=True))) if rest else []
            tally.add_many(
                LineLevel.WARNING,
                [raw for (raw, _), m in zip(rest, found, strict=True) if m is not None],
            )
            return
        for raw, offset in zip(raws, offsets, strict=True):
            level = self.raw_level(raw, offset)
            if level is not None:
                tally.add(level, raw)

    def _scan_decoded(self, text: str, tally: MessageTally) -> None:
        starts: set[int] = set()
        for pattern in self.errors + self.warnings:
            pos = 0
            while pos <= len(text) and (match := pattern.search(text, pos)) is not None:
                starts.add(text.rfind("\n", 0, match.start()) + 1)
                stop = text.find("\n", match.start())
                pos = len(text) + 1 if stop < 0 else stop + 1
        for start in sorted(starts):
            stop = text.find("\n", start)
            line = text[start : len(text) if stop < 0 else stop]
            level = self.level(line)
            if level is not None:
                tally.add(level, line.encode("utf-8"))


class LongLine:
    """A line longer than the scan's buffer, fed piece by piece, of which only the first
    LINE_HEAD_BYTES and the length are kept. Its level is judged in windows: each piece with
    the WINDOW_OVERLAP bytes before it, a match starting in a window's span counting there only
    when half the overlap follows it in the window (or the line ends), so that each match is
    judged once with that much context on both sides. Exact for matches up to half the overlap
    long; a longer one may be missed, or found where the line's full text would not match."""

    def __init__(self, matcher: LineMatcher) -> None:
        self.matcher = matcher
        self.head = b""
        self.length = 0
        self.error = self.warning = False
        self._before = b""

    def feed(self, piece: bytes, *, last: bool = False) -> None:
        """The next piece of the line; `last` when the line ends with it."""
        if len(self.head) < LINE_HEAD_BYTES:
            self.head += piece[: LINE_HEAD_BYTES - len(self.head)]
        self.length += len(piece)
        if self.error:
            return  # an error line whatever else it holds
        window = self._before + piece
        half = WINDOW_OVERLAP // 2
        start = max(0, len(self._before) - half)
        limit = len(window) if last else len(window) - half
        if start < limit:
            self.error = self.matcher.matches_in(LineLevel.ERROR, window, start, limit)
            if not self.error and not self.warning:
                self.warning = self.matcher.matches_in(LineLevel.WARNING, window, start, limit)
        self._before = window[-WINDOW_OVERLAP:]

    @property
    def level(self) -> LineLevel | None:
        if self.error:
            return LineLevel.ERROR
        return LineLevel.WARNING if self.warning else None

    def record(self, tally: MessageTally, *, terminated: bool) -> None:
        """Count the line, fed up to its `last` piece (its newline too when `terminated`)."""
        if self.level is not None:
            tally.add(self.level, self.head, self.length)
        tally.bytes_scanned += self.length + terminated


@functools.lru_cache(maxsize=64)
def line_matcher(error_patterns: tuple[str, ...], warn_patterns: tuple[str, ...]) -> LineMatcher:
    """The matcher of a pattern set, built once per process (the literal analysis costs)."""
    return LineMatcher(error_patterns, warn_patterns)
