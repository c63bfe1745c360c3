"""End-to-end: the real `upkeep` CLI running real notebooks through papermill and real kernels."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

import psutil
import pytest
from conftest import CHECK_OK, Project

pytestmark = pytest.mark.slow


def test_run_records_checks_and_evidence_that_verifies(project: Project) -> None:
    project.add_runbook(
        "probe",
        [
            (
                "code",
                """
        from upkeep import report
        report.check("disk:/", "warn", value=87.1, limit=85, unit="%", message="filling")
        report.metric("disk_used_percent", 87.1, unit="%", labels={"mount": "/"})
        report.finding("orphans:orders", "12 orders reference missing customers")
    """,
            )
        ],
    )
    result = project.upkeep("run", "probe")
    assert result.code == 0, result.text
    [record] = project.records()
    assert record["status"] == "warn"
    assert record["checks"][0]["name"] == "disk:/" and record["checks"][0]["value"] == 87.1
    assert record["metrics"][0]["labels"] == {"mount": "/"}
    assert record["findings"][0]["key"] == "orphans:orders"
    assert set(record["artifacts"]) == {"notebook.ipynb", "report.html"}
    assert record["runbook"]["path"] == "runbooks/daily/probe.ipynb"
    verify = project.upkeep("verify")
    assert verify.code == 0 and "1 runs verified" in verify.out


def test_failed_check_exits_1(project: Project) -> None:
    project.add_runbook(
        "bad", [("code", "from upkeep import report\nreport.check('x', 'fail', message='broke')")]
    )
    result = project.upkeep("run", "bad")
    assert result.code == 1
    assert project.records()[0]["status"] == "fail"
    assert "fail: x: broke" in result.err  # the failing check is named in the output


def test_runbook_without_checks_is_an_error(project: Project) -> None:
    project.add_runbook("silent", [("code", "x = 1")])
    assert project.upkeep("run", "silent").code == 3
    [record] = project.records()
    assert record["status"] == "error" and record["error"]["ename"] == "NoChecksRecorded"


def test_raising_runbook_is_an_error_and_the_report_shows_the_cell(project: Project) -> None:
    project.add_runbook("boom", [CHECK_OK, ("code", "raise RuntimeError('database unreachable')")])
    result = project.upkeep("run", "boom")
    assert result.code == 3, result.text
    assert "RuntimeError: database unreachable" in result.err
    [record] = project.records()
    assert record["status"] == "error"
    assert record["error"]["ename"] == "RuntimeError"
    assert record["error"]["evalue"] == "database unreachable"
    html = (project.run_dirs()[0] / "report.html").read_text()
    assert "RuntimeError" in html and "database unreachable" in html
    assert (
        f"cell {record['error']['cell']}" in html.lower()
        or f"In [{record['error']['execution_count']}]" in html
    )


def test_timeout_ends_in_error_and_kills_the_kernel(project: Project) -> None:
    pid_file = project.root / "kernel.pid"
    project.add_runbook(
        "slow",
        [
            CHECK_OK,
            (
                "code",
                f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"])
        open({str(pid_file)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(300)
    """,
            ),
        ],
        meta={"timeout_s": 4},
    )
    started = time.monotonic()
    result = project.upkeep("run", "slow")
    assert result.code == 3, result.text
    assert time.monotonic() - started < 60
    [record] = project.records()
    assert record["status"] == "error" and record["error"]["ename"] == "Timeout"
    for pid in map(int, pid_file.read_text().split()):
        alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert not alive, f"process {pid} outlived the run"


def test_a_secret_that_matches_engine_fields_does_not_break_the_run(project: Project) -> None:
    """A secret such as a year also occurs in run ids and timestamps: those must stay exact."""
    year = str(time.gmtime().tm_year)
    project.add_runbook(
        "pin",
        [
            (
                "code",
                "from upkeep import report, secrets\n"
                "report.check('pin', 'ok', message=secrets.resolve(pin))",
            )
        ],
        params='pin: str = ""  # a PIN',
        meta={"parameters": {"pin": {"secret": True}}},
    )
    result = project.upkeep("run", "pin", "-p", "pin=env:UPKEEP_PIN", env={"UPKEEP_PIN": year})
    assert result.code == 0, result.text
    [record] = project.records()
    assert record["run_id"].startswith(year) and record["checks"][0]["message"] != year
    notebook = (project.run_dirs()[0] / "notebook.ipynb").read_text()
    assert year not in notebook
    assert project.upkeep("verify").code == 0


