"""Tests for upkeep.procedures.health: grading and recording real probes, scans and
measurements, and the shipped runbook."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from helpers.files import append, make_config
from helpers.recorder import Recorder

from upkeep import demo, report
from upkeep.errors import ConfigError
from upkeep.logs.grouping import group_key
from upkeep.logs.scan import scan_log
from upkeep.procedures import health

REPO = Path(__file__).resolve().parent.parent
RUNBOOK = REPO / "runbooks/daily/health-check.ipynb"
STAMP = "2026-11-16 02:15:00,123"


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(health, "report", recorder)
    return recorder


# ---------------------------------------------------------------- grading and recording


def test_services_are_graded_down_fail_and_latency_by_threshold(
    tmp_path: Path, demo_port: int, recorded: Recorder
) -> None:
    config = make_config(
        tmp_path,
        f"""
        services:
          - {{name: up, kind: http, url: "http://127.0.0.1:{demo_port}/health"}}
          - {{name: down, kind: tcp, host: 127.0.0.1, port: {demo.free_port()}}}
        thresholds:
          http_latency_ms: {{warn: 0, fail: 100000}}
        """,
    )
    health.record_services(config)
    checks = recorded.checks()
    assert checks["service:up"]["status"] == "warn"  # any latency is >= a warn limit of 0
    assert checks["service:up"]["limit"] == 0
    assert checks["service:down"]["status"] == "fail"


def test_log_limit_overrides_the_global_threshold(tmp_path: Path, recorded: Recorder) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: own, path: own.log, first_scan: whole, errors: {warn: 10, fail: 20}}
          - {name: global, path: global.log, first_scan: whole}
          - {name: absent, path: absent.log, first_scan: whole}
        thresholds:
          log_errors: {warn: 3, fail: 5}
        """,
    )
    for log in config.logs[:2]:
        append(
            log.path,
            *[f"{STAMP} ERROR timeout after {n}s for id {n * 7}" for n in range(6)],
            f"{STAMP} WARNING disk slow",
        )
    health.record_logs(config, top=3)
    checks, findings = recorded.checks(), recorded.findings()
    assert (checks["log:own"]["status"], checks["log:own"]["value"]) == ("ok", 6)
    assert (checks["log:global"]["status"], checks["log:global"]["limit"]) == ("fail", 5)
    assert checks["log:absent"]["status"] == "warn"
    key = group_key("global", "timeout after <N>s for id <N>")
    assert findings[key]["severity"] == "fail" and findings[key]["message"].startswith("6 x")
    assert findings[key]["sticky"] is True  # seen in new lines only: open until acknowledged
    own = group_key("own", "timeout after <N>s for id <N>")
    assert findings[own]["severity"] == "info" and "sticky" not in findings[own]
    assert findings["log:global:warnings"]["severity"] == "info"
    assert health.record_logs(config)[1].errors == 0  # the offsets were committed


def test_format_groups_shows_the_top_groups_of_each_level(tmp_path: Path) -> None:
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, first_scan: whole}\n")
    append(
        config.logs[0].path,
        *[f"{STAMP} ERROR timeout after {n}s" for n in range(3)],
        f"{STAMP} ERROR database is locked",
        f"{STAMP} WARNING disk slow",
    )
    table = health.format_groups(scan_log(config.logs[0], config.state_dir), top=1)
    assert table.splitlines() == [
        "app.log: 4 errors, 1 warnings",
        "  count  level    message",
        "      3  error    timeout after <N>s",
        "      1  warning  disk slow",
    ]


