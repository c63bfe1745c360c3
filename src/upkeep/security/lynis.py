"""Responsible for reading Lynis's machine report, `lynis-report.dat` (`key=value` lines; a
`key[]=` key repeats): its hardening index, its warnings and suggestions (`TEST-ID|text|...`),
the Lynis version and when the audit ran. The review runs Lynis only when it is installed, and
reads only the report that run wrote: an older one left at the path is not this month's."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from upkeep.regular_file import read_regular

__all__ = [
    "LynisItem",
    "LynisReport",
    "audit_system",
    "lynis_installed",
    "parse_lynis_report",
    "run_lynis",
]

REPORT_LIMIT = 16 * 2**20  # a report is some 100 KiB; a larger file at its path is not read
_CLOCK_SLACK_S = 2  # a filesystem's timestamps may lag the clock by a tick


@dataclass(frozen=True)
class LynisItem:
    """One warning or suggestion: Lynis's test id and what it says."""

    test: str
    text: str
    detail: str = ""


@dataclass(frozen=True)
class LynisReport:
    hardening_index: int | None
    warnings: tuple[LynisItem, ...]
    suggestions: tuple[LynisItem, ...]
    version: str = ""
    ended: str = ""


def _item(value: str) -> LynisItem:
    fields = value.split("|")
    detail = fields[2] if len(fields) > 2 and fields[2] not in ("-", "") else ""
    return LynisItem(fields[0], fields[1] if len(fields) > 1 else "", detail)


def parse_lynis_report(text: str) -> LynisReport:
    """The report's hardening index, warnings and suggestions; lines it does not know are
    left alone (the format has hundreds of keys)."""
    values: dict[str, str] = {}
    warnings: list[LynisItem] = []
    suggestions: list[LynisItem] = []
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key == "warning[]":
            warnings.append(_item(value))
        elif key == "suggestion[]":
            suggestions.append(_item(value))
        else:
            values[key] = value
    index = values.get("hardening_index", "")
    return LynisReport(
        int(index) if index.isdigit() else None,
        tuple(warnings),
        tuple(suggestions),
        values.get("lynis_version", ""),
        values.get("report_datetime_end", ""),
    )


def lynis_installed() -> str | None:
    return shutil.which("lynis")


def run_lynis(report: Path, timeout_s: float = 1200) -> str | None:
    """Run `lynis audit system` writing `report`; None when it worked, else why not."""
    lynis = lynis_installed()
    if lynis is None:
        return "Lynis is not installed"
    try:
        done = subprocess.run(
            [lynis, "audit", "system", "--quiet", "--no-colors", "--report-file", str(report)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"lynis did not complete: {exc}"
    if done.returncode != 0 and not report.exists():
        return f"lynis exited with {done.returncode}: {done.stderr.strip()[-300:]}"
    return None


def audit_system(report: Path) -> LynisReport | str:
    """Lynis's report of an audit run now, or why there is none: Lynis is not installed, did
    not complete, or wrote no new report (the one at `report` is then older than this run)."""
    if lynis_installed() is None:
        return f"Lynis is not installed: no hardening index this month ({report} not read)"
    started = time.time()
    problem = run_lynis(report)
    if problem:
        return problem
    try:
        written = report.stat().st_mtime
        raw = read_regular(report, REPORT_LIMIT + 1)
    except OSError as exc:
        return f"Lynis ran, but its report {report} cannot be read: {exc.strerror}"
    if written < started - _CLOCK_SLACK_S:
        when = datetime.fromtimestamp(written, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"Lynis ran but wrote no new report: {report} is from {when}, not read"
    if len(raw) > REPORT_LIMIT:
        return f"{report}: larger than {REPORT_LIMIT // 2**20} MiB, not a Lynis report: not read"
    return parse_lynis_report(raw.decode("utf-8", errors="replace"))
