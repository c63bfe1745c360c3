"""The real `upkeep` command running in the background for a test, and what it started.

`background_upkeep` starts it; the test waits for something to happen, then signals upkeep
alone (by its pid, as a service manager or a closing terminal does) after noting every process
upkeep started. Whatever the test's outcome, upkeep and those processes are ended afterwards,
each by its own pid, so a failing test leaves nothing running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil
import pytest

from helpers.project import Project


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pid_alive(pid: int) -> bool:
    """The process `pid` is running and not a zombie (it may end between two looks)."""
    try:
        return alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def answers(url: str) -> bool:
    """True when `url` answers 200 (no proxy, a short timeout)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class BackgroundUpkeep:
    """One `upkeep` process, and the processes it had started when it was signalled."""

    process: subprocess.Popen[str]
    started: dict[int, str] = field(default_factory=dict)  # pid -> command line
    _children: list[psutil.Process] = field(default_factory=list)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
        """Wait until `condition()`; fail the test if upkeep ends first or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"upkeep ended before {what}: {self.process.communicate()[1]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen within {timeout:g} s")
            time.sleep(0.1)

    def signal(self, signum: int) -> str:
        """Note every process upkeep started, send `signum` to upkeep alone, wait for it to
        end; return what it printed on stderr."""
        self._children = psutil.Process(self.process.pid).children(recursive=True)
        self.started = {child.pid: " ".join(child.cmdline()) for child in self._children}
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=60)
        return err

    def still_running(self, grace_s: float = 10) -> list[str]:
        """The command lines of the noted processes still running after `grace_s` (a process
        being reaped may need a moment)."""
        deadline = time.monotonic() + grace_s
        while any(alive(child) for child in self._children) and time.monotonic() < deadline:
            time.sleep(0.1)
        return [self.started[child.pid] for child in self._children if alive(child)]

    def end_everything(self) -> None:
        for child in self._children:
            if alive(child):
                child.kill()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def _hangup_as_from_a_terminal() -> None:
    """SIGHUP back to its default in the child: upkeep keeps a SIGHUP it inherits as ignored
    (as `nohup` asks), so a suite started under `nohup` would otherwise test nothing."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@contextmanager
def background_upkeep(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> Iterator[BackgroundUpkeep]:
    """`upkeep --config <project> ARGS` running in the background for the `with` block."""
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), *args]
    running = BackgroundUpkeep(
        subprocess.Popen(
            command,
            cwd=project.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=_hangup_as_from_a_terminal,
        )
    )
    try:
        yield running
    finally:
        running.end_everything()