def test_unreadable_log_fails_its_check_and_the_others_still_run(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: directory, path: not-a-file}
          - {name: app, path: app.log, first_scan: whole}
        """,
    )
    (tmp_path / "not-a-file").mkdir()
    append(tmp_path / "app.log", "ERROR one")
    scans = health.record_logs(config)
    checks = recorded.checks()
    assert checks["log:directory"]["status"] == "fail"
    assert "is a directory: only regular files are read" in checks["log:directory"]["message"]
    assert checks["log:app"]["status"] == "warn" and scans[1].errors == 1


def test_disk_limit_of_a_mount_overrides_the_global_threshold(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_config(
        tmp_path,
        """
        mounts:
          - {path: ., limit: {warn: 0, fail: 100}}
          - {path: /}
          - {path: does-not-exist}
        thresholds:
          disk_percent: {warn: 100, fail: 100}
        """,
    )
    usages = health.record_disks(config)
    checks = recorded.checks()
    assert checks[f"disk:{tmp_path}"]["status"] == "warn"
    assert checks["disk:/"]["status"] == "ok"
    assert checks[f"disk:{tmp_path / 'does-not-exist'}"]["status"] == "fail"
    assert 0 < usages[0].percent < 100 and usages[0].free_bytes > 0


def test_system_usage_is_measured_and_graded(tmp_path: Path, recorded: Recorder) -> None:
    config = make_config(
        tmp_path,
        """
        thresholds:
          cpu_percent: {warn: 0, fail: 1000}
          memory_percent: {warn: 0, fail: 1000}
          load_per_cpu: {warn: 1000, fail: 2000}
        """,
    )
    usage = health.record_system(config, interval_s=0.1)
    assert 0 <= usage.cpu_percent <= 100 and 0 < usage.memory_percent < 100
    assert usage.cpus >= 1 and usage.load_per_cpu == round(usage.load_5 / usage.cpus, 3)
    statuses = {name: c["status"] for name, c in recorded.checks().items()}
    assert statuses == {"system:cpu": "warn", "system:memory": "warn", "system:load": "ok"}
    # The line people read names the value it was graded on, not only how it was sampled.
    cpu = recorded.checks()["system:cpu"]
    assert cpu["message"] == f"{usage.cpu_percent:.0f}% busy, sampled over 0.1 s"


def test_the_summary_says_in_one_line_how_the_system_looks(
    tmp_path: Path, demo_port: int, recorded: Recorder
) -> None:
    config = make_config(
        tmp_path,
        f"""
        services:
          - {{name: up, kind: http, url: "http://127.0.0.1:{demo_port}/health"}}
          - {{name: down, kind: tcp, host: 127.0.0.1, port: {demo.free_port()}}}
        logs:
          - {{name: app, path: app.log}}
          - {{name: gone, path: gone.log}}
        mounts:
          - {{path: .}}
        """,
    )
    (tmp_path / "app.log").touch()
    health.record_logs(config)  # the first scan, whatever it reads of a log seen for the first time
    append(tmp_path / "app.log", f"{STAMP} ERROR boom", f"{STAMP} ERROR boom again")
    health.record_summary(
        health.record_services(config),
        health.record_logs(config),
        health.record_disks(config),
        usage := health.record_system(config, interval_s=0.1),
    )
    [said] = recorded.summaries()
    disk = recorded.checks()[f"disk:{tmp_path}"]
    free = disk["message"].removesuffix(" free")
    assert said == (
        f"1 of 2 services up; 2 error lines in 1 logs (1 not read); "
        f"fullest disk {tmp_path} {disk['value']:.0f}% used, {free} free; "
        f"CPU {usage.cpu_percent:.0f}%, memory {usage.memory_percent:.0f}%, "
        f"load {usage.load_per_cpu:g} per CPU"
    )
    assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB|GiB|TiB)", free), free


# ---------------------------------------------------------------- the runbook


def test_committed_runbook_has_no_outputs_and_the_documented_metadata() -> None:
    nb = json.loads(RUNBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    meta = nb["metadata"]["upkeep"]
    assert (meta["cadence"], meta["category"], meta["destructive"]) == (
        "daily",
        "Health Checks",
        False,
    )
    assert meta["parameters"] == {"top_groups": {"min": 1, "max": 50}}


@pytest.mark.slow
def test_runbook_on_the_demo_warns_on_app_log_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    papermill = pytest.importorskip("papermill")
    port = demo.free_port()
    marker = f"upkeep.demo.health_server --host 127.0.0.1 --port {port}"  # this test's service only
    config = make_config(
        tmp_path,
        f"""
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health"}}
          - {{name: web-port, kind: tcp, host: 127.0.0.1, port: {port}}}
          - {{name: worker, kind: process, process: "{marker}"}}
        logs:
          - {{name: app, path: var/demo/logs/app.log, first_scan: whole}}
          - {{name: worker, path: var/demo/logs/worker.log, first_scan: whole}}
        mounts:
          - {{path: var/demo}}
        thresholds:
          cpu_percent: {{warn: 101, fail: 102}}
          load_per_cpu: {{warn: 1000, fail: 2000}}
        """,
    )
    demo.build_demo(config)
    monkeypatch.setenv("UPKEEP_CONFIG", str(config.path))
    with demo.DemoService(config):
        nb = papermill.execute_notebook(
            str(RUNBOOK),
            str(tmp_path / "out.ipynb"),
            cwd=str(tmp_path),
            kernel_name="python3",
            parameters={"top_groups": 3},
            progress_bar=False,
        )
    records = [
        o["data"][report.MIMETYPE]
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if report.MIMETYPE in o.get("data", {})
    ]
    statuses = {r["name"]: r["status"] for r in records if r["kind"] == "check"}
    assert statuses.pop("log:app") == "warn"
    assert statuses.pop("system:memory") in ("ok", "warn")  # the machine's, not the demo's
    assert set(statuses.values()) == {"ok"}, statuses
    assert {"service:web", "service:web-port", "service:worker", "log:worker"} <= set(statuses)
    app_groups = [
        r
        for r in records
        if r["kind"] == "finding"
        and r["key"].startswith("log:app:")
        and r["key"] != "log:app:warnings"
    ]
    assert len(app_groups) == demo.LOG_ERROR_GROUPS["app"]
    assert os.path.exists(tmp_path / "state" / "logscan")
    [summary] = [r["text"] for r in records if r["kind"] == report.SUMMARY]
    assert summary.startswith("3 of 3 services up; ")


# ---------------------------------------------------------------- what log lines leave behind

BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
SECRET_VALUES = ("4111111111111111", BEARER, "bob.jones@example.org", "hunter2", "203.0.113.9")


def test_findings_checks_and_the_printed_table_carry_no_secret_or_personal_data(
    tmp_path: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: app, path: app.log, first_scan: whole, mask_ip_addresses: true}
        """,
    )
    append(
        config.logs[0].path,
        f"{STAMP} ERROR charge failed card=4111111111111111 Authorization: Bearer {BEARER}",
        f"{STAMP} ERROR mail to bob.jones@example.org bounced from 203.0.113.9",
        f"{STAMP} WARNING retry password=hunter2 for bob.jones@example.org",
    )
    health.record_logs(config)
    shown = capsys.readouterr().out + json.dumps(recorded.records)
    for value in SECRET_VALUES:
        assert value not in shown
    findings = recorded.findings()
    messages = sorted(f["message"] for f in findings.values())
    assert messages == [
        "1 warning lines in 1 groups, most often: retry password=«password» for «email»",
        "1 x charge failed card=<N> Authorization: Bearer «bearer-token»"
        f" (last: {STAMP} ERROR charge failed card=«card» Authorization: Bearer «bearer-token»)",
        f"1 x mail to «email» bounced from <IP> (last: {STAMP} ERROR mail to «email»"
        " bounced from «ip»)",
    ]
    # The key is the masked template's: the same problem keeps its key whoever it concerned.
    assert group_key("app", "mail to «email» bounced from <IP>") in findings


