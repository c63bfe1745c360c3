"""Responsible for starting kernels cheaply: a template process imports ipykernel and IPython
once, then forks one fresh kernel process per request.

Importing the kernel's modules costs about 0.6 s of CPU, paid by every kernel a plain launch
starts; forked from this template, a kernel pays it once per `upkeep run`. The template runs no
user code, so each forked kernel starts as clean as a launched one: its own process, session and
process group, working directory, environment and output file.

Protocol, one JSON object per line: the parent writes `{"argv", "cwd", "env", "log", "until"}` to
stdin and reads `{"pid": N}` or `{"error": "..."}` from stdout; past `until` (on the machine's
monotonic clock) no kernel is forked for the request. When stdin closes (the parent ended or was
killed) the template kills every kernel it started and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "IPython.display",
    # Imported while a kernel initialises (measured with cProfile in a forked kernel): a
    # quarter of a second each kernel paid after the fork.
    "IPython.core.oinspect",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.extensions.storemagic",
    "argcomplete",
    "traitlets.config.argcomplete_config",
    "psutil",
    "jupyter_client.localinterfaces",
    "tornado.platform.asyncio",
    "sqlite3",
    "upkeep.report",
)


def _become_kernel(request: dict[str, Any], detached: int) -> None:
    """In the forked child: detach (then say so on the `detached` pipe), wire up output, and
    run the kernel until it shuts down."""
    code = 1
    try:
        os.setsid()
        os.close(detached)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # The kernel's parent is this template: its poller exits the kernel if the template
        # dies. Given as an argument: the trait's default was read when the template imported it.
        argv = [*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = ["ipykernel_launcher", *argv]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except BaseException as exc:  # noqa: BLE001 - a child must never return into the template
        with contextlib.suppress(OSError):
            os.write(2, f"upkeep kernel template: kernel failed: {exc!r}\n".encode())
    finally:
        os._exit(code)


_children: set[int] = set()  # kernels not yet reaped: only these may be signalled


def _reap(signum: int, frame: Any) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


def _kill_all() -> None:
    """SIGKILL every kernel still running, with its process group, and reap them."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    for pid in list(_children):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        _children.discard(pid)


def _preload() -> None:
    """The expensive imports a kernel makes while it starts, paid once here instead."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # optional parts (the debugger) load in the kernel if at all
            continue
    with contextlib.suppress(Exception):  # the kernel looks them up itself if this failed
        from jupyter_client import localinterfaces

        # The machine's addresses, which every kernel looks up (through psutil) to check its
        # connection file's: looked up once here, inherited by every fork.
        localinterfaces.localhost()


def serve() -> None:
    """Answer spawn requests on stdin until it closes."""
    _preload()

    # Reap kernels as they exit (waiting, rather than ignoring SIGCHLD, keeps their CPU time in
    # the accounts of whoever measures this process tree).
    signal.signal(signal.SIGCHLD, _reap)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            # SIGCHLD waits until the new pid is recorded, so a kernel that dies at once is
            # never reaped before it is known, and a reused pid is never signalled.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            try:
                request = json.loads(line)
                if time.monotonic() > float(request.get("until", "inf")):
                    # The parent has stopped waiting (this process was stalled): it launches
                    # the kernel itself, on the same ports. Forking one too would race it.
                    raise TimeoutError("the request came too late to be answered")
                detached, child_detached = os.pipe()
                pid = os.fork()
            except (ValueError, TypeError, OSError) as exc:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                out.write(json.dumps({"error": repr(exc)}) + "\n")
                out.flush()
                continue
            if pid == 0:
                os.close(detached)
                _become_kernel(request, child_detached)
            _children.add(pid)
            # The pid is told only once the kernel leads its own process group (the child
            # closes its end after setsid, or dies): a group kill sent at once must find it.
            os.close(child_detached)
            os.read(detached, 1)
            os.close(detached)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            out.write(json.dumps({"pid": pid}) + "\n")
            out.flush()
    finally:
        _kill_all()


if __name__ == "__main__":
    serve()
    # Every kernel is dead and reaped: tearing down the interpreter with IPython loaded would
    # only make the parent, which waits for this process, wait a tenth of a second longer.
    sys.stdout.flush()
    os._exit(0)
