"""Responsible for the drill's failover: start the application on the restored data, in a
process group of its own on a free port (the demo's health service reading the restored SQLite
file, or the configured command with the restored target as a parameter), probe it with the
health check's service probes until every one answers or time runs out, and stop it again."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from upkeep.config import Config, HttpService, ProcessService, Service, TcpService
from upkeep.config.disaster_drill import PORT_PLACEHOLDER, TARGET_PLACEHOLDER, DrillFailover
from upkeep.demo import health_server
from upkeep.demo.service import DEMO_HOST, free_port
from upkeep.drill.scratch import ScratchRecord, stop_process
from upkeep.probes import ServiceProbe, probe_service

__all__ = ["FailoverError", "FailoverOutcome", "FailoverProcess", "demo_probes"]

POLL_S = 0.1
MAX_OUTPUT = 2000


@dataclass
class FailoverOutcome:
    """When each probe first answered healthy (None: never), and its last answer."""

    first_healthy: dict[str, datetime | None] = field(default_factory=dict)
    last: dict[str, ServiceProbe] = field(default_factory=dict)
    exited: str | None = None  # the failover process ended before it was healthy: its output

    @property
    def healthy(self) -> bool:
        return bool(self.first_healthy) and all(self.first_healthy.values())


class FailoverProcess:
    """The application started on a restored target, for the duration of a `with` block."""

    def __init__(
        self,
        config: Config,
        failover: DrillFailover,
        target: str,
        record: ScratchRecord,
        workdir: Path,
    ) -> None:
        self.config = config
        self.failover = failover
        self.target = target
        self.record = record
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # In the drill's private scratch folder: removed with it, or after a kill by the next
        # opening of the store.
        self._output_file = workdir / "failover-output"
        self._pid_file = workdir / "failover-pid"

    def command(self) -> list[str]:
        if self.failover.kind == "demo":
            return [
                sys.executable, "-m", health_server.__name__, "--host", DEMO_HOST,
                "--port", str(self.port), "--database", self.target,
            ]  # fmt: skip
        return [_fill(part, self.target, self.port) for part in self.failover.command]

    def probes(self) -> tuple[Service, ...]:
        """The services to probe, each named after the configured service it stands for."""
        if self.failover.kind == "demo":
            return demo_probes(self.config, self.port, self._pid_file)
        return tuple(
            HttpService(probe.name, _fill(probe.url, self.target, self.port), probe.expect_status)
            for probe in self.failover.probes
        )

    def __enter__(self) -> FailoverProcess:
        try:
            with self._output_file.open("wb") as output:
                self.process = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: stopped as a whole, children too
                )
        except OSError as exc:
            raise FailoverError(f"cannot start the failover command: {exc}") from None
        self.record.add_process(self.process.pid)
        self._pid_file.write_text(f"{self.process.pid}\n")
        return self

    def wait_healthy(self, timeout_s: float) -> FailoverOutcome:
        """Probe every service until all have answered healthy once, the process ends, or
        `timeout_s` passes."""
        assert self.process is not None
        probes = self.probes()
        outcome = FailoverOutcome({service.name: None for service in probes})
        deadline = time.monotonic() + timeout_s
        while True:
            for service in probes:
                if outcome.first_healthy[service.name] is None:
                    answer = probe_service(service)
                    outcome.last[service.name] = answer
                    if answer.up:
                        outcome.first_healthy[service.name] = datetime.now(UTC)
            if outcome.healthy or time.monotonic() > deadline:
                return outcome
            if self.process.poll() is not None:
                outcome.exited = f"exit {self.process.returncode}: {self.output() or 'no output'}"
                return outcome
            time.sleep(POLL_S)

    def output(self) -> str:
        try:
            said = self._output_file.read_bytes()[-MAX_OUTPUT:]
        except OSError:
            return ""
        return said.decode("utf-8", "replace").strip()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process.pid)
            self.process.wait()
            self.record.remove_process(self.process.pid)
            self.process = None
        self._pid_file.unlink(missing_ok=True)

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FailoverError(Exception):
    """The failover could not be started: the message says why."""


def demo_probes(config: Config, port: int, pid_file: Path) -> tuple[Service, ...]:
    """The configured services that are the demo's health service, pointed at the failover:
    HTTP and TCP probes of the demo port on `port`, process probes by the failover's pid file."""
    demo_port = config.demo.http_port if config.demo else None
    probes: list[Service] = []
    for service in config.services:
        if isinstance(service, HttpService):
            parts = urlsplit(service.url)
            if parts.port == demo_port:
                netloc = f"{DEMO_HOST}:{port}"
                probes.append(replace(service, url=urlunsplit(parts._replace(netloc=netloc))))
        elif isinstance(service, TcpService):
            if service.port == demo_port:
                probes.append(replace(service, host=DEMO_HOST, port=port))
        elif isinstance(service, ProcessService) and health_server.__name__ in (
            service.process or ""
        ):
            probes.append(ProcessService(service.name, pid_file=pid_file))
    # No configured service is the demo's: its health endpoint alone says it is up.
    return tuple(probes) or (HttpService("failover", f"http://{DEMO_HOST}:{port}/health"),)


def _fill(text: str, target: str, port: int) -> str:
    return text.replace(TARGET_PLACEHOLDER, target).replace(PORT_PLACEHOLDER, str(port))