def test_ip_addresses_stay_in_examples_unless_the_log_asks(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, first_scan: whole}\n")
    append(config.logs[0].path, "ERROR refused from 203.0.113.9")
    health.record_logs(config)
    [finding] = recorded.findings().values()
    assert finding["message"].endswith("(last: ERROR refused from 203.0.113.9)")


def test_mask_ip_addresses_must_be_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mask_ip_addresses.*true or false"):
        make_config(tmp_path, "logs:\n  - {name: app, path: a.log, mask_ip_addresses: often}\n")


def test_a_long_line_gives_a_finding_of_a_few_hundred_bytes_and_a_marked_table_row(
    tmp_path: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log, first_scan: whole}\n")
    words = " ".join(f"word{n % 10}" for n in range(200_000))  # 1.2 MB, no newline
    append(config.logs[0].path, f"{STAMP} ERROR request failed: {words}")
    health.record_logs(config)
    [finding] = recorded.findings().values()
    assert len(finding["message"].encode()) < 800
    assert finding["message"].endswith("…«cut: 1.1 MiB line»)")
    table = capsys.readouterr().out.splitlines()
    row = next(line for line in table if "request failed" in line)
    assert row.endswith("…") and len(row) <= 130


def test_a_fifo_as_a_log_fails_its_check_at_once(tmp_path: Path, recorded: Recorder) -> None:
    config = make_config(
        tmp_path,
        "logs:\n  - {name: pipe, path: pipe.log, first_scan: whole}\n"
        "  - {name: app, path: app.log, first_scan: whole}\n",
    )
    os.mkfifo(tmp_path / "pipe.log")
    append(tmp_path / "app.log", "ERROR one")
    done = threading.Event()
    worker = threading.Thread(target=lambda: (health.record_logs(config), done.set()), daemon=True)
    worker.start()
    if not done.wait(10):
        os.close(os.open(tmp_path / "pipe.log", os.O_WRONLY | os.O_NONBLOCK))  # unblock it
        pytest.fail("the health check waited on a FIFO")
    checks = recorded.checks()
    assert checks["log:pipe"]["status"] == "fail"
    assert checks["log:pipe"]["message"] == (
        f"{tmp_path / 'pipe.log'} is a FIFO: only regular files are read"
    )
    assert checks["log:app"]["status"] == "warn"


