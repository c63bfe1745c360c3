"""Responsible for reading a log since the previous scan: `scan_log` finds where it stopped (the
same file, or a rotated copy of it in any naming, recognised by inode or first bytes), tallies
the error and warning lines written since in chunks of a bounded size (a line longer than one is
read piece by piece), and keeps the new position as runbook state. A log seen for the first time
is read from where `logs.first_scan` says. Only regular files are read: a FIFO or a device is
reported, never opened for reading.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat as stat_module
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from upkeep import state
from upkeep.config import LogSource
from upkeep.logs.first_scan import end_of_complete_lines, first_in_window, window_start
from upkeep.logs.grouping import LineLevel, MessageGroup, MessageTally
from upkeep.logs.layout import (
    SCAN_STATE,
    RotatedCopy,
    copies_in_directory,
    newest_first,
    state_path,
)
from upkeep.logs.matching import LineMatcher, LongLine, line_matcher
from upkeep.logs.regular_files import NotRegularFile, open_regular

__all__ = ["CHUNK_SIZE", "LogPosition", "LogScan", "scan_log"]

# Large enough to amortise each read and each chunk's Python work, small enough that the several
# search passes over a chunk mostly hit the CPU cache (measured on 0.3-0.5 GB logs: 4 MiB scans
# faster than 1 MiB or 16 MiB).
CHUNK_SIZE = 4 << 20
FINGERPRINT_BYTES = 1024


@dataclass(frozen=True)
class LogPosition:
    """Where the previous scan stopped, which file that was (device, inode, first bytes) and
    when (ISO 8601; empty in state written before it was kept)."""

    device: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_len: int
    scanned_at: str = ""


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
    first_scan_from: str = ""  # where a first scan started, in words
    rotated: bool = False  # replaced by a new file since the previous scan
    truncated: bool = False  # cut short (or rewritten) in place since the previous scan
    copies_read: int = 0  # rotated copies read (since the previous scan, or in a first window)
    previous_lost: bool = False  # rotated, and the file read last time is no longer there
    missing: bool = False
    not_regular: str = ""  # what the path is when it is not a regular file ("a FIFO", ...)
    # Rotated copies that were to be read and could not be (in full), each with why.
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True)
class _CopiesRead:
    count: int
    previous_found: bool = True


def scan_log(
    log: LogSource,
    state_dir: Path,
    *,
    commit: bool = True,
    chunk_size: int = CHUNK_SIZE,
    now: datetime | None = None,
) -> LogScan:
    """Count and group the error and warning lines written to `log.path` since the last scan.

    The position is kept in `state_dir/logscan/`; with `commit=False` it is left unchanged.
    A first scan starts where `log.first_scan_window` says (`now`, timezone-aware, places the
    window). After a rotation the rotated file's unread tail is read first (found among the
    copies, numbered or dated, gzipped or not, however many rotations ago), then every newer
    copy, then the new file from its start; when that file is gone, every copy written to since
    the last scan is read whole. After a truncation without a copy the file is read from its
    start. A half-written last line is left for the next scan.
    """
    now = now or datetime.now(UTC).astimezone()
    position_file = state_path(log, SCAN_STATE)
    previous = _load_position(state_dir / position_file)
    matcher = line_matcher(log.error_patterns, log.warn_patterns)
    tally = MessageTally()
    try:
        handle = open_regular(log.path)
    except FileNotFoundError:
        return _log_scan(log, tally, offset=0, missing=True)
    except NotRegularFile as refused:
        return _log_scan(log, tally, offset=0, not_regular=refused.kind)
    flags: dict[str, Any] = {"first_scan": previous is None}
    unreadable: list[str] = []
    with handle:
        stat = os.fstat(handle.fileno())
        start = 0
        if previous is None:
            start, flags["first_scan_from"], flags["copies_read"] = _first_scan_start(
                log, handle, stat.st_size, matcher, tally, chunk_size, now, unreadable
            )
        else:
            same_inode = (stat.st_dev, stat.st_ino) == (previous.device, previous.inode)
            same_start = _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
            if same_inode and same_start and stat.st_size >= previous.offset:
                start = previous.offset
            else:
                flags["rotated"], flags["truncated"] = not same_inode, same_inode
                read = _scan_rotated(log.path, previous, matcher, tally, chunk_size, unreadable)
                flags["copies_read"], flags["previous_lost"] = read.count, not read.previous_found
        offset = _scan_range(
            handle, start, stat.st_size, matcher, tally, final=False, chunk_size=chunk_size
        )
        length = min(FINGERPRINT_BYTES, stat.st_size)
        position = LogPosition(
            stat.st_dev,
            stat.st_ino,
            offset,
            _fingerprint(handle, length),
            length,
            datetime.now(UTC).isoformat(),
        )
    if commit:
        state.save(state_dir, position_file, {**position.__dict__, "path": str(log.path)})
    return _log_scan(log, tally, offset=offset, unreadable=tuple(unreadable), **flags)


def _first_scan_start(
    log: LogSource,
    handle: BinaryIO,
    size: int,
    matcher: LineMatcher,
    tally: MessageTally,
    chunk_size: int,
    now: datetime,
    unreadable: list[str],
) -> tuple[int, str, int]:
    """Where a first scan of the log starts, that in words, and how many rotated copies it read
    (a window reaching back past the log's first line reads them from the window's start)."""
    window = log.first_scan_window
    if window is None:
        return 0, "whole file", 0
    if window <= timedelta(0):
        return end_of_complete_lines(handle, size), "from the end: new lines only", 0
    cutoff = now - window
    start = window_start(handle, size, cutoff, now)
    since = f"lines since {cutoff:%Y-%m-%d %H:%M %Z}".rstrip()
    if not start.stamped:
        return end_of_complete_lines(handle, size), "no timestamps found: from the end", 0
    if not start.from_first_line:
        return start.offset, since, 0
    copies = _scan_copies_in_window(log.path, cutoff, now, matcher, tally, chunk_size, unreadable)
    if copies:
        since += f", {copies} rotated cop{'y' if copies == 1 else 'ies'} included"
    return 0, since, copies


def _scan_copies_in_window(
    path: Path,
    cutoff: datetime,
    now: datetime,
    matcher: LineMatcher,
    tally: MessageTally,
    chunk_size: int,
    unreadable: list[str],
) -> int:
    """Tally the lines of the rotated copies written at or after `cutoff`, oldest first; how
    many copies were read (each one that could not be, with why, in `unreadable`)."""
    reading = []
    for copy in newest_first(copies_in_directory(path, follow_symlinks=True)):
        if copy.stat.st_mtime < cutoff.timestamp():
            break  # last written before the window: it and older copies have nothing in it
        try:
            with copy.open() as handle:
                if copy.size is None:
                    start = first_in_window(handle, 0, None, cutoff, now).offset
                else:
                    start = window_start(handle, copy.size, cutoff, now).offset
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            _note_unreadable(copy, exc, unreadable)  # the others count
            continue
        reading.append((copy, start))
    return _scan_copies(reading, matcher, tally, chunk_size, unreadable)


def _log_scan(log: LogSource, tally: MessageTally, *, offset: int, **flags: Any) -> LogScan:
    ip_addresses = log.mask_ip_addresses
    return LogScan(
        name=log.name,
        path=log.path,
        errors=tally.counts[LineLevel.ERROR],
        warnings=tally.counts[LineLevel.WARNING],
        error_groups=tally.sorted_groups(LineLevel.ERROR, ip_addresses=ip_addresses),
        warning_groups=tally.sorted_groups(LineLevel.WARNING, ip_addresses=ip_addresses),
        bytes_scanned=tally.bytes_scanned,
        offset=offset,
        **flags,
    )


def _load_position(path: Path) -> LogPosition | None:
    """The saved position, or None (never scanned, or the state is unreadable: start over)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = LogPosition.__dataclass_fields__
        return LogPosition(**{name: data[name] for name in fields if name in data})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fingerprint(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    head = handle.read(length)
    return hashlib.sha256(head).hexdigest() if len(head) == length else ""


def _scan_range(
    handle: BinaryIO,
    start: int,
    stop: int,
    matcher: LineMatcher,
    tally: MessageTally,
    *,
    final: bool,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Scan the complete lines in [start, stop); return the offset just past the last one.

    With `final` (a rotated file that no longer grows) an unterminated last line counts too.
    """
    pos = start
    while pos < stop:
        handle.seek(pos)
        buf = handle.read(min(chunk_size, stop - pos))
        if not buf:
            break  # the file shrank under us; the next scan sees the truncation
        at_stop = pos + len(buf) >= stop
        end = len(buf) if at_stop and final else buf.rfind(b"\n") + 1
        if end == 0:
            if at_stop:
                break  # a half-written last line: read it once it is complete
            line_end = _scan_long_line(
                handle, buf, pos + len(buf), stop, matcher, tally, final, chunk_size
            )
            if line_end is None:
                break
            pos = line_end
            continue
        matcher.scan(buf, end, tally)
        tally.bytes_scanned += end
        pos += end
    return pos


def _scan_long_line(
    handle: BinaryIO,
    first: bytes,
    at: int,
    stop: int,
    matcher: LineMatcher,
    tally: MessageTally,
    final: bool,
    chunk_size: int,
) -> int | None:
    """Read on, a chunk at a time, through a line that began with `first` (a whole chunk without
    a newline) and ends before `stop`; tally it and return the offset past it, or None when it
    is not complete yet (or the file shrank)."""
    line = LongLine(matcher)
    line.feed(first)
    while at < stop:
        piece = handle.read(min(chunk_size, stop - at))
        if not piece:
            return None
        newline = piece.find(b"\n")
        if newline >= 0:
            line.feed(piece[:newline], last=True)
            line.record(tally, terminated=True)
            return at + newline + 1
        at += len(piece)
        if at >= stop and final:  # an unterminated last line of a file that no longer grows
            line.feed(piece, last=True)
            line.record(tally, terminated=False)
            return stop
        line.feed(piece)
    return None


def _scan_stream(
    handle: BinaryIO, start: int, matcher: LineMatcher, tally: MessageTally, chunk_size: int
) -> None:
    """Scan a stream that can only go forward cheaply (gzip) from `start` to its end.

    Read with `read1` where there is one (gzip): what one read of the compressed file gives,
    so that when the stream turns out damaged (EOFError) everything before the damage has
    been counted; `read` would drop the part of its chunk it had decompressed already."""
    handle.seek(start)
    rest = b""
    long_line: LongLine | None = None
    read = getattr(handle, "read1", handle.read)
    while data := read(chunk_size):
        if long_line is not None:
            newline = data.find(b"\n")
            if newline < 0:
                long_line.feed(data)
                continue
            long_line.feed(data[:newline], last=True)
            long_line.record(tally, terminated=True)
            long_line, data = None, data[newline + 1 :]
        buf = rest + data
        end = buf.rfind(b"\n") + 1
        if end:
            matcher.scan(buf, end, tally)
            tally.bytes_scanned += end
        rest = buf[end:]
        if len(rest) >= chunk_size:  # a line longer than a chunk: no longer held whole
            long_line = LongLine(matcher)
            long_line.feed(rest)
            rest = b""
    if long_line is not None:
        long_line.feed(b"", last=True)
        long_line.record(tally, terminated=False)
    elif rest:
        matcher.scan(rest, len(rest), tally)
        tally.bytes_scanned += len(rest)


def _is_previous(copy: RotatedCopy, previous: LogPosition, by_inode: bool) -> bool:
    """Whether `copy` is the file the previous scan read: its first bytes are the same and it is
    no shorter than what was read of it; `by_inode` asks for its inode too (a renamed file),
    else its first bytes must be there to tell (not an empty file's)."""
    if not stat_module.S_ISREG(copy.stat.st_mode):
        return False
    if copy.size is not None and copy.size < previous.offset:
        return False  # shorter than what was read of it: another file
    if by_inode:
        same = (copy.stat.st_dev, copy.stat.st_ino) == (previous.device, previous.inode)
        if not same or copy.size is None:
            return False
    elif previous.fingerprint_len == 0:
        return False
    try:
        with copy.open() as handle:
            # A file that reuses a deleted one's inode has other first bytes.
            return _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def _scan_rotated(
    path: Path,
    previous: LogPosition,
    matcher: LineMatcher,
    tally: MessageTally,
    chunk_size: int,
    unreadable: list[str],
) -> _CopiesRead:
    """Read what the previous scan had not read of the rotated files: the unread end of the
    file it was reading, now a rotated copy (`<path>.N`, `.N.gz`, `-YYYYMMDD` …), then every
    newer copy in full. That file is recognised by its inode (renamed) or else by its first
    bytes (copied by copytruncate, or compressed). When it is no longer there, every copy
    written to after the previous scan is read in full: all of it is newer."""
    copies = newest_first(copies_in_directory(path, follow_symlinks=True))
    found = next(
        (
            i
            for by_inode in (True, False)
            for i, copy in enumerate(copies)
            if _is_previous(copy, previous, by_inode)
        ),
        None,
    )
    if found is not None:
        reading = [(copy, previous.offset if i == found else 0) for i, copy in enumerate(copies)]
        return _CopiesRead(
            _scan_copies(reading[: found + 1], matcher, tally, chunk_size, unreadable)
        )
    try:
        scanned_at = datetime.fromisoformat(previous.scanned_at).timestamp()
    except ValueError:  # state from before the time was kept: nothing tells newer copies apart
        return _CopiesRead(0, previous_found=False)
    newer = [(copy, 0) for copy in copies if copy.stat.st_mtime > scanned_at]
    read = _scan_copies(newer, matcher, tally, chunk_size, unreadable)
    return _CopiesRead(read, previous_found=False)


def _scan_copies(
    reading: list[tuple[RotatedCopy, int]],
    matcher: LineMatcher,
    tally: MessageTally,
    chunk_size: int,
    unreadable: list[str],
) -> int:
    """Tally each copy from its offset, given newest first, read oldest first (as written);
    how many could be read in full (each one that could not, with why, in `unreadable`: the
    lines of a damaged one before the damage are counted)."""
    read = 0
    for copy, start in reversed(reading):
        try:
            with copy.open() as handle:
                if copy.size is None:
                    _scan_stream(handle, start, matcher, tally, chunk_size)
                else:
                    _scan_range(
                        handle, start, copy.size, matcher, tally, final=True, chunk_size=chunk_size
                    )
            read += 1
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            _note_unreadable(copy, exc, unreadable)  # the others count
    return read


def _note_unreadable(copy: RotatedCopy, exc: BaseException, unreadable: list[str]) -> None:
    """Add why `copy` could not be read to `unreadable`; a copy that vanished meanwhile (rotated
    on, or removed) is not a problem and is left out."""
    if isinstance(exc, FileNotFoundError):
        return
    if isinstance(exc, NotRegularFile):
        why = f"{exc.kind}, not a regular file"
    elif isinstance(exc, EOFError | gzip.BadGzipFile | zlib.error):  # BadGzipFile: an OSError
        why = f"damaged ({exc}); the lines before the damage were counted"
    else:
        why = f"cannot read it: {exc.strerror or exc}"
    unreadable.append(f"{copy.path.name}: {why}")
