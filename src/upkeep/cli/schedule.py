"""Responsible for `upkeep schedule export TARGET [--output DIR]`: every runbook's cadence
written for a scheduler (crontab, systemd units, Kubernetes CronJobs, a GitHub Actions schedule
block), to files in DIR or to stdout; each runbook the target cannot run exactly when upkeep's
own schedule says is named on stderr with the reason, and the exit code is 1.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from upkeep.cli.console import print_err, print_out
from upkeep.cli.options import GlobalOptions, NonEmptyPath, refuse_unless_regular

TARGET_NAMES = ("cron", "systemd", "kubernetes", "github-actions")
EXIT_REFUSED = 1
FILE_MODE = 0o644  # installed files are read by the scheduler, not secrets


@click.group("schedule")
def schedule_group() -> None:
    """Export the runbooks' cadences to a scheduler: cron, systemd, Kubernetes, GitHub."""


@schedule_group.command("export")
@click.argument("target", type=click.Choice(TARGET_NAMES))
@click.option(
    "--output",
    "-o",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    help="Write the files into this folder (made if missing) [default: print them].",
)
@click.pass_obj
def schedule_export_command(options: GlobalOptions, target: str, output: Path | None) -> int:
    """Write each runbook's cadence, in the config's time zone, as files TARGET installs as
    they are. A runbook the target cannot run at exactly upkeep's own times (an hour daylight
    saving skips or repeats; a zone GitHub's UTC cron cannot follow) is refused, named on
    stderr with the reason, and the exit code is 1.

    \b
    Examples:
      upkeep schedule export systemd -o /etc/systemd/system
          then: systemctl daemon-reload && systemctl enable --now upkeep-*.timer
      upkeep schedule export cron -o .   then: crontab upkeep.crontab
      upkeep schedule export kubernetes -o k8s/   then: kubectl apply -f k8s/
      upkeep schedule export github-actions   paste it as the nightly workflow's on:
    """
    from upkeep import registry
    from upkeep.schedule_export import ExportContext, Refusal, export, job_for

    config = options.load_config()
    runbooks = registry.discover(config.runbooks_dir, config.root)
    jobs = [job_for(r.name, r.title, r.cadence) for r in runbooks.values()]
    jobs += [
        Refusal(bad.name, f"it cannot be loaded: {bad.message}")
        for bad in runbooks.invalid.values()
    ]
    result = export(target, jobs, ExportContext(config), datetime.now(config.tz))
    if output is not None:
        _write(output, result.files)
    else:
        _print(target, result.files)
    for refusal in result.refused:
        print_err(f"upkeep: refused: {refusal.runbook}: not exported to {target}: {refusal.reason}")
    if output is not None:
        print_err(f"wrote {len(result.files)} file(s) to {output}")
        for stale in _stale(output, result.files):
            # Not removed (the folder may be /etc/systemd/system): an installed one keeps firing.
            print_err(
                f"upkeep: note: {output / stale} was written by an earlier export and not by"
                " this one (its runbook is gone, refused or renamed): remove it, or it goes on"
                " firing"
            )
    return EXIT_REFUSED if result.refused else 0


# What each file an export writes says of itself: a file of the same name without it (the
# `upkeep-watch` timer the observability docs have people write) is someone else's.
_EXPORT_MARKS = {
    ".service": "Description=upkeep runbook ",
    ".timer": "Description=Schedule of upkeep runbook ",
    ".yaml": "upkeep.cadence:",
    ".crontab": "written by `upkeep schedule export cron`",
}


def _stale(folder: Path, written: dict[str, str]) -> list[str]:
    """Files in `folder` that an earlier export wrote (by their name and their own words) and
    this one did not."""
    stale = []
    for entry in folder.iterdir():
        if not entry.name.startswith("upkeep") or entry.name in written:
            continue
        mark = _EXPORT_MARKS.get(entry.suffix)
        try:
            if mark is not None and entry.is_file() and mark in entry.read_text(errors="replace"):
                stale.append(entry.name)
        except OSError:
            continue
    return sorted(stale)


def _write(folder: Path, files: dict[str, str]) -> None:
    from upkeep import atomic

    for name in files:  # all checked before any is written
        refuse_unless_regular(folder / name, "--output")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic.write_text(folder / name, text, mode=FILE_MODE)


def _print(target: str, files: dict[str, str]) -> None:
    if len(files) == 1:
        print_out(next(iter(files.values())).rstrip("\n"))
        return
    separator = "---" if target == "kubernetes" else None
    for index, (name, text) in enumerate(files.items()):
        if index:
            print_out(separator or "")
        print_out(f"# ==> {name} <==")
        print_out(text.rstrip("\n"))
