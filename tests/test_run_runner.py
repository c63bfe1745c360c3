"""End-to-end: many runs at once (the pool, a fresh kernel per run from the shared template,
Ctrl-C, a runner killed mid-run, a runbook that runs alone), driven through the real
`upkeep run` on real notebooks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.processes import pid_alive
from helpers.project import CHECK_OK, Project

pytestmark = pytest.mark.slow


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
    temp = project.root / "temp"  # the run's temp folder (TMPDIR)
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(cmd, cwd=project.root, start_new_session=True, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kernel = int(marker.read_text())
    deadline = time.monotonic() + 15  # the kernel notices its runner is gone and ends
    while pid_alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(kernel), "the kernel outlived its killed runner"
    assert len(project.run_dirs()) == 1  # only the earlier complete run
    # The kernel's connection file (its signing key) is in the run's staging folder, which the
    # next run removes, not left in the temp folder for good.
    assert list(temp.iterdir()) == []
    [staged] = (project.evidence / ".staging").iterdir()
    assert (staged / ".kernel-connection.json").is_file()
    assert project.upkeep("verify").code == 0
    assert project.upkeep("run", "after").code == 0
    assert len(project.run_dirs()) == 2
    assert project.upkeep("verify").code == 0
    assert not any((project.evidence / ".staging").iterdir())


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
        # Its start, what it did and where its evidence is: no stray notices.
        started, done, evidence = result.err.splitlines()
        assert started == "started introspect (run 1 of 1)"
        assert done.endswith(": 3 checks: 3 ok") and evidence.startswith("      evidence: ")
    metrics = [{m["name"]: m["value"] for m in r["metrics"]} for r in project.records()]
    assert len({m["pid"] for m in metrics}) == len(metrics) == 2
    for m in metrics:
        assert m["sid"] == m["pid"] and m["leftover"] == 0
        assert not pid_alive(int(m["pid"]))


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
        assert not pid_alive(int(pid.name)), "a kernel outlived Ctrl-C"
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


# Each records when its notebook ran (time.time() at its first and last cell); `burns` keeps a
# CPU busy, `measures` samples the CPU as the health check does.
WINDOW_START = (
    "code",
    "import time\nfrom upkeep import report\nreport.metric('began', time.time())",
)
WINDOW_END = ("code", "report.metric('ended', time.time())\nreport.check('ran', 'ok')")
BURNS = (
    "code",
    """
    import pathlib
    pathlib.Path({marker!r}).touch()
    deadline = time.monotonic() + {seconds}
    while time.monotonic() < deadline:
        pass
    """,
)
MEASURES = (
    "code",
    "import psutil\nreport.metric('cpu_percent', psutil.cpu_percent(interval=0.5), unit='%')",
)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_runbook_starts_after_the_runs_its_after_names(project: Project, jobs: str) -> None:
    """Backup verification after the backup: `after` holds a run back until the runs of the
    same `upkeep run` it names have ended (whatever their outcome); the others go on beside."""
    sleeps = ("code", "time.sleep(3)")
    fails = ("code", "report.check('broke', 'fail')")
    project.add_runbook("backs-up", [WINDOW_START, sleeps, fails, WINDOW_END])
    project.add_runbook("verifies", [WINDOW_START, WINDOW_END], meta={"after": ["backs-up"]})
    project.add_runbook("other", [WINDOW_START, WINDOW_END])
    result = project.upkeep("run", "verifies", "other", "backs-up", "--jobs", jobs, "--json")
    assert result.code == 1, result.text  # the check that failed
    outcomes = json.loads(result.out)
    assert [(o["runbook"], o["status"]) for o in outcomes] == [  # plan order, as always
        ("verifies", "ok"),
        ("other", "ok"),
        ("backs-up", "fail"),
    ]
    windows = _windows(project)
    assert windows["backs-up"][1] <= windows["verifies"][0], windows
    if jobs == "2":  # held back alone: the other run went on beside the one it waits for
        assert windows["other"][0] < windows["backs-up"][1], windows


def _windows(project: Project) -> dict[str, tuple[float, float]]:
    windows = {}
    for record in project.records():
        metrics = {m["name"]: m["value"] for m in record["metrics"]}
        if "began" in metrics:
            windows[record["runbook"]["name"]] = (metrics["began"], metrics["ended"])
    return windows


def _add_burner_and_measurers(
    project: Project, *measurers: str, burn_s: int = 3, **meta: object
) -> Path:
    marker = project.root / "burning"
    burns = ("code", BURNS[1].format(marker=str(marker), seconds=burn_s))
    project.add_runbook("a-burns", [WINDOW_START, burns, WINDOW_END])
    for name in measurers:
        cells = [WINDOW_START, MEASURES, WINDOW_END]
        project.add_runbook(name, cells, meta={"runs_alone": True, **meta.get(name, {})})
    return marker


def test_a_runbook_that_runs_alone_runs_first_and_beside_no_other(project: Project) -> None:
    _add_burner_and_measurers(project, "measures")
    result = project.upkeep("run", "--due", "--jobs", "2", "--json")
    assert result.code == 0, result.text
    # Outcomes in plan order; the one that runs alone ran first, and nothing ran beside it.
    assert [o["runbook"] for o in json.loads(result.out)] == ["a-burns", "measures"]
    windows = _windows(project)
    assert windows["measures"][1] < windows["a-burns"][0], windows


def test_a_runbook_that_runs_alone_waits_for_another_process_or_is_skipped(
    project: Project,
) -> None:
    """Runs of another `upkeep` are kept apart too: a runbook that runs alone waits for them,
    at most its timeout; one whose wait ran out is skipped, with the reason, and stays due."""
    # The burner burns 8 s from its marker: long enough that `upkeep run impatient` has started
    # (over 2 s on a loaded CI machine) and waited out its 1 s while the burner still runs.
    marker = _add_burner_and_measurers(
        project, "measures", "impatient", burn_s=8, impatient={"timeout_s": 1}
    )
    burner = subprocess.Popen(
        [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "a-burns"],
        cwd=project.root,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "a-burns did not start"
    result = project.upkeep("run", "impatient", "measures", "--json")
    assert burner.wait(timeout=60) == 0, burner.stderr.read() if burner.stderr else ""
    assert result.code == 0, result.text
    assert [(o["runbook"], o["status"]) for o in json.loads(result.out)] == [
        ("impatient", "skipped"),
        ("measures", "ok"),
    ]
    [skipped] = [r for r in project.records() if r["runbook"]["name"] == "impatient"]
    assert skipped["skipped_reason"] == (
        "could not run alone: other upkeep runs were still going after 1 s"
    )
    windows = _windows(project)
    assert windows["a-burns"][1] < windows["measures"][0], windows
    listing = {s["name"]: s for s in json.loads(project.upkeep("list", "--json").out)}
    assert listing["impatient"]["due"] and listing["impatient"]["last_status"] is None
