"""Responsible for the `upkeep` command group: its own options, the commands it holds, and the
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
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

import click

from upkeep import __version__
from upkeep.cli.ack import ack_command
from upkeep.cli.alerts import alerts_group
from upkeep.cli.approve import approve_command
from upkeep.cli.backlog import backlog_group
from upkeep.cli.backups import backups_command
from upkeep.cli.baseline import baseline_group
from upkeep.cli.check import check_command
from upkeep.cli.console import print_err
from upkeep.cli.demo import demo_command
from upkeep.cli.docs import docs_group
from upkeep.cli.evidence import evidence_group
from upkeep.cli.export import export_group
from upkeep.cli.findings import findings_command
from upkeep.cli.incident import incident_group
from upkeep.cli.list import list_command
from upkeep.cli.log import log_group
from upkeep.cli.new import new_command
from upkeep.cli.oncall import oncall_command
from upkeep.cli.options import GlobalOptions
from upkeep.cli.restore import restore_command
from upkeep.cli.review import review_command
from upkeep.cli.run import run_command
from upkeep.cli.schedule import schedule_group
from upkeep.cli.show import show_command
from upkeep.cli.silence import silence_group
from upkeep.cli.site import site_group
from upkeep.cli.status import status_command, watch_command
from upkeep.cli.subject import subject_group
from upkeep.cli.verify import verify_command
from upkeep.errors import UpkeepError

EXIT_INTERNAL_ERROR = 3
EXIT_ENVIRONMENT_ERROR = 3  # as a run that ended in error: the system, not the input, failed
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE
EXIT_INTERRUPTED = 130  # what a shell reports for a process ended by SIGINT
# Signals that stop upkeep the way Ctrl-C does: a service manager's stop, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


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
        except (RuntimeError, ValueError, TypeError) as exc:
            _internal_error(ctx, exc)
        except Stopped as exc:
            name = signal.Signals(exc.signum).name
            with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
                print_err(
                    f"\nupkeep: stopped by {name}: unfinished runs were stopped and not published"
                )
            ctx.exit(128 + exc.signum)
        except KeyboardInterrupt:
            print_err("\nupkeep: interrupted: unfinished runs were stopped and not published")
            ctx.exit(EXIT_INTERRUPTED)
        ctx.exit(code or 0)


def _internal_error(ctx: click.Context, exc: BaseException) -> NoReturn:
    """Not something the user did: say so, and keep the traceback for a bug report."""
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
    cls=GuardedGroup,
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


main.add_command(list_command)
main.add_command(show_command)
main.add_command(run_command)
main.add_command(verify_command)
main.add_command(evidence_group)
main.add_command(status_command)
main.add_command(watch_command)
main.add_command(check_command)
main.add_command(new_command)
main.add_command(findings_command)
main.add_command(ack_command)
main.add_command(approve_command)
main.add_command(baseline_group)
main.add_command(backups_command)
main.add_command(restore_command)
main.add_command(demo_command)
main.add_command(site_group)
main.add_command(export_group)
main.add_command(schedule_group)
main.add_command(backlog_group)
main.add_command(subject_group)
main.add_command(log_group)
main.add_command(review_command)
main.add_command(oncall_command)
main.add_command(alerts_group)
main.add_command(silence_group)
main.add_command(incident_group)
main.add_command(docs_group)
