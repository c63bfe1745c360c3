"""The command line's thin layer: the group and its `--config`, the guard that turns how a
command ended into one message and an exit code, `python -m upkeep.cli` and the `upkeep` script,
and help that starts without the kernel machinery."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points

import click
import pytest
from click.testing import CliRunner
from helpers.project import CHECK_OK, Project

from upkeep.cli import main
from upkeep.cli.group import COMMANDS, GuardedGroup
from upkeep.errors import ConfigError, EvidenceError, ParameterError

# Imported only where a kernel runs or the site is built: never for --help.
HEAVY_PACKAGES = (
    "papermill",
    "nbformat",
    "nbclient",
    "nbconvert",
    "jupyter_client",
    "jupyter_core",
    "ipykernel",
    "mkdocs",
)


def test_broken_config_exits_2_naming_the_key(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text(
        project.config.read_text() + "thresholds:\n  disk_percent: {warn: x}\n"
    )
    result = project.upkeep("run", "fine")
    assert result.code == 2
    assert "thresholds.disk_percent.warn: expected a number, got 'x'" in result.err
    assert str(project.config) in result.err
    assert not project.evidence.exists()


def test_a_reader_that_goes_away_is_not_an_error(project: Project) -> None:
    # `upkeep show NAME | head -1`: the pipe closes early; no traceback, no "internal error".
    project.add_runbook("x", [CHECK_OK])
    reader = subprocess.run(
        f"{sys.executable} -m upkeep.cli --config {project.config} list | head -c 1",
        shell=True,
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = subprocess.run(
        f"{sys.executable} -m upkeep.cli --config {project.config} show x "
        "| python3 -c 'import sys; sys.stdin.read(1)'",
        shell=True,
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for done in (reader, result):
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_help_of_every_command_imports_no_kernel_or_site_machinery() -> None:
    code = f"""
import json, sys
import click
from click.testing import CliRunner
from upkeep.cli import main

def paths(command, path):
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            yield from paths(command.get_command(context, name), [*path, name])

helped = []
for path in paths(main, []):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output, (path, result.output)
    helped.append(" ".join(path))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY_PACKAGES!r})