def test_a_kernel_that_dies_ends_the_run_in_error(project: Project) -> None:
    project.add_runbook(
        "crash", [CHECK_OK, ("code", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")]
    )
    result = project.upkeep("run", "crash")
    assert result.code == 3, result.text
    [record] = project.records()
    assert record["status"] == "error"
    assert record["error"]["ename"] == "DeadKernelError"
    assert record["checks"][0]["name"] == "always"  # what ran before the crash is kept
    assert project.upkeep("verify").code == 0


def test_secret_reference_never_lands_in_evidence_or_output(project: Project) -> None:
    canary = "canary-7f3a9c2e-DO-NOT-LEAK"
    project.add_runbook(
        "secretive",
        [
            (
                "code",
                """
        from upkeep import report, secrets
        import os
        value = secrets.resolve(token)
        print("token is", value)
        os.write(2, f"straight to fd 2: {value}\\n".encode())
        import sys, time
        sys.stdout.write(value[:9]); sys.stdout.flush(); time.sleep(0.3)
        sys.stdout.write(value[9:] + "\\n"); sys.stdout.flush()
        report.check("token-length", "ok", value=len(value), message=f"got {value}")
        raise ValueError(f"failed with {value}")
    """,
            )
        ],
        params='token: str = ""  # API token',
        meta={"parameters": {"token": {"secret": True}}},
    )
    result = project.upkeep(
        "run", "secretive", "-p", "token=env:UPKEEP_TEST_TOKEN", env={"UPKEEP_TEST_TOKEN": canary}
    )
    assert result.code == 3, result.text
    files = project.evidence_files()
    assert any(f.name == "notebook.ipynb" for f in files)
    for path in files:
        assert canary.encode() not in path.read_bytes(), f"secret leaked into {path}"
    assert canary not in result.text
    kernel_log = (project.run_dirs()[0] / "kernel.log").read_text()
    assert "straight to fd 2: «secret:env:UPKEEP_TEST_TOKEN»" in kernel_log
    record = project.records()[0]
    assert record["parameters"]["token"] == "env:UPKEEP_TEST_TOKEN"
    assert record["checks"][0]["value"] == len(canary)  # the kernel did resolve it


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "typed", "-p", "nope=1"], "unknown parameter 'nope'"),
        (["run", "typed", "-p", "count=abc"], "parameter count: expected an integer, got 'abc'"),
        (["run", "typed", "-p", "count=99"], "parameter count: expected a value <= 10"),
        (["run", "typed", "-p", "mode=loud"], "parameter mode: expected one of quiet, verbose"),
        (["run", "typed", "-p", "token=hunter2"], "parameter token: is secret"),
        (["run", "missing-one"], "no runbook named 'missing-one'"),
        (["run", "typed", "-p", "count"], "expected KEY=VALUE"),
        (["run", "typed", "-p", "token:hunter2"], "expected KEY=VALUE"),
        (["run", "typed", "-p", "token=env:UNSET_IN_THIS_TEST"], "environment variable is not set"),
        (["run", "typed", "-p", "count=1", "--jobs", "0"], "Invalid value for '--jobs'"),
        (["run", "--due", "--at", "yesterday"], "expected an ISO time"),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(
    project: Project, args: list[str], expected: str
) -> None:
    project.add_runbook(
        "typed",
        [CHECK_OK],
        params="""
        count: int = 3  # how many
        mode: str = "quiet"  # output mode
        token: str = "env:TOKEN"  # API token
    """,
        meta={
            "parameters": {
                "count": {"min": 1, "max": 10},
                "mode": {"choices": ["quiet", "verbose"]},
                "token": {"secret": True},
            }
        },
    )
    result = project.upkeep(*args, env={"TOKEN": "a-token-that-resolves"})
    assert result.code == 2, result.text
    assert expected in result.err
    assert "Traceback" not in result.text
    assert "hunter2" not in result.text  # a mistyped secret is not echoed
    assert not project.evidence.exists()


