"""Responsible for what a rotated log copy holds, read in one pass: the sha256 of its content
(decompressed when it is gzipped: the copy's identity, whatever its name), its byte and line
counts, and the time of its first and last stamped lines (`logs.line_times`)."""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from upkeep.logs.line_times import line_time

__all__ = ["CHUNK", "ContentFacts", "ContentReader"]

CHUNK = 1 << 20
# Lines looked at for the first stamp, and bytes of the end kept for the last one: a log whose
# first thousand lines carry no stamp has none this reader would find.
HEAD_LINES = 1000
TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class ContentFacts:
    """What a copy holds: its content's sha256 and size, its lines (a last line without a line
    feed counts), and when its first and last stamped lines were written (None: no stamp)."""

    sha256: str
    size: int
    lines: int
    first_line_at: datetime | None
    last_line_at: datetime | None


class ContentReader:
    """Fed a copy's content chunk by chunk (`feed`), says what it holds (`facts`)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._digest = hashlib.sha256()
        self._size = 0
        self._newlines = 0
        self._last_byte = b""
        self._head = bytearray()
        self._head_done = False
        self._first: datetime | None = None
        self._tail: deque[bytes] = deque()
        self._tail_bytes = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._digest.update(chunk)
        self._size += len(chunk)
        self._newlines += chunk.count(b"\n")
        self._last_byte = chunk[-1:]
        if not self._head_done:
            self._read_head(chunk)
        self._tail.append(chunk)
        self._tail_bytes += len(chunk)
        while self._tail_bytes - len(self._tail[0]) >= TAIL_BYTES:
            self._tail_bytes -= len(self._tail.popleft())

    def _read_head(self, chunk: bytes) -> None:
        self._head += chunk
        lines = self._head.split(b"\n")
        complete, self._head = lines[:-1], bytearray(lines[-1])
        for line in complete[:HEAD_LINES]:
            self._first = line_time(bytes(line), self._now)
            if self._first is not None:
                break
        if self._first is not None or len(complete) >= HEAD_LINES:
            self._head_done = True
            self._head.clear()

    def facts(self) -> ContentFacts:
        lines = self._newlines + (1 if self._last_byte not in (b"", b"\n") else 0)
        if not self._head_done and self._head:
            self._first = line_time(bytes(self._head), self._now)
        return ContentFacts(
            self._digest.hexdigest(), self._size, lines, self._first, self._last_stamp()
        )

    def _last_stamp(self) -> datetime | None:
        """The newest time stamped on the lines of the copy's tail: the latest, not the last
        one's (a last line may carry an old time: a message quoting one, a clock set back)."""
        tail = b"".join(self._tail)[-TAIL_BYTES:]
        stamps = [
            moment
            for line in tail.split(b"\n")
            if line and (moment := line_time(line, self._now)) is not None
        ]
        return max(stamps, default=None)
