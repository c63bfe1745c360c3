"""Fire times of a schedule as each scheduler computes them, as UTC datetimes: upkeep's own
(cronsim), systemd's (`systemd-analyze calendar --iterations`), croniter's (a second cron
implementation, for crontab lines and CronJob manifests); and the exported files read back."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from croniter import croniter

from upkeep import schedule

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
_ELAPSE = re.compile(r"(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


def upkeep_fires(cadence: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    """The next `count` times upkeep's own schedule gives after `start`."""
    fires = []
    moment = start.astimezone(zone)
    for _ in range(count):
        moment = schedule.next_time(cadence, moment)
        fires.append(moment.astimezone(UTC))
    return fires


def croniter_fires(expression: str, zone: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    it = croniter(expression, start.astimezone(zone))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def systemd_fires(specs: list[str], start: datetime, count: int) -> list[datetime]:
    """The first `count` elapses after `start` of a timer with these OnCalendar= values."""
    assert SYSTEMD_ANALYZE is not None
    fires: set[datetime] = set()
    for spec in specs:
        proc = subprocess.run(
            [
                SYSTEMD_ANALYZE,
                "calendar",
                f"--iterations={count}",
                f"--base-time=@{int(start.timestamp())}",
                spec,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "TZ": "UTC"},
            check=True,
            timeout=60,
        )
        found = _ELAPSE.findall(proc.stdout)
        assert found, proc.stdout + proc.stderr
        fires.update(datetime.fromisoformat(text).replace(tzinfo=UTC) for text in found)
    return sorted(fires)[:count]


def crontab_jobs(text: str) -> tuple[str, dict[str, str]]:
    """CRON_TZ and, per runbook (the line's last word), the cron expression of a crontab."""
    zone = None
    jobs = {}
    for line in text.splitlines():
        if line.startswith("CRON_TZ="):
            zone = line.removeprefix("CRON_TZ=")
        elif line and not line.startswith("#"):
            words = line.split()
            jobs[words[-1]] = " ".join(words[:5])
    assert zone is not None
    return zone, jobs


def timer_specs(folder: Path) -> dict[str, list[str]]:
    """Per runbook, the OnCalendar= values of its exported timer."""
    return {
        path.stem.removeprefix("upkeep-"): [
            line.removeprefix("OnCalendar=")
            for line in path.read_text().splitlines()
            if line.startswith("OnCalendar=")
        ]
        for path in sorted(folder.glob("upkeep-*.timer"))
    }


def cronjobs(folder: Path) -> dict[str, dict[str, Any]]:
    """Per runbook, the exported CronJob manifest."""
    manifests = [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]
    return {m["metadata"]["labels"]["upkeep.runbook"]: m for m in manifests}


def github_crons(text: str) -> dict[str, list[str]]:
    """Per runbook, the UTC crons of the exported GitHub Actions schedule block."""
    document = yaml.safe_load(text)
    on = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on` as true
    by_runbook: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r'\s*- cron: "([^"]+)"\s+# (.+)$', line)
        if match:
            for name in match.group(2).split(", "):
                by_runbook.setdefault(name, []).append(match.group(1))
    listed = [entry["cron"] for entry in on["schedule"]]
    assert sorted({c for crons in by_runbook.values() for c in crons}) == sorted(set(listed))
    return by_runbook