def test_broken_config_exits_2_naming_the_key(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text(
        project.config.read_text() + "thresholds:\n  disk_percent: {warn: x}\n"
    )
    result = project.upkeep("run", "fine")
    assert result.code == 2
    assert "thresholds.disk_percent.warn: expected a number, got 'x'" in result.err
    assert str(project.config) in result.err
    assert not project.evidence.exists()


def test_invalid_runbook_metadata_is_named(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.add_runbook("broken", [CHECK_OK], meta={"cadence": "fortnightly"})
    result = project.upkeep("list")
    assert result.code == 2
    assert "runbook broken" in result.err and "cadence" in result.err


def test_list_and_show(project: Project) -> None:
    project.add_runbook("alpha", [CHECK_OK], params="limit: float = 2.5  # the limit")
    project.add_runbook("beta", [CHECK_OK], cadence="weekly")
    listing = json.loads(project.upkeep("list", "--json").out)
    assert [(r["name"], r["cadence"], r["last_status"], r["due"]) for r in listing] == [
        ("alpha", "daily", None, True),
        ("beta", "weekly", None, True),
    ]
    shown = project.upkeep("show", "alpha")
    assert shown.code == 0
    assert "limit: float = 2.5" in shown.out and "the limit" in shown.out


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.handlers += [name for name, _ in attrs if name.lower().startswith("on")]


def test_hostile_output_renders_as_inert_text(project: Project) -> None:
    project.add_runbook(
        "hostile",
        [
            CHECK_OK,
            (
                "code",
                """
        from IPython.display import HTML, display
        payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
        print(payload)
        display(HTML(payload))
    """,
            ),
        ],
    )
    assert project.upkeep("run", "hostile").code == 0
    html = (project.run_dirs()[0] / "report.html").read_text()
    tags = _Tags()
    tags.feed(html)
    assert tags.scripts == 0 and tags.handlers == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text


def test_two_concurrent_runs_of_one_runbook(project: Project) -> None:
    project.add_runbook("long", [CHECK_OK, ("code", "import time; time.sleep(6)")])
    cmd = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "long"]
    first = subprocess.Popen(cmd, cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lock = project.root / "state" / "locks" / "long.lock"
    deadline = time.monotonic() + 30
    while not _locked(lock) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = project.upkeep("run", "long")
    first.communicate(timeout=120)
    assert first.returncode == 0 and second.code == 0
    statuses = sorted(r["status"] for r in project.records())
    assert statuses == ["ok", "skipped"]
    skipped = next(r for r in project.records() if r["status"] == "skipped")
    assert "locked" in skipped["skipped_reason"]
    assert project.upkeep("verify").code == 0


def _locked(lock) -> bool:
    import filelock

    if not lock.exists():
        return False
    probe = filelock.FileLock(lock)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    return False


def test_sigkill_mid_run_leaves_no_partial_run(project: Project) -> None:
    marker = project.root / "started"
    project.add_runbook(
        "victim",
        [
            CHECK_OK,
            (
                "code",
                f"""
        import os, time
        open({str(marker)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """,
            ),
        ],
    )
    project.add_runbook("after", [CHECK_OK])
    assert project.upkeep("run", "after").code == 0
    cmd = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "victim"]
    proc = subprocess.Popen(cmd, cwd=project.root, start_new_session=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kernel = int(marker.read_text())
    deadline = time.monotonic() + 15  # the kernel notices its runner is gone and ends
    while _alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(kernel), "the kernel outlived its killed runner"
    assert len(project.run_dirs()) == 1  # only the earlier complete run
    assert project.upkeep("verify").code == 0
    assert project.upkeep("run", "after").code == 0
    assert len(project.run_dirs()) == 2
    assert project.upkeep("verify").code == 0
    assert not any((project.evidence / ".staging").iterdir())


def _alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("fork", ["1", "0"])
def test_each_run_gets_a_fresh_kernel_of_its_own(project: Project, fork: str) -> None:
    """Forked from the template or launched, a kernel is its own session, in the project
    directory, with the runner's environment, and shares nothing with the previous run's."""
    project.add_runbook(
        "introspect",
        [
            (
                "code",
                """
        import os
        from upkeep import report
        report.metric("pid", os.getpid())
        report.metric("sid", os.getsid(0))
        report.metric("leftover", int("LEFTOVER" in globals()))
        report.check("cwd", "ok" if os.getcwd() == os.environ["EXPECTED_CWD"] else "fail",
                     message=os.getcwd())
        report.check("config", "ok" if os.environ["UPKEEP_CONFIG"] == os.environ["EXPECTED_CONFIG"]
                     else "fail", message=os.environ["UPKEEP_CONFIG"])
        import sys
        report.check("path", "fail" if os.environ["EXPECTED_CWD"] in sys.path else "ok",
                     message="the starting directory must not shadow modules")
        LEFTOVER = True
    """,
            )
        ],
    )
    env = {
        "UPKEEP_FORK_KERNELS": fork,
        "EXPECTED_CWD": str(project.root),
        "EXPECTED_CONFIG": str(project.config),
    }
    for _ in range(2):
        result = project.upkeep("run", "introspect", env=env)
        assert result.code == 0, result.text
        assert result.err.count("\n") == 1, result.err  # one status line, no stray notices
    metrics = [{m["name"]: m["value"] for m in r["metrics"]} for r in project.records()]
    assert len({m["pid"] for m in metrics}) == len(metrics) == 2
    for m in metrics:
        assert m["sid"] == m["pid"] and m["leftover"] == 0
        assert not _alive(int(m["pid"]))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_kernels_and_publishes_nothing_unfinished(project: Project, jobs: str) -> None:
    pids = project.root / "pids"
    pids.mkdir()
    saves = ("code", "from upkeep import state\nstate.save(Path('state'), 'seen.json', 1)")
    sleeper = (
        "code",
        f"""
        import os, time
        from pathlib import Path
        from upkeep import state
        state.save(Path("state"), "sleepy-" + str(os.getpid()) + ".json", 1)
        open(os.path.join({str(pids)!r}, str(os.getpid())), "w").close()
        time.sleep(120)
    """,
    )
    project.add_runbook("quick", [CHECK_OK, ("code", "from pathlib import Path"), saves])
    project.add_runbook("sleepy-a", [CHECK_OK, sleeper])
    project.add_runbook("sleepy-b", [CHECK_OK, sleeper])
    cmd = [
        sys.executable,
        "-m",
        "upkeep.cli",
        "--config",
        str(project.config),
        "run",
        "--jobs",
        jobs,
        "quick",
        "sleepy-a",
        "sleepy-b",
    ]
    proc = subprocess.Popen(cmd, cwd=project.root, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (any(pids.iterdir()) and project.run_dirs()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not (any(pids.iterdir()) and project.run_dirs()):
        proc.kill()
        pytest.fail(f"the runs did not get going within 60 s: {proc.communicate()[1]}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert [r["runbook"]["name"] for r in project.records()] == ["quick"]  # finished: published
    assert not any((project.evidence / ".staging").iterdir())
    # The published run's state was committed; the interrupted runs' state was dropped.
    assert sorted(p.name for p in (project.root / "state").glob("*.json")) == ["seen.json"]
    for pid in pids.iterdir():
        assert not _alive(int(pid.name)), "a kernel outlived Ctrl-C"
    assert project.upkeep("verify").code == 0


def test_parallel_jobs_run_every_runbook(project: Project) -> None:
    for name in ("one", "two", "three"):
        project.add_runbook(name, [CHECK_OK])
    result = project.upkeep("run", "one", "two", "three", "--jobs", "3", "--json")
    assert result.code == 0, result.text
    outcomes = json.loads(result.out)
    assert sorted(o["runbook"] for o in outcomes) == ["one", "three", "two"]
    ledger = (project.evidence / "ledger.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in ledger] == [1, 2, 3]


def test_a_reader_that_goes_away_is_not_an_error(project: Project) -> None:
    # `upkeep show NAME | head -1`: the pipe closes early; no traceback, no "internal error".
    project.add_runbook("x", [CHECK_OK])
    reader = subprocess.run(
        f"{sys.executable} -m upkeep.cli --config {project.config} list | head -c 1",
        shell=True,
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = subprocess.run(
        f"{sys.executable} -m upkeep.cli --config {project.config} show x "
        "| python3 -c 'import sys; sys.stdin.read(1)'",
        shell=True,
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for done in (reader, result):
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
