"""Responsible for the daily health check's probes and measurements.

Probes and measurements are plain functions returning frozen dataclasses; the `record_*`
functions grade them against `config.thresholds` (a log's own `errors` limit and a mount's own
`limit` win when set) and record checks, metrics and findings with `upkeep.report`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import AnyStr, BinaryIO

from upkeep import report, state
from upkeep.config import Config, Limit, LogSource
from upkeep.probes import ServiceProbe, describe_failure, probe_service
from upkeep.system import DiskUsage, SystemUsage, disk_usage, system_usage

# Large enough to amortise each read and each chunk's Python work, small enough that the several
# search passes over a chunk mostly hit the CPU cache (measured on 0.3-0.5 GB logs: 4 MiB scans
# faster than 1 MiB or 16 MiB).
CHUNK_SIZE = 4 << 20
FINGERPRINT_BYTES = 1024
MAX_GROUPS = 1000
MAX_FINDINGS_PER_LOG = 50
MIN_LITERAL = 3
PIVOT_SAMPLE = 8 << 10
# A pivot byte met more often than once per this many bytes of each literal it stands for
# costs more in Python than a plain `find` of the literal (measured: a miss costs about what
# `find` takes for 1 KiB; see `_pivot_plan`).
PIVOT_MISS_BYTES = 1024
OTHER_MESSAGES = "(other messages: too many distinct groups)"
# How many rotated copies back a scan looks for the file it was reading: more than one when
# the log was rotated several times since the last scan.
MAX_ROTATED_LOOKBACK = 5

# ---------------------------------------------------------------- log lines: masking and grouping

_PREFIX = re.compile(
    r"""^\s*
    (?:\[?\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s+
      |[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+)?
    (?:[\[<(]?(?:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|ALERT|EMERG)
       [\]>)]?:?\s+)?""",
    re.VERBOSE,
)
# Every rule treats all digits alike (no `0x`, only `\d[xX]`): `_Tally` relies on it.
_VARIABLE = re.compile(
    r"""(?P<STR>(?<!\w)"(?:[^"\\]|\\.)*"|(?<!\w)'(?:[^'\\]|\\.)*')
    |(?P<UUID>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b)
    |(?P<IP>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b)
    |(?P<HEX>\b\d[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b)
    |(?P<N>\d+(?:\.\d+)?)""",
    re.VERBOSE,
)


def mask_message(line: str) -> str:
    """The line's message with its timestamp/level prefix removed and variable parts masked.

    "2025-11-16 02:15:00,123 ERROR timeout after 31s for id 812" -> "timeout after <N>s for id <N>"
    """
    message = _PREFIX.sub("", line, count=1)
    masked = _VARIABLE.sub(lambda m: f"<{m.lastgroup}>", message)
    return " ".join(masked.split())[:300]


def group_key(log_name: str, template: str) -> str:
    """A finding key that stays the same for the same message across runs."""
    return f"log:{log_name}:{hashlib.sha256(template.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class MessageGroup:
    """Lines that differ only in numbers, ids, addresses or quoted values."""

    template: str
    severity: str  # "error" or "warning"
    count: int
    first: str
    last: str


# Masking treats every digit alike, so lines equal up to their digits share a template:
# a cache keyed by the line with its digits zeroed skips most of the regex work.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
MAX_CACHED_TEMPLATES = 10_000
# A hex id (request, trace, session) makes each line unique. Masking turns a whole word of six
# or more hex digits, at least one a digit and one a letter, into <HEX> (or part of <STR>),
# so a second cache key replaces every such word with one stand-in. Only words between
# delimiters that no masking rule reaches across count (no `.`, `-` or word character).
_HEX_WORD = re.compile(
    rb"(?<![^\s=(\[{,;/\"'<>#@|:])(?=[0-9a-fA-F]*0)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}"
    rb"(?![^\s,;)\]}\"'/>&|#:])"
)
HEX_STAND_IN = b"0a0a0a"


class _Tally:
    """Counts matching lines per severity and groups them by masked message."""

    def __init__(self) -> None:
        self.counts = {"error": 0, "warning": 0}
        # template -> [count, first raw line, last raw line]; decoded only once, at the end
        self.groups: dict[str, dict[str, list]] = {"error": {}, "warning": {}}
        self.templates: dict[bytes, str] = {}
        self.bytes_scanned = 0

    def template(self, raw: bytes) -> str:
        """`mask_message` of the line, from the cache when a like line was masked before."""
        key = raw.translate(_DIGITS_TO_ZERO)
        template = self.templates.get(key)
        if template is None:
            key = _HEX_WORD.sub(HEX_STAND_IN, key)
            template = self.templates.get(key)
            if template is None:
                template = mask_message(_decode(raw))
                if len(self.templates) < MAX_CACHED_TEMPLATES:
                    self.templates[key] = template
        return template

    def add(self, severity: str, raw: bytes) -> None:
        self.counts[severity] += 1
        # The cache's first key inline: this runs for every matching line.
        template = self.templates.get(raw.translate(_DIGITS_TO_ZERO)) or self.template(raw)
        groups = self.groups[severity]
        group = groups.get(template)
        if group is None and len(groups) >= MAX_GROUPS:
            template = OTHER_MESSAGES  # bounded memory for a log full of unique messages
            group = groups.get(template)
        if group is None:
            groups[template] = [1, raw, raw]
        else:
            group[0] += 1
            group[2] = raw

    def _templates(self, raws: list[bytes]) -> list[str]:
        """`template` of each of `raws`, each regex and translate run once over all of them
        joined by newlines (no line holds one; masking treats it as any other whitespace)."""
        keys = b"\n".join(raws).translate(_DIGITS_TO_ZERO).split(b"\n")
        templates = list(map(self.templates.get, keys))
        missing = [i for i, template in enumerate(templates) if template is None]
        if missing:
            joined = b"\n".join([keys[i] for i in missing])
            hex_keys = _HEX_WORD.sub(HEX_STAND_IN, joined).split(b"\n")
            for i, key in zip(missing, hex_keys, strict=True):
                template = self.templates.get(key)
                if template is None:
                    template = mask_message(_decode(raws[i]))
                    if len(self.templates) < MAX_CACHED_TEMPLATES:
                        self.templates[key] = template
                templates[i] = template
        return templates

    def add_many(self, severity: str, raws: list[bytes]) -> None:
        """`add` for each of `raws` in turn, with the per-line work done by C code: one
        translate for all cache keys, `map` for the lookups, `Counter` and dicts for the
        counts, first and last lines."""
        if not raws:
            return
        self.counts[severity] += len(raws)
        templates = self._templates(raws)
        last = dict(zip(templates, range(len(raws)), strict=True))  # the last index of each wins
        first = dict(zip(reversed(templates), range(len(raws) - 1, -1, -1), strict=True))
        groups = self.groups[severity]
        # template -> [count, first index, last index] in this batch, in order of first
        # appearance, overflowing into OTHER_MESSAGES exactly where `add` would.
        batch: dict[str, list[int]] = {}
        size = len(groups)
        for template, count in Counter(templates).items():
            target = template
            if template not in groups:
                if size >= MAX_GROUPS:
                    target = OTHER_MESSAGES
                if target not in groups and target not in batch:
                    size += 1
            entry = batch.get(target)
            if entry is None:
                batch[target] = [count, first[template], last[template]]
            else:  # only OTHER_MESSAGES: several templates' lines
                entry[0] += count
                entry[1] = min(entry[1], first[template])
                entry[2] = max(entry[2], last[template])
        for template, (count, first_index, last_index) in batch.items():
            group = groups.get(template)
            if group is None:
                groups[template] = [count, raws[first_index], raws[last_index]]
            else:
                group[0] += count
                group[2] = raws[last_index]

    def sorted_groups(self, severity: str) -> tuple[MessageGroup, ...]:
        groups = [
            MessageGroup(t, severity, n, _decode(first), _decode(last))
            for t, (n, first, last) in self.groups[severity].items()
        ]
        return tuple(sorted(groups, key=lambda g: -g.count))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


# ---------------------------------------------------------------- log lines: finding them fast

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


def _literals(pattern: str) -> set[bytes] | None:
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


def _lead_literals(patterns: tuple[str, ...]) -> set[bytes] | None:
    """Literals one of which starts every match of every pattern, long enough to search for
    quickly; None when some pattern has no such literal."""
    leads: set[bytes] = set()
    for pattern in patterns:
        found = _leading(pattern)
        if found is None or min(map(len, found)) < MIN_LITERAL:
            return None
        leads |= found
    return leads


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


class _LineMatcher:
    """Finds the lines of a chunk that match error or warning patterns.

    When every pattern has a literal that each match must contain, the lines holding one are
    located over the whole chunk at C speed (`_first_hits`) and only those are sliced out: no
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
        leads = _lead_literals(error_patterns + warn_patterns)
        self.from_hit = leads is not None
        literals: set[bytes] | None = leads
        if literals is None:
            literals = set()
            for pattern in error_patterns + warn_patterns:
                found = _literals(pattern)
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

    def severity(self, line: str) -> str | None:
        return _severity(line, self.errors, self.warnings)

    def raw_severity(self, raw: bytes, offset: int = 0) -> str | None:
        """The severity of one line; its patterns are searched from `offset` (an ASCII line)."""
        if self.ascii is not None and raw.isascii():
            errors, warnings = self.ascii
            if any(p.search(raw, offset) for p in errors):
                return "error"
            if any(p.search(raw, offset) for p in warnings):
                return "warning"
            return None
        return _severity(raw.decode("utf-8", "replace"), self.errors, self.warnings)

    def scan(self, buf: bytes, end: int, tally: _Tally) -> None:
        """Tally the matching lines of buf[:end], which starts at a line's start."""
        if self.literals is None:
            self._scan_decoded(buf[:end].decode("utf-8", "replace"), tally)
            return
        hits = _first_hits(buf, end, self.literals)
        starts = sorted(hits)
        find = buf.find
        stops = [find(b"\n", hits[start], end) for start in starts]
        raws = [
            buf[start : end if stop < 0 else stop]
            for start, stop in zip(starts, stops, strict=True)
        ]
        offsets = [hits[start] - start for start in starts] if self.from_hit else [0] * len(raws)
        if self.single is not None and b"".join(raws).isascii():
            # The usual case: one regex per severity and ASCII lines, matched through `map`
            # and tallied in bulk, so that no Python runs per line.
            error, warning = self.single
            found = list(map(error.search, raws, offsets))
            tally.add_many(
                "error", [raw for raw, m in zip(raws, found, strict=True) if m is not None]
            )
            rest = [
                (raw, offset)
                for raw, offset, m in zip(raws, offsets, found, strict=True)
                if m is None
            ]
            found = list(map(warning.search, *zip(*rest, strict=True))) if rest else []
            tally.add_many(
                "warning", [raw for (raw, _), m in zip(rest, found, strict=True) if m is not None]
            )
            return
        for raw, offset in zip(raws, offsets, strict=True):
            severity = self.raw_severity(raw, offset)
            if severity is not None:
                tally.add(severity, raw)

    def _scan_decoded(self, text: str, tally: _Tally) -> None:
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
            severity = self.severity(line)
            if severity is not None:
                tally.add(severity, line.encode("utf-8"))


def _severity(
    line: AnyStr, errors: list[re.Pattern[AnyStr]], warnings: list[re.Pattern[AnyStr]]
) -> str | None:
    if any(p.search(line) for p in errors):
        return "error"
    if any(p.search(line) for p in warnings):
        return "warning"
    return None


# ---------------------------------------------------------------- lines holding a literal


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
        k = literal.index(char)
        back = max(back, k)
        # A fixed-width lookbehind: `match` at the pivot also sees the bytes before it.
        behind = b"(?<=" + re.escape(literal[:k]) + b")" if k else b""
        parts.append(behind + re.escape(literal[k:]))
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
    counts = {b: sample.count(b) for b in set(b"".join(literals))}
    worth = len(sample) / (2 * PIVOT_MISS_BYTES)
    uncovered, groups = set(literals), []

    def cost(b: int) -> float:
        covered = sum(b in literal for literal in uncovered)
        return (counts[b] + 1) / covered if covered else float("inf")

    while uncovered:
        best = min(counts, key=cost)
        if cost(best) > worth:
            break
        covered = tuple(sorted(literal for literal in uncovered if best in literal))
        groups.append(_pivot_group(best, covered))
        uncovered.difference_update(covered)
    return groups, sorted(uncovered)


def _first_hits(buf: bytes, end: int, literals: tuple[bytes, ...]) -> dict[int, int]:
    """For every line of buf[:end] holding a literal: its start -> a position in the line at
    or before the first literal in it."""
    hits: dict[int, int] = {}
    groups, whole = _pivot_plan(literals, buf[:PIVOT_SAMPLE])
    for group in groups:
        if not _find_by_pivot(buf, end, group, hits):
            whole += group.literals
    for literal in whole:
        _find_whole(buf, end, literal, hits)
    return hits


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


@functools.lru_cache(maxsize=64)
def _matcher(error_patterns: tuple[str, ...], warn_patterns: tuple[str, ...]) -> _LineMatcher:
    return _LineMatcher(error_patterns, warn_patterns)


def _scan_range(
    handle: BinaryIO,
    start: int,
    stop: int,
    matcher: _LineMatcher,
    tally: _Tally,
    *,
    final: bool,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Scan the complete lines in [start, stop); return the offset just past the last one.

    With `final` (a rotated file that no longer grows) an unterminated last line counts too.
    """
    pos, size = start, chunk_size
    while pos < stop:
        handle.seek(pos)
        buf = handle.read(min(size, stop - pos))
        if not buf:
            break  # the file shrank under us; the next scan sees the truncation
        at_stop = pos + len(buf) >= stop
        end = len(buf) if at_stop and final else buf.rfind(b"\n") + 1
        if end == 0:
            if at_stop:
                break  # a half-written last line: read it once it is complete
            size *= 2  # one line longer than a chunk
            continue
        matcher.scan(buf, end, tally)
        tally.bytes_scanned += end
        pos, size = pos + end, chunk_size
    return pos


# ---------------------------------------------------------------- log scanning since the last run


@dataclass(frozen=True)
class LogPosition:
    """Where the previous scan stopped, and which file that was (device, inode, first bytes)."""

    device: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_len: int


@dataclass(frozen=True)
class LogScan:
    """Error and warning lines written to one log since the previous scan."""

    name: str
    path: Path
    errors: int
    warnings: int
    error_groups: tuple[MessageGroup, ...]
    warning_groups: tuple[MessageGroup, ...]
    bytes_scanned: int
    offset: int  # where the next scan starts
    first_scan: bool = False
    rotated: bool = False  # replaced by a new file since the previous scan
    truncated: bool = False  # cut short (or rewritten) in place since the previous scan
    missing: bool = False


def _state_path(log: LogSource, state_dir: Path) -> Path:
    # The path's hash is part of the name: pointing a log at another file starts afresh.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", log.name)
    digest = hashlib.sha256(str(log.path).encode("utf-8")).hexdigest()[:10]
    return state_dir / "logscan" / f"{safe}-{digest}.json"


def _load_position(path: Path) -> LogPosition | None:
    """The saved position, or None (never scanned, or the state is unreadable: start over)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LogPosition(**{name: data[name] for name in LogPosition.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fingerprint(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    head = handle.read(length)
    return hashlib.sha256(head).hexdigest() if len(head) == length else ""


@dataclass(frozen=True)
class _RotatedCopy:
    """One rotated copy of a log: `<log>.N`, or `<log>.N.gz` read through gzip."""

    path: Path
    device: int
    inode: int
    size: int | None  # None for a compressed copy: known only once read

    def open(self) -> BinaryIO:
        if self.size is None:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return open(self.path, "rb", buffering=0)  # noqa: SIM115


def _rotated_copies(path: Path) -> list[_RotatedCopy]:
    """`<path>.1`, `.2` … (each plain or .gz), newest first, up to the first missing one."""
    copies = []
    for index in range(1, MAX_ROTATED_LOOKBACK + 1):
        plain = path.with_name(f"{path.name}.{index}")
        for candidate, compressed in ((plain, False), (plain.with_name(plain.name + ".gz"), True)):
            try:
                st = candidate.stat()
            except OSError:
                continue
            size = None if compressed else st.st_size
            copies.append(_RotatedCopy(candidate, st.st_dev, st.st_ino, size))
            break
        else:
            break
    return copies


def _is_previous(copy: _RotatedCopy, previous: LogPosition, by_inode: bool) -> bool:
    if copy.size is not None and copy.size < previous.offset:
        return False  # shorter than what was read of it: another file
    if by_inode:
        return copy.size is not None and (copy.device, copy.inode) == (
            previous.device,
            previous.inode,
        )
    if previous.fingerprint_len == 0:
        return False
    try:
        with copy.open() as handle:
            return _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def _scan_rotated(
    path: Path, previous: LogPosition, matcher: _LineMatcher, tally: _Tally, chunk_size: int
) -> bool:
    """Read what the previous scan had not read of the rotated files: the unread end of the
    file it was reading, now `<path>.N` (or `.N.gz`), then every newer copy in full.

    That file is recognised by its inode (renamed) or else by its first bytes (copied by
    copytruncate, or compressed); returns False when it is not among the copies.
    """
    copies = _rotated_copies(path)
    found = next(
        (
            i
            for by_inode in (True, False)
            for i, copy in enumerate(copies)
            if _is_previous(copy, previous, by_inode)
        ),
        None,
    )
    if found is None:
        return False
    for index in range(found, -1, -1):  # oldest first, as the lines were written
        copy = copies[index]
        start = previous.offset if index == found else 0
        try:
            with copy.open() as handle:
                if copy.size is None:
                    _scan_stream(handle, start, matcher, tally, chunk_size)
                else:
                    _scan_range(
                        handle, start, copy.size, matcher, tally, final=True, chunk_size=chunk_size
                    )
        except (OSError, EOFError, gzip.BadGzipFile):
            continue  # a copy that vanished or is damaged: the others still count
    return True


def _scan_stream(
    handle: BinaryIO, start: int, matcher: _LineMatcher, tally: _Tally, chunk_size: int
) -> None:
    """Scan a stream that can only go forward cheaply (gzip) from `start` to its end."""
    handle.seek(start)
    rest = b""
    while data := handle.read(chunk_size):
        buf = rest + data
        end = buf.rfind(b"\n") + 1
        if end:
            matcher.scan(buf, end, tally)
            tally.bytes_scanned += end
        rest = buf[end:]
    if rest:
        matcher.scan(rest, len(rest), tally)
        tally.bytes_scanned += len(rest)


def scan_log(
    log: LogSource, state_dir: Path, *, commit: bool = True, chunk_size: int = CHUNK_SIZE
) -> LogScan:
    """Count and group the error and warning lines written to `log.path` since the last scan.

    The position is kept in `state_dir/logscan/`; with `commit=False` it is left unchanged.
    A first scan reads the whole file; after a rotation the rotated file's unread tail is read
    first (found as `<log>.1`, or further back, gzipped or not, after several rotations), then
    any newer rotated copies, then the new file from its start; after a truncation without a
    copy the file is read from its start. A half-written last line is left for the next scan.
    """
    state_path = _state_path(log, state_dir)
    previous = _load_position(state_path)
    matcher = _matcher(log.error_patterns, log.warn_patterns)
    tally = _Tally()
    try:
        handle = open(log.path, "rb", buffering=0)  # noqa: SIM115
    except FileNotFoundError:
        return _log_scan(log, tally, offset=0, missing=True)
    with handle:
        stat = os.fstat(handle.fileno())
        start, rotated, truncated = 0, False, False
        if previous is not None:
            same_inode = (stat.st_dev, stat.st_ino) == (previous.device, previous.inode)
            same_start = _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
            if same_inode and same_start and stat.st_size >= previous.offset:
                start = previous.offset
            else:
                rotated, truncated = not same_inode, same_inode
                _scan_rotated(log.path, previous, matcher, tally, chunk_size)
        offset = _scan_range(
            handle, start, stat.st_size, matcher, tally, final=False, chunk_size=chunk_size
        )
        length = min(FINGERPRINT_BYTES, stat.st_size)
        position = LogPosition(
            stat.st_dev, stat.st_ino, offset, _fingerprint(handle, length), length
        )
    if commit:
        state.save(
            state_dir,
            state_path.relative_to(state_dir),
            {
                **position.__dict__,
                "path": str(log.path),
                "scanned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return _log_scan(
        log, tally, offset=offset, first_scan=previous is None, rotated=rotated, truncated=truncated
    )


def _log_scan(log: LogSource, tally: _Tally, *, offset: int, **flags: bool) -> LogScan:
    return LogScan(
        name=log.name,
        path=log.path,
        errors=tally.counts["error"],
        warnings=tally.counts["warning"],
        error_groups=tally.sorted_groups("error"),
        warning_groups=tally.sorted_groups("warning"),
        bytes_scanned=tally.bytes_scanned,
        offset=offset,
        **flags,
    )


# ---------------------------------------------------------------- recording


def record_graded(
    name: str, value: float, limit: Limit, *, unit: str = "", message: str = ""
) -> str:
    """Record a check graded by `limit`; the limit shown is the one crossed (or the next one)."""
    status = limit.grade(value)
    bound = limit.fail if status == "fail" else limit.warn
    report.check(name, status, value=value, limit=bound, unit=unit, message=message)
    return status


def record_services(config: Config) -> tuple[ServiceProbe, ...]:
    """Probe every configured service: down fails; a slow answer warns or fails by latency."""
    probes = tuple(probe_service(service) for service in config.services)
    for service, probe in zip(config.services, probes, strict=True):
        labels = {"service": probe.name, "kind": probe.kind}
        report.metric("service_up", int(probe.up), labels=labels)
        name = f"service:{probe.name}"
        if not probe.up:
            report.check(name, "fail", message=f"{probe.kind}: {probe.detail}")
        elif probe.latency_ms is not None:
            report.metric("service_latency_ms", probe.latency_ms, unit="ms", labels=labels)
            record_graded(
                name,
                probe.latency_ms,
                config.thresholds.http_latency_ms,
                unit="ms",
                message=f"{probe.kind}: {probe.detail}",
            )
        else:
            report.check(
                name,
                "ok",
                value=probe.process_count,
                message=f"process(es) matching {getattr(service, 'process', '')!r}",
            )
    return probes


def record_logs(config: Config, top: int = 5, *, commit: bool = True) -> tuple[LogScan, ...]:
    """Scan every configured log since the last run; grade its error count, show its top groups."""
    scans = []
    for log in config.logs:
        name = f"log:{log.name}"
        try:
            scan = scan_log(log, config.state_dir, commit=commit)
        except OSError as exc:
            report.check(name, "fail", message=f"cannot read {log.path}: {describe_failure(exc)}")
            continue
        scans.append(scan)
        if scan.missing:
            report.check(name, "warn", message=f"{log.path} does not exist")
            continue
        labels = {"log": log.name}
        report.metric("log_error_lines", scan.errors, labels=labels)
        report.metric("log_warning_lines", scan.warnings, labels=labels)
        report.metric("log_bytes_scanned", scan.bytes_scanned, unit="B", labels=labels)
        status = record_graded(
            name,
            scan.errors,
            log.errors or config.thresholds.log_errors,
            message=_log_summary(scan),
        )
        print(format_groups(scan, top))
        _record_groups(log.name, scan, "info" if status == "ok" else status)
    return tuple(scans)


def _log_summary(scan: LogScan) -> str:
    text = (
        f"{scan.errors} error lines in {len(scan.error_groups)} groups,"
        f" {scan.warnings} warning lines since the last scan"
    )
    if scan.first_scan:
        text += " (first scan: whole file)"
    if scan.rotated:
        text += " (rotated since the last scan)"
    if scan.truncated:
        text += " (truncated since the last scan)"
    return text


def _record_groups(log_name: str, scan: LogScan, severity: str) -> None:
    for group in scan.error_groups[:MAX_FINDINGS_PER_LOG]:
        report.finding(
            group_key(log_name, group.template),
            f"{group.count} x {group.template} (last: {group.last.strip()})",
            severity=severity,
        )
    if scan.warnings:
        report.finding(
            f"log:{log_name}:warnings",
            f"{scan.warnings} warning lines in {len(scan.warning_groups)} groups,"
            f" most often: {scan.warning_groups[0].template}",
            severity="info",
        )


def format_groups(scan: LogScan, top: int = 5) -> str:
    """A plain-text table of the `top` most frequent error and warning groups of a scan."""
    rows = [*scan.error_groups[:top], *scan.warning_groups[:top]]
    lines = [f"{scan.path.name}: {scan.errors} errors, {scan.warnings} warnings"]
    if rows:
        lines.append(f"{'count':>7}  {'level':<7}  message")
        lines += [f"{g.count:>7}  {g.severity:<7}  {g.template[:110]}" for g in rows]
    return "\n".join(lines)


def record_disks(config: Config) -> tuple[DiskUsage, ...]:
    """Grade the used percentage of every configured mount (its own limit first)."""
    usages = []
    for mount in config.mounts:
        name = f"disk:{mount.path}"
        try:
            usage = disk_usage(mount)
        except OSError as exc:
            report.check(
                name, "fail", message=f"cannot measure {mount.path}: {describe_failure(exc)}"
            )
            continue
        usages.append(usage)
        labels = {"mount": str(mount.path)}
        report.metric("disk_used_percent", usage.percent, unit="%", labels=labels)
        report.metric("disk_free_bytes", usage.free_bytes, unit="B", labels=labels)
        free_gib = usage.free_bytes / (1 << 30)
        record_graded(
            name,
            usage.percent,
            mount.limit or config.thresholds.disk_percent,
            unit="%",
            message=f"{free_gib:.1f} GiB free",
        )
    return tuple(usages)


def record_system(config: Config, interval_s: float = 0.5) -> SystemUsage:
    """Grade CPU, memory and load per CPU against the configured thresholds."""
    usage = system_usage(interval_s)
    limits = config.thresholds
    report.metric("cpu_percent", usage.cpu_percent, unit="%")
    report.metric("memory_percent", usage.memory_percent, unit="%")
    for minutes, load in ((1, usage.load_1), (5, usage.load_5), (15, usage.load_15)):
        report.metric("load_average", load, labels={"minutes": str(minutes)})
    report.metric("load_per_cpu", usage.load_per_cpu)
    record_graded(
        "system:cpu",
        usage.cpu_percent,
        limits.cpu_percent,
        unit="%",
        message=f"over {interval_s:g}s",
    )
    record_graded("system:memory", usage.memory_percent, limits.memory_percent, unit="%")
    record_graded(
        "system:load",
        usage.load_per_cpu,
        limits.load_per_cpu,
        message=f"5-minute load {usage.load_5:g} on {usage.cpus} CPUs",
    )
    return usage
