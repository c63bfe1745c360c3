"""Responsible for the `upkeep` command line: parse arguments, call the pipeline, set exit codes.

Nothing here does the work: each command is a thin wrapper over plain functions. Errors a user
can cause surface as one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from upkeep import __version__
from upkeep.errors import UpkeepError

TRIGGERS = ("manual", "schedule", "ci")
_STATUS_STYLE = {
    "ok": "green",
    "warn": "yellow",
    "fail": "red",
    "error": "red",
    "skipped": "cyan",
    None: "white",
}


class _Context:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    def config(self):  # noqa: ANN201 - imports stay lazy so --help is instant
        from upkeep.config import load_config

        return load_config(self.config_path)


def _guard(func: Callable[..., int | None]) -> Callable[..., None]:
    """Turn UpkeepError into one message and its exit code."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs) or 0
        except UpkeepError as exc:
            click.echo(f"upkeep: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`upkeep show NAME | head`): stop quietly, as Unix tools do,
            # and keep Python from failing again on the final flush of stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            # Not something the user did: say so, keep the traceback for a bug report.
            import traceback

            traceback.print_exc()
            click.echo(f"upkeep: internal error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(3)
        except KeyboardInterrupt:
            click.echo(
                "\nupkeep: interrupted: unfinished runs were stopped and not published", err=True
            )
            sys.exit(130)
        sys.exit(code)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar="UPKEEP_CONFIG",
    help="The system's config file [default: ./upkeep.yml, or $UPKEEP_CONFIG].",
)
@click.version_option(__version__, prog_name="upkeep")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Run a maintenance plan as code: runbooks, evidence, and a verifiable ledger.

    \b
    Quick start on the embedded demo system:
      upkeep list                   what runbooks exist and which are due
      upkeep run health-check       run one now
      upkeep run --due              run everything that is due
      upkeep verify                 check the evidence ledger and every artifact

    Exit codes: 0 ok or warn, 1 a check failed, 2 bad input (nothing ran), 3 a run errored.
    """
    ctx.obj = _Context(config_path)


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--at", metavar="ISO-TIME", help="Evaluate schedules at this time instead of now.")
@click.pass_obj
@_guard
def list_command(obj: _Context, as_json: bool, at: str | None) -> int:
    """List runbooks with cadence, last status, last run and next due."""
    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore

    config = obj.config()
    moment = _parse_at(at, config)
    states = plan.states(
        registry.discover(config.runbooks_dir, config.root),
        EvidenceStore(config.evidence_dir).entries(),
        config,
        moment,
    )
    if as_json:
        click.echo(json.dumps([_state_json(s) for s in states], indent=2))
        return 0
    if not states:
        click.echo(f"no runbooks under {config.runbooks_dir}")
        return 0
    rows = [("NAME", "CADENCE", "LAST", "LAST RUN", "NEXT DUE")]
    for s in states:
        rows.append(
            (
                s.runbook.name,
                s.runbook.cadence,
                s.last_status or "never",
                _when(s.last_run_at),
                ("DUE since " if s.due else "") + _when(s.next_due),
            )
        )
    _print_table(rows)
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    """Aligned columns; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        click.echo(click.style(line, bold=True) if i == 0 else line)


@main.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
@_guard
def show(obj: _Context, name: str, as_json: bool) -> int:
    """Show a runbook's metadata and parameters."""
    from upkeep import registry

    config = obj.config()
    runbook = registry.discover(config.runbooks_dir, config.root).require(name)
    if as_json:
        click.echo(json.dumps(runbook.to_json(), indent=2))
        return 0
    click.echo(click.style(f"{runbook.name} — {runbook.title}", bold=True))
    click.echo(runbook.summary)
    for label, value in (
        ("path", runbook.relpath),
        ("cadence", runbook.cadence),
        ("category", runbook.category),
        ("owner", runbook.owner),
        ("timeout", f"{runbook.timeout_s or config.timeout_s} s"),
        ("destructive", "yes" if runbook.destructive else "no"),
        ("references", ", ".join(runbook.references) or "-"),
        ("sha256", runbook.sha256),
    ):
        click.echo(f"  {label:<12}{value}")
    click.echo("parameters:" if runbook.params else "parameters: none")
    for p in runbook.params:
        constraints = p.describe_constraints()
        click.echo(
            f"  {p.name}: {p.type} = {p.default!r}" + (f"  [{constraints}]" if constraints else "")
        )
        if p.help:
            click.echo(f"      {p.help}")
    click.echo(
        f"run it: upkeep run {runbook.name}"
        + "".join(f" -p {p.name}=..." for p in runbook.params[:1])
    )
    return 0


@main.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "-p",
    "--param",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a parameter of the named runbooks (repeatable).",
)
@click.option(
    "--due", is_flag=True, help="Run every runbook that is due (missed runs catch up once)."
)
@click.option("--at", metavar="ISO-TIME", help="With --due: decide what is due at this time.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Runbooks run at once [default: the number of CPUs, or defaults.jobs].",
)
@click.option(
    "--trigger",
    type=click.Choice(TRIGGERS),
    help="Recorded as what started the run "
    "[default: ci when $CI is set, schedule with --due, else manual].",
)
@click.option(
    "--no-demo-service",
    is_flag=True,
    help="Do not start the demo system's HTTP service for the run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@click.pass_obj
@_guard
def run(
    obj: _Context,
    names: tuple[str, ...],
    assignments: tuple[str, ...],
    due: bool,
    at: str | None,
    jobs: int | None,
    trigger: str | None,
    no_demo_service: bool,
    as_json: bool,
) -> int:
    """Run the named runbooks now, or with --due every runbook that is due.

    \b
    Examples:
      upkeep run health-check -p top_groups=10
      upkeep run --due --at 2026-12-01T03:00
    """
    import os

    from upkeep import plan, registry
    from upkeep.evidence import EvidenceStore
    from upkeep.records import Trigger, exit_code

    config = obj.config()
    if names and due:
        raise click.UsageError("give runbook names or --due, not both")
    if at and not due:
        raise click.UsageError("--at only applies with --due")
    trigger = Trigger(
        trigger or ("ci" if os.environ.get("CI") else "schedule" if due else "manual")
    )
    runbooks = registry.discover(config.runbooks_dir, config.root)
    store = EvidenceStore(config.evidence_dir)
    if due:
        planned = plan.plan_due(
            runbooks, store, config, _parse_at(at, config), trigger, assignments
        )
    else:
        planned = plan.plan_named(runbooks, names, assignments, trigger)
    if not planned:
        click.echo("nothing is due", err=True)
        if as_json:
            click.echo("[]")
        return 0
    outcomes = _execute(config, store, planned, jobs, no_demo_service, quiet=as_json)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "run_id": o.record.run_id,
                        "runbook": o.record.runbook.name,
                        "status": o.status.value,
                        "duration_s": round(o.record.duration_s, 3),
                        "path": str(o.path),
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
    return exit_code(o.status for o in outcomes)


def _execute(
    config: Any, store: Any, planned: list, jobs: int | None, no_demo_service: bool, quiet: bool
) -> list:
    from contextlib import nullcontext

    from upkeep.run.runner import run_plan

    service = nullcontext()
    if config.demo is not None:
        from upkeep import demo

        if not demo.demo_is_built(config):
            click.echo(f"building the demo system under {config.demo.root} ...", err=True)
            demo.build_demo(config)
        if not no_demo_service:
            service = demo.DemoService(config)
    progress = _Progress(len(planned))
    with service:
        outcomes = run_plan(
            planned,
            config,
            store,
            jobs=jobs,
            progress=progress,
            notify=lambda text: click.echo(f"upkeep: evidence: {text}", err=True),
        )
    progress.close()
    return outcomes


class _Progress:
    """One line per finished run; on a terminal, a live line of what is still running."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.live = sys.stderr.isatty()
        self._stop = threading.Event()
        if self.live:
            threading.Thread(target=self._tick, daemon=True).start()

    def started(self, planned: Any) -> None:
        with self.lock:
            self.running[planned.runbook.name] = time.monotonic()

    def finished(self, planned: Any, outcome: Any) -> None:
        name = planned.runbook.name
        with self.lock:
            self.running.pop(name, None)
            self.done += 1
            self._clear()
            status = outcome.status
            label = click.style(f"{status.word:<7}", fg=_STATUS_STYLE.get(status), bold=True)
            click.echo(
                f"[{self.done}/{self.total}] {label} {name} "
                f"({outcome.record.duration_s:.1f} s) {outcome.path}",
                err=True,
            )
            for line in _attention(outcome.record):
                click.echo(f"      {line}", err=True)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self.lock:
                if self.running:
                    now = time.monotonic()
                    names = ", ".join(f"{n} {now - t:.0f}s" for n, t in self.running.items())
                    self._clear()
                    sys.stderr.write(f"running: {names}"[:150])
                    sys.stderr.flush()

    def _clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            self._clear()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_obj
@_guard
def verify(obj: _Context, as_json: bool) -> int:
    """Verify the evidence ledger's hash chain and every run's artifacts."""
    from upkeep import evidence

    config = obj.config()
    report = evidence.verify(config.evidence_dir)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "runs_checked": report.runs_checked,
                    "problems": [
                        {"run_id": p.run_id, "path": str(p.path), "message": p.message}
                        for p in report.problems
                    ],
                },
                indent=2,
            )
        )
    elif report.ok:
        click.echo(f"ok: {report.runs_checked} runs verified in {config.evidence_dir}")
    else:
        click.echo(
            f"FAILED: {len(report.problems)} problem(s) in {config.evidence_dir}; "
            f"first: {report.problems[0].message}",
            err=True,
        )
        for problem in report.problems:
            click.echo(f"  - {problem.message}", err=True)
    return 0 if report.ok else 1


@main.command("backups")
@click.argument("database", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON.")
@click.pass_obj
@_guard
def backups_command(obj: _Context, database: str | None, as_json: bool) -> int:
    """List the backups in the store (backup.dir), oldest first: of DATABASE, or of all."""
    from upkeep.procedures.backup import open_store

    config = obj.config()
    if database is not None:
        config.database(database)
    manifests = open_store(config).manifests(database)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(m) for m in manifests], indent=2))
        return 0
    if not manifests:
        click.echo(f"no backups in {config.backup.dir}")
        return 0
    rows = [("ID", "DATABASE", "KIND", "CREATED", "SIZE", "STORED", "BASE")]
    for m in manifests:
        size, stored = _size(m.size), _size(m.stored_bytes)
        rows.append((m.id, m.database, m.kind, m.created, size, stored, m.base or "-"))
    _print_table(rows)
    return 0


@main.command("restore")
@click.argument("database")
@click.argument("target")
@click.option("--backup", "backup_id", metavar="ID", help="Restore this backup [default: newest].")
@click.pass_obj
@_guard
def restore_command(obj: _Context, database: str, target: str, backup_id: str | None) -> int:
    """Restore a backup of DATABASE into TARGET and check it.

    \b
    TARGET is a new file for SQLite, the name of a new database for PostgreSQL; an existing
    one is never overwritten. Every stored piece's sha256 is checked on the way; then SQLite's
    integrity_check and foreign_key_check, or pg_restore's exit status, and the row counts of
    every table against the backup's manifest. Exit 0 when all checks pass, 1 when one fails.
    """
    from upkeep.procedures.backup import restore

    config = obj.config()
    if config.database(database).engine == "sqlite":
        path = Path(target).absolute()
        if path.exists() or path.is_symlink():
            raise UpkeepError(f"restore target {path} exists; name a new file")
        target = str(path)
    outcome = restore(config, database, target, backup_id)
    click.echo(f"restored backup {outcome.backup_id} of {database} into {target}")
    for note in outcome.report.notes:
        click.echo(f"  note: {note}")
    for problem in outcome.problems:
        click.echo(f"  problem: {problem}", err=True)
    click.echo("all checks passed" if outcome.ok else "FAILED: the restored copy is not sound")
    return 0 if outcome.ok else 1


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@main.command("demo")
@click.option("--force", is_flag=True, help="Rebuild the demo system from scratch.")
@click.option("--serve", is_flag=True, help="Run the demo HTTP service in the foreground.")
@click.pass_obj
@_guard
def demo_command(obj: _Context, force: bool, serve: bool) -> int:
    """Create or refresh the embedded demo system under var/demo/."""
    from upkeep import demo
    from upkeep.errors import ConfigError

    config = obj.config()
    if config.demo is None:
        raise ConfigError(f"{config.path}: demo: not configured (add a demo: section with root)")
    if force or not demo.demo_is_built(config):
        path = demo.build_demo(config, force=force)
        click.echo(f"demo system built under {path}")
    else:
        click.echo(f"demo system is already built under {config.demo.root} (--force rebuilds)")
    if serve:
        click.echo(f"serving http://127.0.0.1:{config.demo.http_port}/health (Ctrl-C stops)")
        demo.serve_forever(config)
    return 0


@main.group("site")
def site_group() -> None:
    """Build, serve or publish the site: dashboard, runbooks, plan, run reports (MkDocs)."""


@site_group.command("build")
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the site here [default: site_dir of mkdocs.yml, ./site].",
)
@click.option("--no-strict", is_flag=True, help="Do not fail on warnings (broken links).")
@click.pass_obj
@_guard
def site_build(obj: _Context, site_dir: Path | None, no_strict: bool) -> int:
    """Build the site with mkdocs (strict: every link must resolve)."""
    from upkeep.site.build import build_site

    path = build_site(obj.config(), site_dir, strict=not no_strict)
    click.echo(f"site built in {path}")
    return 0


@site_group.command("serve")
@click.option(
    "--dev-addr",
    default="127.0.0.1:8000",
    show_default=True,
    metavar="IP:PORT",
    help="Address to serve on.",
)
@click.pass_obj
@_guard
def site_serve(obj: _Context, dev_addr: str) -> int:
    """Serve the site with live reload (Ctrl-C stops)."""
    from upkeep.site.build import serve_site

    serve_site(obj.config(), dev_addr)
    return 0


@site_group.command("publish")
@click.argument("version")
@click.argument("alias", required=False, default="latest")
@click.pass_obj
@_guard
def site_publish(obj: _Context, version: str, alias: str) -> int:
    """Deploy the site as VERSION to the local gh-pages branch, moving ALIAS [latest] onto it.

    Nothing is pushed. The branch's root redirects to ALIAS.
    """
    from upkeep.site.publish import publish_version

    result = publish_version(obj.config(), version, alias)
    click.echo(
        f"published {result.version} (alias {result.alias}) to branch {result.branch} "
        f"at {result.commit[:12]}; versions: " + ", ".join(v.version for v in result.versions)
    )
    return 0


def _attention(record: Any) -> list[str]:
    """The lines a person must read: the error, then every check that did not pass."""
    lines = []
    if record.error is not None:
        lines.append(record.error.summary[:300])
    if record.skipped_reason:
        lines.append(f"skipped: {record.skipped_reason}")
    for check in record.checks:
        if check.status != "ok":
            message = check.message
            if not message and check.value is not None:
                message = f"{check.value:g}{check.unit}"
            lines.append(f"{check.status}: {check.name}: {message}"[:300])
    return lines


def _parse_at(at: str | None, config: Any) -> datetime:
    from upkeep import schedule

    if at is None:
        return datetime.now(config.tz)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected an ISO time such as 2026-12-01T03:00, got {at!r}", param_hint="--at"
        ) from None
    return schedule.localize(moment, config.tz)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def _state_json(state: Any) -> dict[str, Any]:
    return {
        "name": state.runbook.name,
        "title": state.runbook.title,
        "cadence": state.runbook.cadence,
        "last_status": state.last_status.value if state.last_status else None,
        "last_run_id": state.last_run_id,
        "last_run_at": state.last_run_at.isoformat() if state.last_run_at else None,
        "due": state.due,
        "next_due": state.next_due.isoformat(),
    }


if __name__ == "__main__":
    main()
