"""Responsible for the `upkeep` command group: its own options, the commands it holds (each
command's module imported only when the command runs or `--help` lists it), and the
one place where the end of a command becomes an exit code. A command returns its exit code; an
error the user can fix (`UpkeepError`) is one line on stderr and that error's code; a reader
that went away (`upkeep show NAME | head`) ends quietly; an error of the system upkeep runs on
(an OSError from the operating system: a full disk, a missing permission) is one line naming
the path and the errno, exit 3; an unexpected RuntimeError, ValueError or TypeError, or an
OSError upkeep raised itself, is an internal error (3) with its traceback for a bug report;
Ctrl-C is 130. SIGTERM and SIGHUP stop a command as Ctrl-C does (every child it started is
stopped, nothing unfinished is published) and exit 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

import click

from upkeep import __version__
from upkeep.cli.console import print_err
from upkeep.cli.options import GlobalOptions
from upkeep.errors import UpkeepError

EXIT_INTERNAL_ERROR = 3
EXIT_ENVIRONMENT_ERROR = 3  # as a run that ended in error: the system, not the input, failed
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE
EXIT_INTERRUPTED = 130  # what a shell reports for a process ended by SIGINT
# Signals that stop upkeep the way Ctrl-C does: a service manager's stop, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# Each command by name, and the module and attribute that define it: a command's module is
# imported only when the command runs (or `--help` lists it), so that `upkeep list` pays for
# no other command's imports.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("upkeep.cli.list", "list_command"),
    "show": ("upkeep.cli.show", "show_command"),
    "run": ("upkeep.cli.run", "run_command"),
    "verify": ("upkeep.cli.verify", "verify_command"),
    "evidence": ("upkeep.cli.evidence", "evidence_group"),
    "status": ("upkeep.cli.status", "status_command"),
    "watch": ("upkeep.cli.status", "watch_command"),
    "check": ("upkeep.cli.check", "check_command"),
    "new": ("upkeep.cli.new", "new_command"),
    "findings": ("upkeep.cli.findings", "findings_command"),
    "ack": ("upkeep.cli.ack", "ack_command"),
    "approve": ("upkeep.cli.approve", "approve_command"),
    "baseline": ("upkeep.cli.baseline", "baseline_group"),
    "backups": ("upkeep.cli.backups", "backups_command"),
    "restore": ("upkeep.cli.restore", "restore_command"),
    "demo": ("upkeep.cli.demo", "demo_command"),
    "site": ("upkeep.cli.site", "site_group"),
    "export": ("upkeep.cli.export", "export_group"),
    "schedule": ("upkeep.cli.schedule", "schedule_group"),
    "backlog": ("upkeep.cli.backlog", "backlog_group"),
    "subject": ("upkeep.cli.subject", "subject_group"),
    "log": ("upkeep.cli.log", "log_group"),
    "review": ("upkeep.cli.review", "review_command"),
    "oncall": ("upkeep.cli.oncall", "oncall_command"),
    "alerts": ("upkeep.cli.alerts", "alerts_group"),
    "silence": ("upkeep.cli.silence", "silence_group"),
    "incident": ("upkeep.cli.incident", "incident_group"),
    "docs": ("upkeep.cli.docs", "docs_group"),
}


class Stopped(KeyboardInterrupt):
    """upkeep was told to stop by one of `STOP_SIGNALS`. A KeyboardInterrupt, so that every
    clean-up Ctrl-C runs (kernels killed, the demo service and mkdocs stopped, unfinished runs
    discarded) runs for it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While the block runs, a stop signal raises `Stopped` in the main thread; a second one
    is ignored so that the clean-up of the first can finish. A signal the process was started
    ignoring (`nohup` ignores SIGHUP) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; click's test runner may use another
        return
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stopped(signum)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


class GuardedGroup(click.Group):
    """A click group whose commands return their exit code, and whose errors end as the
    module says."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with stop_signals_interrupt():
                code = super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own endings (--help, a usage error): click reports them
        except UpkeepError as exc:
            print_err(f"upkeep: error: {exc}")
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # Stop quietly, as Unix tools do, and keep Python from failing again on the final
            # flush of stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
        except OSError as exc:
            if exc.errno is None:  # not from the operating system: upkeep's own doing
                _internal_error(ctx, exc)
            print_err(f"upkeep: error: {system_error_text(exc)}")
            ctx.exit(EXIT_ENVIRONMENT_ERROR)
        except Stopped as exc:
            name = signal.Signals(exc.signum).name
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                print_err(f"\nupkeep: stopped by {name}{_what_stopped(ctx)}")
            ctx.exit(128 + exc.signum)
        except KeyboardInterrupt:
            print_err(f"\nupkeep: interrupted{_what_stopped(ctx)}")
            ctx.exit(EXIT_INTERRUPTED)
        except Exception as exc:  # any other (OverflowError, KeyError, ...): upkeep's own bug
            _internal_error(ctx, exc)
        ctx.exit(code or 0)


def _what_stopped(ctx: click.Context) -> str:
    """What a stop left undone, said only by the commands that run runbooks: runs already
    published stay published; the others were stopped and are not."""
    if ctx.invoked_subcommand in _RUNNING_COMMANDS:
        return ": unfinished runs were stopped and not published"
    return ""


_RUNNING_COMMANDS = frozenset({"run", "demo"})


class LazyGuardedGroup(GuardedGroup):
    """A guarded group whose commands are named up front and imported when first asked for."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, attribute = self.lazy_commands[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


def _internal_error(ctx: click.Context, exc: BaseException) -> NoReturn:
    """Not something the user did: say so, and keep the traceback for a bug report."""
    import traceback  # here: only a crash needs it

    traceback.print_exc()
    print_err(f"upkeep: internal error: {type(exc).__name__}: {exc}")
    ctx.exit(EXIT_INTERNAL_ERROR)


def system_error_text(exc: OSError) -> str:
    """`PATH: what went wrong (errno N, NAME)`, e.g. for a full disk
    `/srv/evidence/runs/...: No space left on device (errno 28, ENOSPC)`."""
    code = exc.errno if exc.errno is not None else 0
    said = f"{exc.strerror or os.strerror(code)} (errno {code}, {errno.errorcode.get(code, '?')})"
    if exc.filename is None:
        return said
    where = _path_text(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {_path_text(exc.filename2)}"
    return f"{where}: {said}"


def _path_text(name: object) -> str:
    return os.fsdecode(name) if isinstance(name, bytes) else str(name)


@click.group(
    cls=LazyGuardedGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
      upkeep status                 whether every scheduled run happened (missed, late)
      upkeep check                  validate the config and every runbook
      upkeep new NAME               scaffold a runbook of your own
      upkeep schedule export cron   the runbooks' cadences for cron, systemd, Kubernetes, GitHub
      upkeep oncall                 who is on call now (oncall.yml)

    Exit codes: 0 ok or warn, 1 a check failed, 2 bad input (nothing ran), 3 a run errored
    or the system failed (a full disk); 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
    """
    ctx.obj = GlobalOptions(config_path)
