"""Tests for upkeep.procedures.health: real log files, real sockets, real processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Recorder
from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep import demo, report
from upkeep.config import Config, LogSource, load_config
from upkeep.procedures import health

REPO = Path(__file__).resolve().parent.parent
RUNBOOK = REPO / "runbooks/daily/health-check.ipynb"
STAMP = "2026-11-16 02:15:00,123"


def make_config(tmp_path: Path, body: str = "") -> Config:
    path = tmp_path / "upkeep.yml"
    path.write_text("version: 1\nstate_dir: state\n" + textwrap.dedent(body))
    return load_config(path)


def log_source(tmp_path: Path, name: str = "app") -> LogSource:
    config = make_config(tmp_path, f"logs:\n  - name: {name}\n    path: {name}.log\n")
    return config.logs[0]


def append(path: Path, *lines: str, end: str = "\n") -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + end)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(health, "report", recorder)
    return recorder


# ---------------------------------------------------------------- masking and grouping


def test_mask_merges_lines_that_differ_only_in_numbers() -> None:
    a = health.mask_message(f"{STAMP} ERROR   [web] timeout after 31s for id 812")
    b = health.mask_message("2026-11-17T08:00:01.5Z ERROR timeout after 32s for id 9")
    assert a == "[web] timeout after <N>s for id <N>"
    assert b == "timeout after <N>s for id <N>"


def test_mask_hides_ids_addresses_and_quoted_values() -> None:
    line = (
        "WARNING request 6a48e215-b407-feb4-dc7b-0428c22369ed from 10.0.3.17:443"
        " token c198f0b3ec user 'bob' said \"hi 2\""
    )
    assert health.mask_message(line) == "request <UUID> from <IP> token <HEX> user <STR> said <STR>"
    assert health.mask_message("can't open 3 files") == "can't open <N> files"


MASK_PIECES = st.sampled_from(
    [
        *("ab12cd", "9F8A7B6C", "facade1", "decade", "123456", "0x1f", "12", "1.5", "10.0.0.1"),
        *("6a48e215-b407-feb4-dc7b-0428c22369ed", "ERROR", "Abc", "g", "_", "é", "\\"),
        *(" ", ":", "-", ".", "'", '"', "=", "(", ")", "/", ",", "<", "#"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(MASK_PIECES, max_size=12).map("".join), max_size=20),
    st.permutations("abcdef").map("".join),
)
def test_cached_templates_are_what_masking_each_line_gives(lines: list[str], swap: str) -> None:
    # One tally for all lines, each also with its hex letters swapped around and turned into
    # digits: a cache key shared by two lines that mask differently fails here.
    letters = str.maketrans("abcdefABCDEF", swap + swap.upper())
    digits = str.maketrans("abcdefABCDEF", "123456123456")
    tally = health._Tally()
    variants = [line.translate(letters) for line in lines] + [x.translate(digits) for x in lines]
    for line in lines + variants:
        assert tally.template(line.encode("utf-8")) == health.mask_message(line), line


def test_scan_groups_like_messages_and_keeps_unlike_apart(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    append(
        log.path,
        f"{STAMP} ERROR [web] timeout after 31s for id 812",
        f"{STAMP} INFO  [web] GET /orders 200",
        f"{STAMP} ERROR [web] database is locked",
        f"{STAMP} ERROR [web] timeout after 32s for id 9",
        f"{STAMP} WARNING [web] slow query took 1200ms",
    )
    scan = health.scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (3, 1)
    timeout, locked = scan.error_groups
    assert (timeout.template, timeout.count) == ("[web] timeout after <N>s for id <N>", 2)
    assert timeout.first.endswith("31s for id 812") and timeout.last.endswith("32s for id 9")
    assert (locked.template, locked.count) == ("[web] database is locked", 1)
    assert scan.warning_groups[0].template == "[web] slow query took <N>ms"


def test_a_line_matching_error_and_warning_counts_once_as_error(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    append(log.path, "WARNING escalated to ERROR", "ERRORS=0 WARNINGS=0 (no word match)")
    scan = health.scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (1, 0)


def test_patterns_without_a_literal_and_case_insensitive_ones_work(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        r"""
        logs:
          - name: custom
            path: custom.log
            error_patterns: ['(?i)oops', '\d{3} failed', '^E\d+']
            warn_patterns: []
        """,
    )
    log = config.logs[0]
    append(
        log.path,
        "Oops one",
        "all OOPS",
        "500 failed",
        "50 failed",
        "E12 at start",
        "not E12 at start",
        "fine",
    )
    scan = health.scan_log(log, tmp_path / "state")
    assert scan.errors == 4
    assert scan.warnings == 0


LINES = st.lists(
    st.sampled_from(
        ["ERROR", "ERR", "WARN", "WARNING", "FATAL", "CRIT", " ", "x", "7", "_", ":", "\r", "é"]
    ),
    max_size=12,
).map("".join)


PATTERN_SETS = st.sampled_from(
    [
        (LogSource.error_patterns, LogSource.warn_patterns),  # literal search
        ((r"(?i)err\b", r"7:"), (r"WARN",)),  # decoded-text search: (?i) has no literal
        # each line searched from its first literal: `^`, groups, alternatives
        ((r"^ERR", r"(?:WARN|ERR)OR\b"), (r"\bWARN(?:ING)?:?", r"x7_")),
    ]
)


@settings(max_examples=80, deadline=None)
@given(st.lists(LINES, max_size=40), st.sampled_from([16, 64, 1 << 20]), PATTERN_SETS)
def test_scan_counts_what_a_line_by_line_regex_counts(
    lines: list[str], chunk: int, patterns: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = LogSource("p", Path(tmp) / "p.log", *patterns)
        log.path.write_text("".join(line + "\n" for line in lines), newline="")
        scan = health.scan_log(log, Path(tmp) / "state", chunk_size=chunk)
    is_error = [any(re.search(p, line) for p in log.error_patterns) for line in lines]
    is_warn = [
        not e and any(re.search(p, line) for p in log.warn_patterns)
        for line, e in zip(lines, is_error, strict=True)
    ]
    assert (scan.errors, scan.warnings) == (sum(is_error), sum(is_warn))


# ---------------------------------------------------------------- reading only what is new


def test_second_scan_sees_only_appended_lines(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, f"{STAMP} ERROR first", f"{STAMP} ERROR second")
    first = health.scan_log(log, state)
    assert first.first_scan and first.errors == 2
    append(log.path, f"{STAMP} ERROR third")
    second = health.scan_log(log, state)
    assert not second.first_scan
    assert second.errors == 1 and second.error_groups[0].first.endswith("third")
    assert health.scan_log(log, state).errors == 0


def test_position_is_kept_in_a_state_file(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    health.scan_log(log, state)
    (saved,) = (state / "logscan").glob("app-*.json")
    data = json.loads(saved.read_text())
    stat = log.path.stat()
    assert (data["device"], data["inode"], data["offset"]) == (stat.st_dev, stat.st_ino, 10)
    assert data["fingerprint_len"] == 10 and len(data["fingerprint"]) == 64


def test_commit_false_leaves_the_position_alone(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one")
    assert health.scan_log(log, state, commit=False).errors == 1
    assert not (state / "logscan").exists()
    assert health.scan_log(log, state).errors == 1
    assert health.scan_log(log, state, commit=False).errors == 0


def test_half_written_last_line_waits_until_complete(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR whole", "ERROR half", end="")
    scan = health.scan_log(log, state)
    assert scan.errors == 1 and scan.offset == len("ERROR whole\n")
    append(log.path, " now done")
    scan = health.scan_log(log, state)
    assert scan.errors == 1 and scan.error_groups[0].first == "ERROR half now done"
    assert health.scan_log(log, state).errors == 0


def test_rotation_reads_rotated_tail_then_new_file_without_double_counting(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR one", "ERROR two")
    assert health.scan_log(log, state).errors == 2
    append(log.path, "ERROR three, written before the rotation")
    log.path.rename(log.path.with_name("app.log.1"))
    append(log.path, "ERROR four", "INFO five", "ERROR six")
    scan = health.scan_log(log, state)
    assert scan.rotated and not scan.truncated
    assert scan.errors == 3
    assert [g.first for g in scan.error_groups] == [
        "ERROR three, written before the rotation",
        "ERROR four",
        "ERROR six",
    ]
    assert health.scan_log(log, state).errors == 0


def test_rotation_without_a_rotated_file_reads_the_new_file_from_the_start(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR old")
    health.scan_log(log, state)
    log.path.unlink()
    append(log.path, "ERROR new one", "ERROR new two")
    scan = health.scan_log(log, state)
    # The new file may reuse the old inode: then it is recognised by its first bytes instead.
    assert (scan.rotated or scan.truncated) and scan.errors == 2


def test_copytruncate_reads_the_copy_tail_then_the_truncated_file(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, "ERROR before the first scan")
    health.scan_log(log, state)
    append(log.path, "ERROR unread when copied")
    shutil.copyfile(log.path, log.path.with_name("app.log.1"))
    with log.path.open("r+") as handle:
        handle.truncate(0)
    append(log.path, "ERROR after truncation")
    scan = health.scan_log(log, state)
    assert scan.truncated and not scan.rotated
    assert sorted(g.first for g in scan.error_groups) == [
        "ERROR after truncation",
        "ERROR unread when copied",
    ]


def test_truncation_restarts_from_the_beginning(tmp_path: Path) -> None:
    log, state = log_source(tmp_path), tmp_path / "state"
    append(log.path, *[f"ERROR line {n}" for n in range(20)])
    health.scan_log(log, state)
    log.path.write_text("ERROR fresh\n")
    scan = health.scan_log(log, state)
    assert scan.truncated and scan.errors == 1 and scan.offset == len("ERROR fresh\n")


def test_lines_full_of_the_literals_letters_are_still_counted_exactly(tmp_path: Path) -> None:
    # Every byte of "ERROR" and "WARN" is common here, so the rare-byte search gives up midway.
    log = log_source(tmp_path)
    noise = "ERR OR EROR WAR ARN RRRR EEEE OOOO WWWW NNNN AAAA"
    append(log.path, *[f"{noise} {n}" + (" ERROR" if n % 10 == 0 else "") for n in range(5000)])
    scan = health.scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (500, 0)


def test_a_pivot_byte_rare_in_the_sample_but_not_later_still_counts_exactly(
    tmp_path: Path,
) -> None:
    # No "A" in the first lines, so "WARN", "FATAL" and "CRITICAL" are looked for through
    # their "A"; later "A"s abound, so that search gives up midway and finds them another way.
    log = log_source(tmp_path)
    quiet = [f"{STAMP} INFO ok {n}" for n in range(400)]
    loud = [
        "AAAA BANANA " + ("WARN x" if n % 3 == 0 else "FATAL" if n % 3 == 1 else "CRITICALLY")
        for n in range(3000)
    ]
    append(log.path, *quiet, *loud)
    scan = health.scan_log(log, tmp_path / "state")
    assert (scan.errors, scan.warnings) == (1000, 1000)


BATCHES = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["error", "warning"]),
            st.sampled_from(["a 1", "a 22", "b 1", "c x", "d 0x1f", "e ab12cd", "f", "é 3"]),
        ),
        max_size=12,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(BATCHES)
def test_tallying_in_batches_equals_tallying_line_by_line(
    batches: list[list[tuple[str, str]]],
) -> None:
    # MAX_GROUPS shrunk so that batches overflow into OTHER_MESSAGES too.
    original = health.MAX_GROUPS
    health.MAX_GROUPS = 3
    try:
        one, many = health._Tally(), health._Tally()
        for batch in batches:
            for severity, line in batch:
                one.add(severity, line.encode("utf-8"))
            for severity in ("error", "warning"):
                many.add_many(
                    severity, [line.encode("utf-8") for sev, line in batch if sev == severity]
                )
    finally:
        health.MAX_GROUPS = original
    assert many.counts == one.counts
    for severity in ("error", "warning"):
        assert list(many.groups[severity].items()) == list(one.groups[severity].items())


def test_small_chunks_and_overlong_lines_give_the_same_answer(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    lines = [
        f"{STAMP} {'ERROR' if n % 7 == 0 else 'INFO'} item {n} " + "x" * (n % 50)
        for n in range(500)
    ]
    lines.append("ERROR " + "y" * 5000)  # longer than a chunk
    append(log.path, *lines)
    big = health.scan_log(log, tmp_path / "a", commit=False)
    small = health.scan_log(log, tmp_path / "b", chunk_size=64, commit=False)
    assert big.errors == small.errors == 73
    assert big.error_groups == small.error_groups
    assert big.bytes_scanned == small.bytes_scanned == log.path.stat().st_size


def test_missing_log_is_reported_not_raised(tmp_path: Path) -> None:
    scan = health.scan_log(log_source(tmp_path), tmp_path / "state")
    assert scan.missing and scan.errors == 0


# ---------------------------------------------------------------- a service to probe


@pytest.fixture(scope="module")
def demo_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("svc")
    port = demo.free_port()
    (root / "upkeep.yml").write_text(f"version: 1\ndemo:\n  root: d\n  http_port: {port}\n")
    with demo.DemoService(load_config(root / "upkeep.yml")):
        yield port


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
          - {name: own, path: own.log, errors: {warn: 10, fail: 20}}
          - {name: global, path: global.log}
          - {name: absent, path: absent.log}
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
    key = health.group_key("global", "timeout after <N>s for id <N>")
    assert findings[key]["severity"] == "fail" and findings[key]["message"].startswith("6 x")
    assert findings["log:global:warnings"]["severity"] == "info"
    assert health.record_logs(config)[1].errors == 0  # the offsets were committed


def test_unreadable_log_fails_its_check_and_the_others_still_run(
    tmp_path: Path, recorded: Recorder
) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: directory, path: not-a-file}
          - {name: app, path: app.log}
        """,
    )
    (tmp_path / "not-a-file").mkdir()
    append(tmp_path / "app.log", "ERROR one")
    scans = health.record_logs(config)
    checks = recorded.checks()
    assert checks["log:directory"]["status"] == "fail"
    assert checks["log:app"]["status"] == "warn" and [s.name for s in scans] == ["app"]


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
    marker = f"upkeep.demo_service --host 127.0.0.1 --port {port}"  # this test's service only
    config = make_config(
        tmp_path,
        f"""
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health"}}
          - {{name: web-port, kind: tcp, host: 127.0.0.1, port: {port}}}
          - {{name: worker, kind: process, process: "{marker}"}}
        logs:
          - {{name: app, path: var/demo/logs/app.log}}
          - {{name: worker, path: var/demo/logs/worker.log}}
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
