"""Responsible for the kernel of each run: where its output goes, how it is started (forked from
a template process when possible, launched normally otherwise), and killing its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

LAUNCHER = ["-m", "ipykernel_launcher"]
FORK_SWITCH = "UPKEEP_FORK_KERNELS"  # set to 0 to launch every kernel as its own interpreter
# -P: the directory upkeep was started from must not shadow modules in kernels.
TEMPLATE_COMMAND = [sys.executable, "-P", "-m", "upkeep.run.kernel_template"]
# How long the template is waited for, after which kernels are launched normally: its imports
# take a second or two, a fork milliseconds; a template stuck (swapping, stopped, wedged on a
# broken import) must cost a run a bounded wait, never a hang.
TEMPLATE_READY_S = 60.0
TEMPLATE_REPLY_S = 20.0
# A request carries the time after which the template must not fork for it: this much before
# its answer stops being waited for, so that a template stalled past it (then woken) never
# forks a kernel for a run that has launched its own on the same ports.
TEMPLATE_FORK_MARGIN_S = 5.0


class KernelTemplate:
    """A `kernel_template` process that forks pre-imported kernels on request; one per run of the
    executor, shared by its worker threads."""

    def __init__(
        self,
        command: list[str] | None = None,
        ready_s: float = TEMPLATE_READY_S,
        reply_s: float = TEMPLATE_REPLY_S,
    ) -> None:
        self._command = command or TEMPLATE_COMMAND
        self._ready_s = ready_s
        self._reply_s = reply_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pending = b""  # read from the template past the last whole line
        self._ready = False
        self._asked = False  # whether any kernel was requested: a template that forked none
        self._broken = os.environ.get(FORK_SWITCH, "1") == "0"

    def start(self) -> None:
        """Start the template in the background; its imports overlap the parent's."""
        if self._broken or self._process is not None:
            return
        self._process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def can_fork(self, kernel_cmd: list[str]) -> bool:
        """Only this interpreter's own ipykernel can be forked from the template."""
        return (
            not self._broken
            and self._process is not None
            and kernel_cmd[:3] == [sys.executable, *LAUNCHER]
        )

    def spawn(self, kernel_cmd: list[str], cwd: str, env: dict[str, str], log: Path) -> int | None:
        """Fork a kernel running `kernel_cmd`'s arguments; None if the template is unusable."""
        with self._lock:
            process = self._process
            if self._broken or process is None or process.stdin is None or process.stdout is None:
                return None
            self._asked = True
            try:
                if not self._ready:  # the template says so once its imports are done
                    ready = json.loads(self._line(process, self._ready_s))
                    self._ready = bool(ready["ready"])
                # CLOCK_MONOTONIC is the machine's: the template reads the same clock.
                until = time.monotonic() + max(self._reply_s - TEMPLATE_FORK_MARGIN_S, 0.0)
                request = {
                    "argv": kernel_cmd[3:],
                    "cwd": cwd,
                    "env": env,
                    "log": str(log),
                    "until": until,
                }
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
                reply = json.loads(self._line(process, self._reply_s))
            except (OSError, ValueError, KeyError, TypeError):
                # Given up on for good: a late answer must never be taken for the next one.
                # Its kernels, if any, die when close() closes its stdin.
                self._broken = True
                return None
        pid = reply.get("pid") if isinstance(reply, dict) else None
        return pid if isinstance(pid, int) and pid > 1 else None

    def _line(self, process: subprocess.Popen[bytes], within_s: float) -> bytes:
        """The template's next line; TimeoutError if none came within `within_s`, OSError if
        it closed its end (it died)."""
        fd = process.stdout.fileno()  # type: ignore[union-attr]
        deadline = time.monotonic() + within_s
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from the kernel template within {within_s:g} s")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise OSError("the kernel template closed its output")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def close(self) -> None:
        """Closing stdin makes the template kill any kernel still running and exit; a template
        asked for no kernel (nothing was planned, or planning failed) may still be importing and
        has no kernel to kill: it is killed at once instead of waited for."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if not self._asked:
            process.kill()
            process.wait()
            return
        with contextlib.suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ForkedProcess:
    """Enough of `subprocess.Popen` for jupyter_client's provisioner, for a kernel that is the
    template's child rather than ours (the template reaps it; we watch its pid)."""

    stdin: IO[bytes] | None = None
    stdout: IO[bytes] | None = None
    stderr: IO[bytes] | None = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
            except PermissionError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["kernel"], timeout or 0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# What `wait_until_ready` raises when the kernel process is gone before it answered: it died
# while starting (a port taken between being picked and being bound, memory), and is started
# again once (`upkeep.run.engine`).
DIED_AT_START = "Kernel died before replying to kernel_info"
READY_POLL_S = 1.0  # how long one kernel_info request is waited for before it is sent again
IOPUB_JOIN_S = 0.2  # how long its idle status is waited for on iopub before trying again


async def wait_until_ready(client: Any, timeout: float | None) -> None:
    """Return once the kernel answers: its reply to one `kernel_info` request on the shell
    channel, then that request's `idle` status on iopub (so iopub is connected: a subscriber
    that joined late misses it, and the request is sent again). jupyter_client's own wait then
    listens to iopub for 0.2 s of silence, a fifth of a second more per run: every message
    left over now is one nbclient drops anyway, since it is the reply to no cell."""
    from queue import Empty

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    while True:
        request = client.kernel_info()
        try:
            reply = await _message_to(client.shell_channel, request, READY_POLL_S)
            await _message_to(client.iopub_channel, request, IOPUB_JOIN_S, idle=True)
        except Empty:
            if not await client._async_is_alive():
                raise RuntimeError(DIED_AT_START) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds") from None
            continue
        client._handle_kernel_info_reply(reply)
        return


