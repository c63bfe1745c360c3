"""The disaster drill (upkeep.procedures.disaster_drill) on real SQLite files, real backups and a
real failover process: the phases in order with their times, the RPO by the canary, a corrupt
newest backup passed over for the previous one (and the larger RPO), a failover that never
becomes healthy failing in the phase named, and the scratch targets gone afterwards, even after
the drill's process was SIGKILLed (the next drill removes what it left)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from helpers.files import make_config
from helpers.project import Project
from helpers.recorder import Recorder

from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import Config, load_config
from upkeep.demo import free_port
from upkeep.drill.canary import canary_for
from upkeep.procedures import backup, disaster_drill, drill_grading
from upkeep.records import Status

NEVER_HEALTHY = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(drill_grading, "report", recorder)
    return recorder


def _database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.executemany(
            "INSERT INTO customers (name) VALUES (?)", [(f"c{i}",) for i in range(200)]
        )
    connection.close()


def _config(
    tmp_path: Path, failover: str = "{kind: demo, database: app}", **targets: str
) -> Config:
    _database(tmp_path / "app.db")
    port = free_port()  # the live demo's port: never started; the drill probes its own copy
    app = targets.get("app", "{rto_s: 60, rpo_s: 3600, canary: table}")
    return make_config(
        tmp_path,
        f"""
        demo: {{root: demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health", timeout_s: 1}}
          - {{name: web-port, kind: tcp, host: 127.0.0.1, port: {port}, timeout_s: 1}}
        databases:
          - {{name: app, engine: sqlite, path: app.db}}
        backup: {{dir: store, mode: full}}
        disaster_drill:
          databases: {{app: {app}}}
          services: {{web: {{rto_s: 60, rpo_s: 3600}}}}
          failover: {failover}
          healthy_timeout_s: {targets.get("timeout", "20")}
        """,
    )


def _scratch_left(config: Config) -> list[Path]:
    assert config.backup.dir is not None
    store = [p for p in config.backup.dir.iterdir() if p.name.startswith(".")]
    records = list((config.state_dir / "disaster-drill").glob("*.json"))
    return store + records


def _processes_reading(text: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())
        if text in command and process.pid != psutil.Process().pid:
            found.append(command)
    return found


def test_a_drill_goes_through_every_phase_and_measures_rpo_and_rto(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = _config(tmp_path)
    before = datetime.now(UTC)

    drill = disaster_drill.run_drill(config)
    disaster_drill.record_drill(drill, config)

    assert [phase.name for phase in drill.phases] == list(disaster_drill.PHASES)
    assert drill.failed_phase is None and all(phase.ok for phase in drill.phases)
    times = [moment for p in drill.phases for moment in (p.started, p.ended)]
    assert times == sorted(times) and times[0] >= before  # one after the other, each timed
    app = drill.databases["app"]
    assert app.restored is not None and app.restored.id == app.fresh_backup
    # The drill-start heartbeat is in the fresh backup: nothing written since was lost.
    assert app.source_canary == app.restored_canary and app.rpo_s == 0 and app.rpo_basis == "canary"
    assert drill.loss_at is not None and drill.loss_at <= drill.phases[4].started
    assert set(drill.service_rto_s) == {"web", "web-port"}
    assert 0 < drill.service_rto_s["web"] < 20
    checks = recorded.checks()
    assert {name for name, c in checks.items() if c["status"] != Status.OK} == set()
    assert checks["drill:app:rpo"]["limit"] == 3600 and checks["drill:web:rto"]["limit"] == 60
    assert "→" in checks["drill:phase:failover"]["message"]  # its start and end time
    metrics = [(r["name"], r["labels"]) for r in recorded.records if r["kind"] == "metric"]
    assert ("drill_rpo_seconds", {"database": "app"}) in metrics
    assert ("drill_rto_seconds", {"service": "web"}) in metrics
    findings = recorded.findings()
    assert "not configured" in findings["drill:incident-lead"]["message"]
    assert "nobody: no alert targets" in findings["drill:communications"]["message"]
    # Torn down: no scratch folder, no record, no failover process; the live file untouched
    # but for its heartbeat row.
    assert _scratch_left(config) == []
    assert _processes_reading(str(config.backup.dir)) == []
    with sqlite3.connect(tmp_path / "app.db") as connection:
        assert connection.execute("SELECT count(*) FROM customers").fetchone() == (200,)
        assert connection.execute("SELECT written_by FROM upkeep_canary").fetchall() == [("drill",)]


def test_a_corrupt_newest_backup_is_passed_over_for_the_previous_one_and_the_rpo_grows(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = _config(tmp_path)
    canary = canary_for(config, config.database("app"))
    now = datetime.now(UTC)
    ids = []
    for hours_ago in (3, 1):  # two nights: a heartbeat, then the backup
        canary.write("backup", now - timedelta(hours=hours_ago))
        run = backup.back_up_all(config, verify=False, check_store=False, retention=False)
        ids.append(run.backups[0].result.manifest.id)
    older, newest = ids
    assert config.backup.dir is not None
    piece = config.backup.dir / newest / "p000000.zst"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))

    drill = disaster_drill.run_drill(config, fresh_backup=False)
    disaster_drill.record_drill(drill, config)

    app = drill.databases["app"]
    assert app.restored is not None and app.restored.id == older
    assert app.passed_over and app.passed_over[0].startswith(f"{newest}: ")
    assert "p000000.zst" in app.passed_over[0]
    # Source: the drill's own heartbeat (now); restored: the one before the older backup.
    assert app.restored_canary == now - timedelta(hours=3)
    assert app.rpo_s is not None and 3 * 3600 <= app.rpo_s < 3 * 3600 + 60
    checks = recorded.checks()
    assert checks["drill:app:restore"]["status"] == Status.WARN
    assert newest in checks["drill:app:restore"]["message"]
    assert checks["drill:app:rpo"]["status"] == Status.FAIL  # target 3600 s
    assert "MISSED" in checks["drill:app:rpo"]["message"]
    assert checks["drill:web:rpo"]["status"] == Status.FAIL
    # The corrupt backup is unverified from now on; the one restored is verified.
    store = DirectoryStore(config.backup.dir)
    assert not store.verified(newest) and store.verified(older)
    assert _scratch_left(config) == []


def test_without_a_failover_the_drill_restores_and_verifies_and_says_so(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = _config(tmp_path)
    config.path.write_text(
        config.path.read_text().replace("  failover: {kind: demo, database: app}\n", "")
    )
    config = load_config(config.path)
    drill = disaster_drill.run_drill(config)
    disaster_drill.record_drill(drill, config)

    assert drill.failed_phase is None and drill.service_rto_s == {}
    checks = recorded.checks()
    assert "not configured (disaster_drill.failover" in checks["drill:phase:failover"]["message"]
    assert checks["drill:app:verify"]["status"] == Status.OK
    # The database's RTO is the end of its restore; the service's cannot be measured.
    assert checks["drill:app:rto"]["status"] == Status.OK
    assert checks["drill:web:rto"]["status"] == Status.WARN
    assert "not measured: not configured" in checks["drill:web:rto"]["message"]


def test_a_database_no_backup_of_which_restores_fails_the_restore_phase(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = _config(tmp_path)
    run = backup.back_up_all(config, verify=False, check_store=False, retention=False)
    only = run.backups[0].result.manifest.id
    assert config.backup.dir is not None
    (config.backup.dir / only / "p000000.zst").unlink()

    drill = disaster_drill.run_drill(config, fresh_backup=False)
    disaster_drill.record_drill(drill, config)

    assert drill.failed_phase == "restore"
    checks = recorded.checks()
    assert checks["drill:phase:restore"]["status"] == Status.FAIL
    assert "app: no backup restores whole (1 tried)" in checks["drill:phase:restore"]["message"]
    assert checks["drill:app:restore"]["status"] == Status.FAIL
    assert f"{only}/p000000.zst" in checks["drill:app:restore"]["message"]
    assert checks["drill:phase:failover"]["message"].startswith("not reached")
    assert checks["drill:phase:teardown"]["status"] == Status.OK
    assert _scratch_left(config) == []


def test_a_failover_that_never_becomes_healthy_fails_in_the_failover_phase(
    tmp_path: Path, recorded: Recorder
) -> None:
    command = json.dumps([*NEVER_HEALTHY, "{target}"])
    config = _config(
        tmp_path,
        "{kind: command, database: app, command: "
        + command
        + ', probes: [{name: web, url: "http://127.0.0.1:{port}/health"}]}',
        timeout="1",
    )

    drill = disaster_drill.run_drill(config)
    disaster_drill.record_drill(drill, config)

    assert drill.failed_phase == "failover"
    checks = recorded.checks()
    assert checks["drill:phase:failover"]["status"] == Status.FAIL
    assert "not healthy within 1s: web: no answer" in checks["drill:phase:failover"]["message"]
    assert checks["drill:phase:verify"]["message"] == (
        "not reached: the drill stopped in phase failover"
    )
    assert checks["drill:phase:teardown"]["status"] == Status.OK
    assert checks["drill:web:rto"]["status"] == Status.FAIL  # a target, nothing measured
    assert "drill stopped in phase failover" in recorded.summaries()[0]
    assert _scratch_left(config) == []
    assert _processes_reading(str(tmp_path)) == []


def test_a_failover_command_that_exits_fails_with_its_output(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = _config(
        tmp_path,
        '{kind: command, database: app, command: [sh, -c, "echo cannot open {target}; exit 3"],'
        ' probes: [{name: web, url: "http://127.0.0.1:{port}/health"}]}',
    )
    drill = disaster_drill.run_drill(config)
    assert drill.failed_phase == "failover"
    failover = next(p for p in drill.phases if p.name == "failover")
    assert "ended before it was healthy (exit 3: cannot open " in failover.detail
    assert _scratch_left(config) == []


KILLED_DRILL = """
import sys
from upkeep.config import load_config
from upkeep.procedures import disaster_drill
print("drilling", flush=True)
disaster_drill.run_drill(load_config(sys.argv[1]))
"""


@pytest.mark.slow  # a kernel, through the real command line
def test_the_next_drill_removes_what_a_sigkilled_drill_left(tmp_path: Path) -> None:
    never = json.dumps([*NEVER_HEALTHY, "{target}"])
    config = _config(
        tmp_path,
        "{kind: command, database: app, command: "
        + never
        + ', probes: [{name: web, url: "http://127.0.0.1:{port}/health"}]}',
        timeout="300",
    )
    records = config.state_dir / "disaster-drill"
    child = subprocess.Popen([sys.executable, "-c", KILLED_DRILL, str(config.path)])
    try:
        deadline = time.monotonic() + 60
        while not any(json.loads(p.read_text()).get("processes") for p in records.glob("*.json")):
            assert child.poll() is None and time.monotonic() < deadline, "no failover started"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        child.kill()
    [record] = records.glob("*.json")
    left = json.loads(record.read_text())
    [target] = [entry["target"] for entry in left["targets"]]
    [process] = left["processes"]
    assert Path(target).is_file() and psutil.pid_exists(process["pid"])

    # The next run of the drill (the real command line, a failover that works now) starts by
    # removing what the killed one left.
    text = config.path.read_text()
    failover = text[text.index("  failover:") : text.index("  healthy_timeout_s")]
    config.path.write_text(
        text.replace(failover, "  failover: {kind: demo, database: app}\n")
        + "runbooks_dir: upkeep:shipped\nevidence_dir: evidence\n"
    )
    result = Project(tmp_path).upkeep("run", "disaster-drill")

    assert result.code == 0, result.text
    assert not Path(target).exists() and not psutil.pid_exists(process["pid"])
    assert not record.exists()
    [run] = Project(tmp_path).records()
    cleaned = next(f for f in run["findings"] if f["key"] == "drill:cleaned")["message"]
    assert f"stopped failover process {process['pid']} left by drill {child.pid}" in cleaned
    assert f"removed scratch target {target} left by drill {child.pid}" in cleaned
    assert _scratch_left(config) == []


def test_the_drill_names_who_is_on_call_and_tells_every_alert_target(
    tmp_path: Path, recorded: Recorder
) -> None:
    from dataclasses import replace

    from upkeep.config.alerts import AlertSettings, AlertTarget
    from upkeep.config.oncall import read_oncall

    config = _config(tmp_path)
    (tmp_path / "oncall.yml").write_text(
        "schedules:\n  - name: ops-oncall\n    layers:\n      - {name: solo, people: [ana],"
        " start: '2026-01-05 09:00'}\n"
    )
    inbox = tmp_path / "inbox"
    config = replace(
        config,
        oncall=read_oncall(tmp_path / "oncall.yml", "UTC"),
        alerts=AlertSettings(
            targets=(
                AlertTarget("inbox", inbox=inbox, schedule="ops-oncall"),
                AlertTarget("chat", url="env:UPKEEP_TEST_NO_SUCH_VARIABLE"),
            )
        ),
    )

    drill = disaster_drill.run_drill(config)
    disaster_drill.record_drill(drill, config)

    findings = recorded.findings()
    assert findings["drill:incident-lead"]["message"] == "incident lead: ana (ops-oncall)"
    told = findings["drill:communications"]["message"]
    assert re.search(r"inbox at \d\d:\d\d:\d\d UTC", told)
    assert "chat: not delivered (chat: env:UPKEEP_TEST_NO_SUCH_VARIABLE: environment" in told
    [message] = [json.loads(p.read_text()) for p in inbox.glob("*.json")]
    assert message["title"] == "[DRILL] disaster drill started: no real incident"
    assert "Incident lead: ana (ops-oncall)" in message["body"]


def test_every_time_the_drill_shows_is_in_the_configured_time_zone(
    tmp_path: Path, recorded: Recorder
) -> None:
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from upkeep.config.alerts import AlertSettings, AlertTarget

    config = _config(tmp_path)  # St. John's: UTC-3:30 (NST) or UTC-2:30 (NDT), never UTC
    config.path.write_text("timezone: America/St_Johns\n" + config.path.read_text())
    inbox = tmp_path / "inbox"
    config = replace(
        load_config(config.path), alerts=AlertSettings(targets=(AlertTarget("inbox", inbox=inbox),))
    )
    tz = ZoneInfo("America/St_Johns")

    drill = disaster_drill.run_drill(config)
    disaster_drill.record_drill(drill, config)

    def local(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%H:%M:%S.%f}"[:-3]

    zone = f"{drill.started.astimezone(tz):%Z}"
    assert zone in ("NST", "NDT")
    checks, lines = recorded.checks(), disaster_drill.timeline(drill, config).splitlines()
    for phase, line in zip(drill.phases, lines, strict=True):
        assert phase.ended is not None
        times = f"{local(phase.started)} → {local(phase.ended)} {zone}"
        assert checks[f"drill:phase:{phase.name}"]["message"].startswith(f"{times}: ")
        assert line.startswith(f"{phase.name:<9} {times}  ok")
    told = recorded.findings()["drill:communications"]["message"]
    assert re.fullmatch(rf"who was notified: inbox at \d\d:\d\d:\d\d {zone}", told)
    [message] = [json.loads(p.read_text()) for p in inbox.glob("*.json")]
    started = f"{drill.started.astimezone(tz):%Y-%m-%d %H:%M} {zone}"
    assert f"The yearly disaster drill started at {started}." in message["body"]
