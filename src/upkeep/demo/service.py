"""Responsible for running the demo's HTTP health service: `DemoService` starts it as a child
process (`python -m upkeep.demo.health_server`) for the duration of a `with` block and leaves
alone one that already answers, `serve_forever` runs it in the foreground (`upkeep demo --serve`),
`health_answers` asks whether it is up, and `free_port` finds a port for a throwaway one.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from types import TracebackType
from typing import IO, TYPE_CHECKING

from upkeep.demo import health_server
from upkeep.demo.settings import DemoError, demo_settings

if TYPE_CHECKING:
    from upkeep.config import Config

DEMO_HOST = "127.0.0.1"


def health_answers(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True when `http://host:port/health` answers 200 with `{"status": "ok"}`."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host}:{port}/health", timeout=timeout_s) as response:
            return response.status == 200 and json.load(response).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


class DemoService:
    """Run the demo health service on `config.demo.http_port` for the duration of a `with` block.

    If something already answers on that port's /health it is left alone: neither started
    nor stopped (it may be an `upkeep demo --serve` an engineer is running).
    """

    def __init__(self, config: Config, *, startup_timeout_s: float = 10.0) -> None:
        self.host = DEMO_HOST
        self.port = demo_settings(config).http_port
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def __enter__(self) -> DemoService:
        if health_answers(self.host, self.port):
            return self
        command = [
            sys.executable,
            "-m",
            health_server.__name__,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--exit-with-stdin",
        ]
        # stderr goes to a file, not a pipe nobody reads: a full pipe would hang the service.
        with tempfile.TemporaryFile() as stderr:
            self.process = subprocess.Popen(
                # Its stdin is a pipe only we hold: when we end, killed or not, it stops too.
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            self._wait_until_up(stderr)
        return self

    def _wait_until_up(self, stderr: IO[bytes]) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while not health_answers(self.host, self.port, timeout_s=0.25):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                stderr.seek(0)
                said = stderr.read().decode("utf-8", "replace").strip()
                raise DemoError(
                    f"the demo service did not come up on {self.url}"
                    f" within {self.startup_timeout_s:g}s: {said or 'no output'}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the service if this object started it: SIGTERM, then SIGKILL after 5 s."""
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(config: Config) -> None:
    """Run the demo health service in the foreground until Ctrl-C (`upkeep demo --serve`)."""
    port = demo_settings(config).http_port
    try:
        health_server.serve(DEMO_HOST, port)
    except OSError as exc:
        raise DemoError(
            f"cannot listen on {DEMO_HOST}:{port}: {exc.strerror}; is another service"
            " using it? Change `demo.http_port` in upkeep.yml"
        ) from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for tests and throwaway demos)."""
    with socket.socket() as sock:
        sock.bind((DEMO_HOST, 0))
        return sock.getsockname()[1]