async def _message_to(channel: Any, request: str, within_s: float, idle: bool = False) -> Any:
    """The next message on `channel` answering `request` (with `idle`: its idle status),
    skipping others; queue.Empty once `within_s` passed without it."""
    from queue import Empty

    until = time.monotonic() + within_s
    while (left := until - time.monotonic()) > 0:
        msg = await channel.get_msg(timeout=left)
        if msg.get("parent_header", {}).get("msg_id") != request:
            continue
        if not idle or msg["content"].get("execution_state") == "idle":
            return msg
    raise Empty


def _client_class() -> type:
    from jupyter_client.asynchronous import AsyncKernelClient

    class RunKernelClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            await wait_until_ready(self, timeout)

    return RunKernelClient


_SPEC_MANAGER: Any = None
_SPEC_LOCK = threading.Lock()


def _spec_manager() -> Any:
    """One kernel-spec manager for the process, with the kernel directories named up front:
    its default looks them up by importing all of IPython (over a second, before any kernel)."""
    global _SPEC_MANAGER
    with _SPEC_LOCK:
        if _SPEC_MANAGER is None:
            from jupyter_client.kernelspec import KernelSpecManager
            from jupyter_core.paths import jupyter_path

            dirs = jupyter_path("kernels") + [str(Path.home() / ".ipython" / "kernels")]
            _SPEC_MANAGER = KernelSpecManager(kernel_dirs=dirs)
        return _SPEC_MANAGER


class RunKernel:
    """The one kernel of one run: its log file, its process group, and the manager class that
    starts it (forked from `template` when it can)."""

    def __init__(
        self,
        log_path: Path,
        template: KernelTemplate | None,
        extra_env: dict[str, str] | None = None,
        connection_file: Path | None = None,
    ) -> None:
        self.log_path = log_path
        # Where the kernel's connection file (its ports and signing key) is written: jupyter's
        # default, a new file in the temp folder, stays there for good when upkeep is killed.
        self.connection_file = connection_file
        self.template = template
        self.extra_env = dict(extra_env or {})
        self.pgid: int | None = None
        self._kill_requested = False
        self._lock = threading.Lock()

    def manager_class(self) -> type:
        from jupyter_client.manager import AsyncKernelManager

        run = self
        spec_manager = _spec_manager()

        client_class = _client_class()

        class RunKernelManager(AsyncKernelManager):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.client_factory = client_class
                if run.connection_file is not None:
                    self.connection_file = str(run.connection_file)

            def _kernel_spec_manager_default(self) -> Any:
                return spec_manager

            async def _async_wait(self, pollinterval: float = 0.1) -> None:
                # A SIGKILLed kernel is gone within milliseconds; polling every 0.1 s (the
                # default) added a tenth of a second to every run.
                await super()._async_wait(pollinterval=0.005)

            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                kw["env"] = {**(kw.get("env") or os.environ), **run.extra_env}
                pid = run.fork(kernel_cmd, kw)
                if pid is None:
                    with open(run.log_path, "ab") as log:
                        kw.update(stdout=log, stderr=log)
                        await super()._async_launch_kernel(kernel_cmd, **kw)
                    pid = self.provisioner.process.pid  # type: ignore[union-attr]
                else:
                    provisioner: Any = self.provisioner
                    provisioner.process = ForkedProcess(pid)
                    provisioner.pid = provisioner.pgid = pid
                    provisioner.cwd = kw.get("cwd")
                    self._reconcile_connection_info(provisioner.connection_info)
                run.started(pid)

        return RunKernelManager

    def restart(self, why: str) -> bool:
        """Whether a kernel that died while starting is to be started again: not when it was
        killed (a timeout, Ctrl-C). If so, the kernel's log says so, and why."""
        with self._lock:
            if self._kill_requested:
                return False
        with contextlib.suppress(OSError):
            fd = os.open(
                self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600
            )
            with os.fdopen(fd, "a") as log:
                log.write(
                    f"upkeep: the kernel died while starting ({why}); a new one was started\n"
                )
        return True

    def fork(self, kernel_cmd: list[str], kw: dict[str, Any]) -> int | None:
        if self.template is None or not self.template.can_fork(kernel_cmd):
            return None
        cwd = str(kw.get("cwd") or os.getcwd())
        env = {k: str(v) for k, v in (kw.get("env") or os.environ).items()}
        return self.template.spawn(kernel_cmd, cwd, env, self.log_path)

    def started(self, pid: int) -> None:
        with self._lock:
            self.pgid = pid  # the kernel leads its own session and process group
            doomed = self._kill_requested
        if doomed:  # killed while it was still starting: it must not live on
            self.kill_group()

    def kill_group(self) -> None:
        """SIGKILL the kernel and everything it started; harmless once they are gone, and
        effective on a kernel that is still starting (it is killed as soon as it exists)."""
        with self._lock:
            self._kill_requested = True
            pgid = self.pgid
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
