"""Responsible for reading Lynis's machine report, `lynis-report.dat` (`key=value` lines; a
`key[]=` key repeats): its hardening index, its warnings and suggestions (`TEST-ID|text|...`),
the Lynis version and when the audit ran. The review runs Lynis only when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LynisItem", "LynisReport", "lynis_installed", "parse_lynis_report", "run_lynis"]


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
