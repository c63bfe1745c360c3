"""Responsible for keeping what a run prints within its limit (`defaults.max_output_bytes`, or
the runbook's own `max_output_bytes`): the first bytes of its output are kept, the rest is
dropped as it arrives, and each cell that lost some says how much.

What a run is judged by is always kept, whatever the limit: the results recorded through
`upkeep.report` (up to RESULT_BYTES each) and error outputs (a failing cell's traceback, its
message and each line cut at ERROR_CHARS). Once
anything has been dropped, everything after it is dropped too, so what is kept is a whole
beginning, never output with a silent gap in it. A stream cut in the middle keeps whole lines
only.

Nothing here imports papermill: `upkeep.run.engine` applies this to a kernel's messages.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upkeep.plain_text import cut
from upkeep.records import Check, Status
from upkeep.report import MIMETYPE, OUTPUT_CUT
from upkeep.units import human_size

__all__ = ["CHECK_NAME", "KernelLogTrim", "OutputLimit", "cut_note", "output_size"]

CHECK_NAME = "output:limit"
# A result recorded through upkeep.report is far smaller (its message is cut at 2,000
# characters): one larger was written by hand, and counts as any output.
RESULT_BYTES = 64 * 1024
# An error output is always kept, its message and each line of its traceback cut here: an
# exception built from a command's whole output is no reason to hold all of it.
ERROR_CHARS = 20_000


@dataclass
class OutputLimit:
    """What one run printed and kept, against `limit` bytes."""

    limit: int
    printed: int = 0
    kept: int = 0
    exhausted: bool = False
    # Of the kernel's own output (what subprocesses wrote to its stdout and stderr, in its log
    # file; IPython may show the same bytes in a cell too, so it is counted apart): the bytes
    # past its first `limit` (`KernelLogTrim`).
    log_dropped: int = 0
    # Bytes of kept outputs that a display update replaced: printed and kept once, then gone.
    replaced: int = 0

    @property
    def dropped(self) -> int:
        return self.printed - self.kept - self.replaced

    def replace(self, old: int, new: int) -> bool:
        """Whether a display update may replace kept outputs of `old` bytes in all with ones
        of `new` bytes (a progress display, a table redrawn): only while the growth fits, and
        never once anything was dropped. Dropped, the outputs keep their last kept value."""
        self.printed += new
        if not self.exhausted and new - old <= self.limit - self.kept:
            self.kept += new - old
            self.replaced += old
            return True
        self.exhausted = True
        return False

    def take(
        self, msg_type: str, content: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any] | None, int]:
        """The content of the message to keep (`content`, its text cut for a stream that
        crosses the limit, or None to drop it) and how many of its bytes were dropped."""
        size = output_size(msg_type, content)
        self.printed += size
        if msg_type == "error":
            kept_error = _cut_error(content)
            kept = output_size(msg_type, kept_error)
            self.kept += kept
            return kept_error, size - kept
        if _is_result(content) and size <= RESULT_BYTES:
            self.kept += size
            return content, 0
        if self.exhausted:
            return None, size
        room = self.limit - self.kept
        if size <= room:
            self.kept += size
            return content, 0
        self.exhausted = True
        if msg_type == "stream" and room > 0:
            head = _whole_lines(str(content.get("text", "")), room)
            if head:
                kept = len(head.encode("utf-8", "surrogatepass"))
                self.kept += kept
                return {**content, "text": head}, size - kept
        return None, size

    def check(self) -> Check | None:
        """A warning in the run's record when output was dropped, else None."""
        log_dropped = self.log_dropped
        if not self.dropped and not log_dropped:
            return None
        lost = [
            f"{human_size(dropped)} of {where}"
            for dropped, where in (
                (self.dropped, "its cells' output"),
                (log_dropped, "its kernel's own output (kernel.log)"),
            )
            if dropped
        ]
        return Check(
            CHECK_NAME,
            Status.WARN,
            value=float(max(self.printed, self.limit + log_dropped)),
            limit=float(self.limit),
            unit="B",
            message=(
                f"the runbook printed past its limit of {human_size(self.limit)} "
                f"(max_output_bytes): {' and '.join(lost)} not kept; the evidence keeps the "
                "start and says where it was cut"
            ),
        )


class KernelLogTrim:
    """Keeps the kernel's log file within `limit` bytes on disk while the run goes on: every
    `every_s`, a file grown past it is cut back to its first `limit` bytes, and the bytes cut
    are counted in `dropped`. Its writers append, so they go on at the new end; a process that
    writes without end fills at most a second's worth of disk, not the evidence's filesystem.
    """

    def __init__(self, path: Path, limit: int, every_s: float = 1.0) -> None:
        self.path = path
        self.limit = limit
        self.every_s = every_s
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="upkeep-log-trim", daemon=True)

    def __enter__(self) -> KernelLogTrim:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.trim()  # what came after the last look

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self.trim()

    def trim(self) -> None:
        """Cut the log back now. Only the regular file the kernel opened: a link put in its
        place is not followed, nor is a FIFO waited on."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:  # not there yet, gone with the staging folder, or no file of ours
            return
        try:
            status = os.fstat(fd)
            if stat.S_ISREG(status.st_mode) and status.st_size > self.limit:
                os.ftruncate(fd, self.limit)
                self.dropped += status.st_size - self.limit
        finally:
            os.close(fd)


def cut_note(dropped: int, limit: int, cut: list[str]) -> dict[str, Any]:
    """The data of the note left in a cell that lost `dropped` bytes of output."""
    text = (
        f"upkeep: {human_size(dropped)} of this cell's output was not kept: the run's output "
        f"passed its limit of {human_size(limit)} (max_output_bytes)"
    )
    return {OUTPUT_CUT: {"dropped": dropped, "limit": limit, "cut": cut}, "text/plain": text}


def output_size(msg_type: str, content: Mapping[str, Any]) -> int:
    """The bytes an output message adds to the executed notebook, near enough: its text, or
    each of its representations."""
    if msg_type == "stream":
        return len(str(content.get("text", "")).encode("utf-8", "surrogatepass"))
    if msg_type == "error":
        return sum(len(str(line).encode("utf-8", "surrogatepass")) for line in _traceback(content))
    data = content.get("data")
    if not isinstance(data, Mapping):
        return 0
    return sum(_value_size(value) for value in data.values())


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    return len(json.dumps(value, default=str).encode("utf-8", "surrogatepass"))


def _traceback(content: Mapping[str, Any]) -> list[Any]:
    lines = content.get("traceback")
    return lines if isinstance(lines, list) else []


def _cut_error(content: Mapping[str, Any]) -> Mapping[str, Any]:
    """An error output with its message and each traceback line cut at ERROR_CHARS (`content`
    itself when nothing is that long)."""
    evalue = content.get("evalue")
    lines = _traceback(content)
    if all(len(str(text)) <= ERROR_CHARS for text in (evalue or "", *lines)):
        return content
    return {
        **content,
        "evalue": cut(str(evalue or ""), ERROR_CHARS),
        "traceback": [cut(str(line), ERROR_CHARS) for line in lines],
    }


def _is_result(content: Mapping[str, Any]) -> bool:
    data = content.get("data")
    return isinstance(data, Mapping) and MIMETYPE in data


def _whole_lines(text: str, room: int) -> str:
    """The longest start of `text` that ends a line and takes at most `room` bytes."""
    head = text.encode("utf-8", "surrogatepass")[:room]
    end = head.rfind(b"\n")
    return head[: end + 1].decode("utf-8", "surrogatepass") if end >= 0 else ""
