"""SIGTERM and SIGHUP stop upkeep as Ctrl-C does: every child it started (mkdocs, the demo's
HTTP service, the kernel template and the kernels) is gone when upkeep has exited, and nothing
unfinished is published. Real processes: the real `upkeep` command, signalled by its pid alone
(as a service manager or a closing terminal does), never its process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest
from helpers.project import CHECK_OK, Project

from upkeep import demo

pytestmark = pytest.mark.slow

STOP_SIGNALS = [signal.SIGTERM, signal.SIGHUP]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextmanager
def upkeep_process(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], list[psutil.Process]]]:
    """`upkeep ARGS` running in the background; yields it and a list the test fills with its
    children. Whatever the test's outcome, those children and upkeep itself are ended, each by
    its own pid, so a failing test leaves nothing running."""
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), *args]
    process = subprocess.Popen(
        command,
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    children: list[psutil.Process] = []
    upkeep = psutil.Process(process.pid)
    try:
        yield process, children
    finally:
        for child in [upkeep, *children]:
            if _alive(child):
                child.kill()
        process.wait(timeout=30)


def _wait_for(condition, what: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"upkeep ended before {what}: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.1)


def _stop_and_collect(
    process: subprocess.Popen[str], signum: int, children: list[psutil.Process]
) -> tuple[str, dict[int, str]]:
    """Record upkeep's children, send `signum` to upkeep alone; return what it printed and
    the command line of each child, by pid."""
    children.extend(psutil.Process(process.pid).children(recursive=True))
    commands = {child.pid: " ".join(child.cmdline()) for child in children}
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    return err, commands


def _assert_stopped(
    process: subprocess.Popen[str], signum: int, err: str, children: list[psutil.Process]
) -> None:
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum, err
    assert f"upkeep: stopped by {name}: unfinished runs were stopped and not published" in err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10  # a process that is being reaped may need a moment
    while any(_alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [child.pid for child in children if _alive(child)]
    assert left == [], f"still running after upkeep was stopped by {name}"


def _answers(url: str) -> bool:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_site_serve_stops_mkdocs(project: Project, signum: int) -> None:
    # The smallest site mkdocs serves: the command under test is upkeep's, not the site.
    (project.root / "mkdocs.yml").write_text("site_name: stop test\n")
    (project.root / "docs").mkdir()
    (project.root / "docs" / "index.md").write_text("# Home\n")
    url = f"http://127.0.0.1:{demo.free_port()}/"
    with upkeep_process(project, "site", "serve", "--dev-addr", url[7:-1]) as (process, children):
        _wait_for(lambda: _answers(url), "the site answered", process)
        err, commands = _stop_and_collect(process, signum, children)
        assert any("-m mkdocs serve" in command for command in commands.values()), commands
        _assert_stopped(process, signum, err, children)
        assert not _answers(url), "the site still answers"


SLEEPS = (
    "code",
    """
        import os, time
        from pathlib import Path
        from upkeep import state
        state.save(Path("state"), "sleeper-" + str(os.getpid()) + ".json", 1)
        Path("kernels", str(os.getpid())).touch()
        time.sleep(300)
    """,
)


@pytest.mark.parametrize(
    ("signum", "jobs", "fork"),
    [(signal.SIGTERM, "1", "1"), (signal.SIGHUP, "2", "1"), (signal.SIGTERM, "2", "0")],
    ids=["SIGTERM-one-job", "SIGHUP-two-jobs", "SIGTERM-launched-kernels"],
)
def test_run_stops_kernels_template_and_demo_service(
    make_project, signum: int, jobs: str, fork: str
) -> None:
    """Runs on the main thread (one job) or worker threads, kernels forked from the template
    or launched: none of them outlives upkeep, and no unfinished run is published."""
    port = demo.free_port()
    project: Project = make_project(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        demo: {{root: var/demo, http_port: {port}}}
    """)
    kernels = project.root / "kernels"
    kernels.mkdir()
    project.add_runbook("sleeper-a", [CHECK_OK, SLEEPS])
    project.add_runbook("sleeper-b", [CHECK_OK, SLEEPS])
    names = ["sleeper-a"] if jobs == "1" else ["sleeper-a", "sleeper-b"]
    env = {"UPKEEP_FORK_KERNELS": fork}
    with upkeep_process(project, "run", "--jobs", jobs, *names, env=env) as (process, children):
        _wait_for(lambda: len(list(kernels.iterdir())) == len(names), "every kernel ran", process)
        err, commands = _stop_and_collect(process, signum, children)
        started = " | ".join(commands.values())
        assert "upkeep.demo.health_server" in started, started
        if fork == "1":
            assert "upkeep.run.kernel_template" in started, started
        kernel_pids = {int(path.name) for path in kernels.iterdir()}
        assert kernel_pids <= {child.pid for child in children}
        _assert_stopped(process, signum, err, children)
    assert not _answers(f"http://127.0.0.1:{port}/health"), "the demo service still answers"
    assert project.run_dirs() == []  # nothing unfinished was published
    assert not any((project.evidence / ".staging").iterdir())
    assert not list((project.root / "state").rglob("*.json"))  # nor its state kept
    assert project.upkeep("verify").code == 0