# ---------------------------------------------------------------- real logs


ACCESS = '10.1.2.3 - - [16/Nov/2026:02:15:00 +0000] "GET {path} HTTP/1.1" {status} 157 "-" "curl"'


def test_a_wildcard_path_checks_each_log_it_matches(tmp_path: Path, recorded: Recorder) -> None:
    # nginx's logs through one entry: 5xx in the access log, [error] in the error log, by group.
    config = make_config(
        tmp_path,
        r"""
        logs:
          - name: nginx
            path: nginx/*.log
            first_scan: whole
            error_patterns: ['" 5\d\d ', '\[(?:error|crit|alert|emerg)\]']
            warn_patterns: ['" 4\d\d ', '\[warn\]']
          - {name: gone, path: nowhere/*.log}
        """,
    )
    (tmp_path / "nginx").mkdir()
    append(
        tmp_path / "nginx/access.log",
        ACCESS.format(path="/health", status=502).replace("10.1.2.3", "127.0.0.1"),
        ACCESS.format(path="/api/orders/812", status=502),
        ACCESS.format(path="/api/orders/9", status=502),
        ACCESS.format(path="/api/orders/9", status=504),
        ACCESS.format(path="/api/orders/9", status=200),
        ACCESS.format(path="/nope", status=404),
    )
    append(tmp_path / "nginx/access.log.1", ACCESS.format(path="/old", status=500))
    append(
        tmp_path / "nginx/error.log",
        "2026/11/16 02:15:00 [error] 12#12: *5 connect() failed (111: Connection refused) while"
        ' connecting to upstream, client: 10.1.2.3, request: "GET /api/orders/9 HTTP/1.1"',
    )
    health.record_logs(config)
    checks = recorded.checks()
    assert checks["log:nginx:access.log"]["value"] == 4
    assert checks["log:nginx:error.log"]["value"] == 1
    assert checks["log:gone"]["status"] == "warn"
    assert checks["log:gone"]["message"] == f"no file matches {tmp_path}/nowhere/*.log"
    assert "log:nginx:access.log.1" not in checks  # a rotated copy, not a log of its own
    texts = [f["message"] for k, f in recorded.findings().items() if "access.log" in k]
    assert texts[:3] == [
        "2 x GET /api/orders/<N> 502 (last: "
        + ACCESS.format(path="/api/orders/9", status=502)
        + ")",
        "1 x GET /health 502 (last: "
        + ACCESS.format(path="/health", status=502).replace("10.1.2.3", "127.0.0.1")
        + ")",
        "1 x GET /api/orders/<N> 504 (last: "
        + ACCESS.format(path="/api/orders/9", status=504)
        + ")",
    ]


def test_the_check_says_where_a_first_scan_started_and_what_rotation_it_followed(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_config(tmp_path, "logs:\n  - {name: app, path: app.log}\n")
    append(config.logs[0].path, f"{STAMP} ERROR old news")
    health.record_logs(config)
    first = recorded.checks()["log:app"]
    assert (first["status"], first["value"]) == ("ok", 0)
    assert first["message"].endswith("(first scan: from the end: new lines only)")
    config.logs[0].path.rename(tmp_path / "app.log-20261116")
    append(config.logs[0].path, f"{STAMP} ERROR new")
    health.record_logs(config)
    second = recorded.checks()["log:app"]
    assert second["value"] == 1
    assert second["message"].endswith("(rotated since the last scan; 1 rotated copy read)")


def test_a_wildcard_folder_that_cannot_be_listed_fails_its_check(
    tmp_path: Path, recorded: Recorder
) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")  # listing it: too many levels of links
    config = make_config(
        tmp_path, "logs:\n  - {name: web, path: loop/*.log}\n  - {name: app, path: app.log}\n"
    )
    append(tmp_path / "app.log", "INFO fine")
    health.record_logs(config)
    checks = recorded.checks()
    assert checks["log:web"]["status"] == "fail"
    assert checks["log:web"]["message"].startswith(f"cannot list {tmp_path}/loop: ")
    assert checks["log:app"]["status"] == "ok"  # the others still run
