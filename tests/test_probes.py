"""Tests for upkeep.probes: real sockets, a real HTTP server, real processes."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers.fifo import without_waiting_on

from upkeep import demo
from upkeep.config import HttpService, ProcessService, TcpService
from upkeep.probes import probe_http, probe_process, probe_service, probe_tcp


class _Fixed(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status = int(self.path.strip("/"))
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/200")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def status_server() -> Iterator[int]:
    """A stdlib server answering GET /<code> with that status code."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fixed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_probe_of_the_demo_service_is_up(demo_port: int) -> None:
    probe = probe_http(HttpService("web", url=f"http://127.0.0.1:{demo_port}/health"))
    assert probe.up and probe.status_code == 200
    assert probe.latency_ms is not None and 0 < probe.latency_ms < 2000


def test_http_probe_of_a_closed_port_is_down() -> None:
    probe = probe_http(HttpService("web", url=f"http://127.0.0.1:{demo.free_port()}/", timeout_s=2))
    assert not probe.up and probe.latency_ms is None
    assert "refused" in probe.detail.lower()


def test_http_probe_compares_the_status_and_does_not_follow_redirects(status_server: int) -> None:
    base = f"http://127.0.0.1:{status_server}"
    unavailable = probe_http(HttpService("s", url=f"{base}/503"))
    assert not unavailable.up and unavailable.status_code == 503
    assert probe_http(HttpService("s", url=f"{base}/503", expect_status=503)).up
    moved = probe_http(HttpService("s", url=f"{base}/302"))
    assert moved.status_code == 302 and not moved.up


def test_tcp_probe_open_and_closed(demo_port: int) -> None:
    assert probe_tcp(TcpService("p", host="127.0.0.1", port=demo_port)).up
    closed = probe_tcp(TcpService("p", host="127.0.0.1", port=demo.free_port()))
    assert not closed.up and closed.latency_ms is None


def test_process_probe_finds_a_process_by_a_marker_in_its_command_line() -> None:
    marker = f"upkeep-test-marker-{uuid.uuid4().hex}"
    service = ProcessService("worker", process=marker)
    assert probe_process(service).process_count == 0
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    try:
        probe = probe_process(service)
        assert probe.up and probe.process_count == 1
        assert f"of user {getpass.getuser()} matching {marker!r}" in probe.detail
    finally:
        child.kill()
        child.wait()
    assert not probe_process(service).up


@contextmanager
def _sleeping(*args: str, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([*args], **popen)
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_process_of_another_user_is_not_the_service(tmp_path: Path) -> None:
    """Any process on the host whose command line holds the text used to count: another user's
    `less` of the service's log, or their own copy of it."""
    if os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root")
    marker = f"upkeep-test-marker-{uuid.uuid4().hex}"
    # A system program nobody may run, one process that never forks (a shell running `sleep`
    # forked a copy of itself, marker and all, that a probe could count as a second process):
    # tail follows /dev/null, and names the marker as a file it cannot open.
    sleeper = ["tail", "-f", "/dev/null", marker]
    with _sleeping(*sleeper, user="nobody", cwd="/", stderr=subprocess.DEVNULL):
        assert not probe_process(ProcessService("worker", process=marker)).up
        theirs = probe_process(ProcessService("worker", process=marker, user="nobody"))
        assert theirs.up and theirs.process_count == 1
        assert "of user nobody" in theirs.detail
    unknown = probe_process(ProcessService("worker", process=marker, user="no-such-user-x"))
    assert not unknown.up and "no user named 'no-such-user-x'" in unknown.detail


def test_a_command_matches_the_process_name_exactly(tmp_path: Path) -> None:
    name = f"svc-{uuid.uuid4().hex[:8]}"
    program = tmp_path / name
    program.symlink_to(shutil.which("sleep") or "/bin/sleep")
    service = ProcessService("svc", command=name)
    # Only mentioning the name (a `grep svc-…`, an editor) is not being it.
    with _sleeping(sys.executable, "-c", "import time; time.sleep(60)", name):
        assert probe_process(service).process_count == 0
        with _sleeping(str(program), "60"):
            probe = probe_process(service)
            assert probe.up and probe.process_count == 1
            assert f"named {name!r}" in probe.detail


def test_a_pid_file_names_the_one_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "svc.pid"
    service = ProcessService("svc", pid_file=pid_file)
    missing = probe_process(service)
    assert not missing.up and missing.detail == f"pid file {pid_file} not found"
    with _sleeping("sleep", "60") as child:
        pid_file.write_text(f"{child.pid}\n")
        assert probe_process(service).up
        # The pid file and the text must both hold: a reused pid is not the service.
        other = ProcessService("svc", pid_file=pid_file, process="no-such-text")
        assert not probe_process(other).up
    assert not probe_process(service).up  # the process is gone; its pid file stayed
    pid_file.write_text("garbage")
    assert "holds no pid" in probe_process(service).detail
    pid_file.write_text("9" * 400)  # digits, but no pid: not read whole, not handed to psutil
    assert "holds no pid" in probe_process(service).detail


def test_a_pid_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO as the pid file made the health check wait for a writer for good."""
    pid_file = tmp_path / "svc.pid"
    os.mkfifo(pid_file)
    probe = without_waiting_on(
        pid_file, lambda: probe_process(ProcessService("svc", pid_file=pid_file))
    )
    assert not probe.up
    assert probe.detail == f"pid file {pid_file} cannot be read: not a regular file"


def test_probe_service_hands_each_kind_to_its_own_probe(demo_port: int) -> None:
    url = f"http://127.0.0.1:{demo_port}/health"
    http = probe_service(HttpService("web", url=url))
    tcp = probe_service(TcpService("port", host="127.0.0.1", port=demo_port))
    process = probe_service(ProcessService("none", process=f"no-such-{uuid.uuid4().hex}"))
    assert (http.kind, http.up, http.status_code) == ("http", True, 200)
    assert (tcp.kind, tcp.up, tcp.status_code) == ("tcp", True, None)
    assert (process.kind, process.up, process.process_count) == ("process", False, 0)


def test_probe_service_refuses_what_is_not_a_service_config() -> None:
    with pytest.raises(AssertionError):
        probe_service("http://127.0.0.1/")  # type: ignore[arg-type]
