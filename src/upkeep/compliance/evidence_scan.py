"""Responsible for scanning upkeep's own evidence for personal data with the audit's recognizers:
every file under the evidence directory (run records, notebooks, reports, the ledger), read as
text, counted per file and kind of value; the values themselves are never kept. Markers that
stand in for masked values (`«email»`) are not personal data, and loopback and unspecified IP
addresses (the demo's own services) are not either."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from upkeep.compliance.recognizers import kinds_in_text

__all__ = ["EvidenceHit", "scan_evidence"]

MAX_FILE_BYTES = 64 << 20  # a larger file is read in its first this many bytes
_CHUNK_LINES = 200
_HARMLESS_IP = re.compile(r"(?<![\d.])(?:127(?:\.\d{1,3}){3}|0\.0\.0\.0)(?![\d.])|::1\b")


@dataclass(frozen=True)
class EvidenceHit:
    """A file of the evidence holding personal data: its path under the evidence directory
    and, per kind, how many of its lines hold some."""

    path: str
    kinds: tuple[tuple[str, int], ...]


def scan_evidence(evidence_dir: Path) -> tuple[int, list[EvidenceHit]]:
    """How many files were scanned, and those that hold personal data. Runs still being
    written (the hidden staging folder) are left out: they are scanned once published; a file
    that goes away while the scan runs is skipped."""
    hits, scanned = [], 0
    if not evidence_dir.is_dir():
        return 0, []
    for path in sorted(evidence_dir.rglob("*")):
        relative = path.relative_to(evidence_dir)
        if any(part.startswith(".") for part in relative.parts):
            continue
        try:
            if not path.is_file() or path.is_symlink():
                continue
            kinds = _kinds_in_file(path)
        except OSError:
            continue
        scanned += 1
        if kinds:
            hits.append(EvidenceHit(relative.as_posix(), tuple(sorted(kinds.items()))))
    return scanned, hits


def _kinds_in_file(path: Path) -> Counter[str]:
    with path.open("rb") as handle:
        text = handle.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    kinds: Counter[str] = Counter()
    lines = text.splitlines()
    for start in range(0, len(lines), _CHUNK_LINES):
        chunk = "\n".join(lines[start : start + _CHUNK_LINES])
        if not _may_hold_personal(chunk):
            continue
        for line in lines[start : start + _CHUNK_LINES]:
            kinds.update(kinds_in_text(_HARMLESS_IP.sub("", line)))
    return kinds


def _may_hold_personal(chunk: str) -> bool:
    """A quick look: no digit and no @ means no recognisable value at all."""
    return "@" in chunk or any(char.isdigit() for char in chunk)
