"""upkeep.drill.failover and the demo health service's `--database`: the configured services
that are the demo's pointed at the failover's port and pid file, the health service healthy only
while it can read the restored file, and a failover process (with its children) stopped and
taken off the scratch record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from helpers.files import make_config
from helpers.processes import alive

from upkeep.config import HttpService, ProcessService, TcpService
from upkeep.config.disaster_drill import DrillFailover, FailoverProbe
from upkeep.demo import free_port
from upkeep.demo.service import health_answers
from upkeep.drill.failover import FailoverProcess, demo_probes
from upkeep.drill.scratch import ScratchRecord


def test_the_demos_services_are_pointed_at_the_failover_and_others_left_out(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        """
        demo: {root: demo, http_port: 8765}
        services:
          - {name: web, kind: http, url: "http://127.0.0.1:8765/health?deep=1", timeout_s: 2}
          - {name: port, kind: tcp, host: localhost, port: 8765}
          - {name: worker, kind: process, process: upkeep.demo.health_server}
          - {name: other, kind: http, url: "http://127.0.0.1:9000/"}
          - {name: cron, kind: process, process: cron}
        """,
    )
    probes = demo_probes(config, 40001, tmp_path / "pid")
    assert probes == (
        HttpService("web", "http://127.0.0.1:40001/health?deep=1", 200, 2.0),
        TcpService("port", "127.0.0.1", 40001, 5.0),
        ProcessService("worker", pid_file=tmp_path / "pid"),
    )
    (tmp_path / "bare").mkdir()
    bare = make_config(tmp_path / "bare", "")
    assert demo_probes(bare, 40002, tmp_path / "pid") == (
        HttpService("failover", "http://127.0.0.1:40002/health"),
    )


def _get(url: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_the_health_service_is_healthy_only_while_it_reads_its_database(tmp_path: Path) -> None:
    database = tmp_path / "restored.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE a (x)")
        connection.execute("CREATE TABLE b (y)")
    connection.close()
    port = free_port()
    command = [sys.executable, "-m", "upkeep.demo.health_server", "--port", str(port)]
    server = subprocess.Popen([*command, "--database", str(database)])
    try:
        deadline = time.monotonic() + 20
        while not health_answers("127.0.0.1", port):
            assert server.poll() is None and time.monotonic() < deadline, "never answered"
            time.sleep(0.05)
        assert _get(f"http://127.0.0.1:{port}/health")[1]["tables"] == 2
        database.unlink()
        status, body = _get(f"http://127.0.0.1:{port}/health")
        assert (status, body["status"]) == (503, "database unreadable")
    finally:
        server.terminate()
        server.wait()


def test_a_failover_process_and_its_children_are_stopped_and_unrecorded(tmp_path: Path) -> None:
    config = make_config(tmp_path, "services: [{name: web, kind: http, url: 'http://x:1/'}]")
    # A shell that starts a child: both must be gone afterwards (its own process group).
    failover = DrillFailover(
        "command",
        "app",
        ("sh", "-c", "sleep 300 & echo {target} {port}; wait"),
        (FailoverProbe("web", "http://127.0.0.1:{port}/health"),),
    )
    record = ScratchRecord(tmp_path / "records")
    with FailoverProcess(config, failover, "/srv/restored.db", record, tmp_path) as process:
        assert process.process is not None
        shell = psutil.Process(process.process.pid)
        outcome = process.wait_healthy(0.3)
        children = shell.children(recursive=True)
        assert [p["pid"] for p in record.processes] == [shell.pid]
        assert json.loads(record.path.read_text())["processes"][0]["pid"] == shell.pid
        assert process.probes() == (HttpService("web", f"http://127.0.0.1:{process.port}/health"),)
    assert not outcome.healthy and outcome.first_healthy == {"web": None}
    assert "no answer" in outcome.last["web"].detail
    assert children and not any(alive(child) for child in [*children, shell])
    assert record.processes == [] and not record.path.exists()
    assert (tmp_path / "failover-output").read_text().startswith("/srv/restored.db ")
