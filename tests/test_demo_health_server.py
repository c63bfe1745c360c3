"""Tests for upkeep.demo.health_server: the demo's HTTP server run as its own process, as
DemoService and the process probe see it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

from upkeep.demo import free_port, health_answers

MODULE = "upkeep.demo.health_server"


def status_of(url: str, method: str = "GET") -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, method=method, data=b"" if method != "GET" else None)
    try:
        with opener.open(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_until_up(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 10
    while not health_answers("127.0.0.1", port):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)


def test_service_module_is_quiet_and_exits_cleanly_on_sigterm() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(process, port)
        assert status_of(f"http://127.0.0.1:{port}/missing") == 404
        assert status_of(f"http://127.0.0.1:{port}/health", method="POST") == 404
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert (out, err) == (b"", b"")
    assert process.returncode == 0


def test_service_stops_when_its_stdin_closes() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--port", str(port), "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(process, port)
        assert process.stdin is not None
        process.stdin.close()  # what happens when the parent ends, even killed
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None and process.stderr.read() == b""
    assert not health_answers("127.0.0.1", port)


def test_server_process_loads_nothing_of_upkeep_but_itself() -> None:
    probe = (
        f"import sys, {MODULE}; import json;"
        " print(json.dumps(sorted(m for m in sys.modules if m.startswith('upkeep'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == ["upkeep", "upkeep.demo", MODULE]