print(json.dumps({{"helped": helped, "heavy": heavy}}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(proc.stdout)
    assert {"", "list", "show", "run", "verify", "backups", "restore", "demo"} <= set(
        seen["helped"]
    )
    assert {"site build", "site serve", "site publish"} <= set(seen["helped"])
    assert seen["heavy"] == []


def test_each_command_is_found_where_the_group_says_it_lives() -> None:
    """The group imports a command's module only when the command is asked for: each name it
    lists must lead to the click command of that name."""
    context = click.Context(main)
    assert main.list_commands(context) == sorted(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert isinstance(command, click.Command) and command.name == name, name
    assert main.get_command(context, "nope") is None


def test_the_upkeep_script_runs_the_group() -> None:
    [script] = [ep for ep in entry_points(group="console_scripts") if ep.name == "upkeep"]
    assert script.value == "upkeep.entry:main"
    loaded = f"from {script.module} import {script.attr}; {script.attr}()"
    run = subprocess.run(
        [sys.executable, "-c", loaded, "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "Run a maintenance plan as code" in run.stdout


def test_ctrl_c_while_the_command_line_loads_ends_in_one_line_and_130() -> None:
    # The signal arrives while click is being imported, before upkeep's own handling is in
    # place: it used to end in a traceback.
    interrupted = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            os.kill(os.getpid(), signal.SIGINT)
sys.meta_path.insert(0, Interrupt())
from upkeep.entry import main
main()
"""
    run = subprocess.run(
        [sys.executable, "-c", interrupted, "list"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 130, run.stderr
    assert run.stderr == "\nupkeep: interrupted\n"


def test_python_dash_m_runs_the_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.strip().startswith("upkeep, version ")


def _group_running(callback: object, name: str = "act") -> click.Group:
    """A guarded group with one command, `name` (`act`), that calls `callback`."""
    group = GuardedGroup("upkeep")
    group.command(name)(callback)
    return group


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (ParameterError("parameter count: expected an integer"), 2, "parameter count"),
        (ConfigError("upkeep.yml: databases: no database named 'x'"), 2, "upkeep.yml"),
        (EvidenceError("evidence/ is not writable"), 3, "evidence/ is not writable"),
    ],
)
def test_an_error_the_user_can_fix_is_one_line_and_its_exit_code(
    error: Exception, code: int, message: str
) -> None:
    def act() -> int:
        raise error

    result = CliRunner().invoke(_group_running(act), ["act"])
    assert result.exit_code == code
    assert result.stderr == f"upkeep: error: {error}\n" and message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("bug"),
        OSError("no errno"),
        ValueError("value"),
        TypeError("type"),
        OverflowError("date value out of range"),  # exit 1 would read as "a check failed"
        KeyError("key"),
    ],
)
def test_a_bug_is_an_internal_error_with_its_traceback(error: Exception) -> None:
    """An OSError without an errno did not come from the operating system: upkeep raised it."""

    def act() -> int:
        raise error

    result = CliRunner().invoke(_group_running(act), ["act"])
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert result.stderr.endswith(f"upkeep: internal error: {type(error).__name__}: {error}\n")


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/srv/evidence/x/report.html"),
            "/srv/evidence/x/report.html: No space left on device (errno 28, ENOSPC)",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", b"/var/state/locks"),
            "/var/state/locks: Permission denied (errno 13, EACCES)",
        ),
        (
            # os.replace's error names both paths (the fourth argument is Windows' error code)
            OSError(errno.EXDEV, "Invalid cross-device link", "/a/x.json", None, "/b/x.json"),
            "/a/x.json -> /b/x.json: Invalid cross-device link (errno 18, EXDEV)",
        ),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "Connection refused"),
    ],
)
def test_an_error_of_the_system_is_one_line_naming_the_path_and_errno(
    error: OSError, line: str
) -> None:
    """A full disk is the machine's trouble, not upkeep's bug: no traceback, exit 3."""

    def act() -> int:
        raise error

    result = CliRunner().invoke(_group_running(act), ["act"])
    assert result.exit_code == 3
    assert result.stderr.startswith(f"upkeep: error: {line}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


def test_ctrl_c_exits_130_saying_nothing_unfinished_was_published() -> None:
    def act() -> int:
        raise KeyboardInterrupt

    result = CliRunner().invoke(_group_running(act, "run"), ["run"])
    assert result.exit_code == 130
    assert "upkeep: interrupted: unfinished runs were stopped and not published" in result.stderr
    assert "Traceback" not in result.stderr
    # A command that runs no runbook (findings, list) does not speak of runs.
    result = CliRunner().invoke(_group_running(act, "findings"), ["findings"])
    assert result.exit_code == 130
    assert result.stderr == "\nupkeep: interrupted\n"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_ends_a_command_as_ctrl_c_does(signum: int) -> None:
    """The command's clean-up runs (as for Ctrl-C), a second signal does not cut it short, the
    exit code is 128 + the signal, and the handlers are put back afterwards."""
    cleaned_up = []

    def act() -> int:
        try:
            os.kill(os.getpid(), signum)
            time.sleep(2)  # the handler raises in this thread before the sleep ends
        except KeyboardInterrupt:
            os.kill(os.getpid(), signum)  # ignored: the first one is being handled
            cleaned_up.append(signum)
            raise
        return 0

    # The test's own handler: should the guard not take the signal over, the test fails
    # instead of the signal ending pytest.
    def tests_own_handler(*args: object) -> None:
        pass

    previous = signal.signal(signum, tests_own_handler)
    try:
        result = CliRunner().invoke(_group_running(act), ["act"])
        assert signal.getsignal(signum) is tests_own_handler  # put back
    finally:
        signal.signal(signum, previous)
    assert cleaned_up == [signum]
    assert result.exit_code == 128 + signum
    name = signal.Signals(signum).name
    assert result.stderr.endswith(f"upkeep: stopped by {name}\n")  # `act` runs no runbook
    assert "Traceback" not in result.stderr


def test_a_signal_ignored_at_start_stays_ignored() -> None:
    """Started under `nohup`, a closing terminal's SIGHUP must not stop upkeep."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:

        def act() -> int:
            os.kill(os.getpid(), signal.SIGHUP)
            return 0

        result = CliRunner().invoke(_group_running(act), ["act"])
        assert result.exit_code == 0 and result.stderr == ""
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize(("returned", "code"), [(None, 0), (0, 0), (1, 1), (3, 3)])
def test_what_a_command_returns_is_the_exit_code(returned: int | None, code: int) -> None:
    result = CliRunner().invoke(_group_running(lambda: returned), ["act"])
    assert result.exit_code == code and result.stderr == ""


def test_usage_errors_and_help_stay_clicks_own() -> None:
    def act() -> int:
        raise click.UsageError("give runbook names or --due, not both")

    group = _group_running(act)
    usage = CliRunner().invoke(group, ["act"])
    assert usage.exit_code == 2
    assert "Usage:" in usage.stderr and "give runbook names or --due, not both" in usage.stderr
    assert "internal error" not in usage.stderr
    helped = CliRunner().invoke(group, ["act", "--help"])
    assert helped.exit_code == 0 and "Usage:" in helped.stdout


def test_the_config_option_and_its_variable_name_the_config(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    by_variable = CliRunner(env={"UPKEEP_CONFIG": str(project.config)}).invoke(
        main, ["list", "--json"]
    )
    assert by_variable.exit_code == 0, by_variable.output
    assert [r["name"] for r in json.loads(by_variable.stdout)] == ["fine"]
    missing = CliRunner().invoke(main, ["--config", str(project.root / "nope.yml"), "list"])
    assert missing.exit_code == 2 and "nope.yml" in missing.stderr
