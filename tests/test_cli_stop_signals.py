"""SIGTERM and SIGHUP stop upkeep as Ctrl-C does: every child it started (mkdocs, the demo's
HTTP service, the kernel template and the kernels) is gone when upkeep has exited, and nothing
unfinished is published. Real processes: the real `upkeep` command, signalled by its pid alone
(as a service manager or a closing terminal does), never its process group."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from helpers.processes import BackgroundUpkeep, answers, background_upkeep
from helpers.project import CHECK_OK, Project

from upkeep import demo

pytestmark = pytest.mark.slow


def assert_stopped(upkeep: BackgroundUpkeep, signum: int, err: str, ran: bool = True) -> None:
    """Exit 128 + the signal, the one line saying so (of runs, when the command `ran` some),
    and nothing upkeep started left."""
    name = signal.Signals(signum).name
    assert upkeep.process.returncode == 128 + signum, err
    said = f"upkeep: stopped by {name}: unfinished runs were stopped and not published"
    assert said in err if ran else f"upkeep: stopped by {name}\n" in err, err
    assert "Traceback" not in err
    assert upkeep.still_running() == [], f"still running after upkeep was stopped by {name}"


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_site_serve_stops_mkdocs(project: Project, tmp_path: Path, signum: int) -> None:
    # The smallest site mkdocs serves: the command under test is upkeep's, not the site.
    (project.root / "mkdocs.yml").write_text("site_name: stop test\n")
    (project.root / "docs").mkdir()
    (project.root / "docs" / "index.md").write_text("# Home\n")
    address = f"127.0.0.1:{demo.free_port()}"
    temp = tmp_path / "temp"  # where mkdocs makes the folder it serves from (TMPDIR)
    temp.mkdir()
    serve = ("site", "serve", "--dev-addr", address)
    with background_upkeep(project, *serve, env={"TMPDIR": str(temp)}) as upkeep:
        upkeep.wait_for(lambda: answers(f"http://{address}/"), "the site answered")
        assert list(temp.glob("mkdocs_*")), "mkdocs served from no folder of its own"
        err = upkeep.signal(signum)
        assert any(
            "mkdocs" in command and " serve --config-file " in command
            for command in upkeep.started.values()
        )
        assert_stopped(upkeep, signum, err, ran=False)
        assert not answers(f"http://{address}/"), "the site still answers"
    # mkdocs removed the folder it served from (a plain SIGTERM left it in /tmp).
    assert list(temp.glob("mkdocs_*")) == []


SLEEPS = (
    "code",
    """
        import os, time
        from pathlib import Path
        from upkeep import state
        state.save(Path("state"), "sleeper-" + str(os.getpid()) + ".json", 1)
        Path("kernels", str(os.getpid())).touch()
        time.sleep(300)
    """,
)


@pytest.mark.parametrize(
    ("signum", "jobs", "fork"),
    [(signal.SIGTERM, "1", "1"), (signal.SIGHUP, "2", "1"), (signal.SIGTERM, "2", "0")],
    ids=["SIGTERM-one-job", "SIGHUP-two-jobs", "SIGTERM-launched-kernels"],
)
def test_run_stops_kernels_template_and_demo_service(
    make_project, signum: int, jobs: str, fork: str
) -> None:
    """Runs on the main thread (one job) or worker threads, kernels forked from the template
    or launched: none of them outlives upkeep, and no unfinished run is published."""
    port = demo.free_port()
    project: Project = make_project(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: state
        demo: {{root: var/demo, http_port: {port}}}
    """)
    kernels = project.root / "kernels"
    kernels.mkdir()
    project.add_runbook("sleeper-a", [CHECK_OK, SLEEPS])
    project.add_runbook("sleeper-b", [CHECK_OK, SLEEPS])
    names = ["sleeper-a"] if jobs == "1" else ["sleeper-a", "sleeper-b"]
    env = {"UPKEEP_FORK_KERNELS": fork}
    with background_upkeep(project, "run", "--jobs", jobs, *names, env=env) as upkeep:
        upkeep.wait_for(lambda: len(list(kernels.iterdir())) == len(names), "every kernel ran")
        err = upkeep.signal(signum)
        started = " | ".join(upkeep.started.values())
        assert "upkeep.demo.health_server" in started, started
        if fork == "1":
            assert "upkeep.run.kernel_template" in started, started
        assert {int(path.name) for path in kernels.iterdir()} <= set(upkeep.started)
        assert_stopped(upkeep, signum, err)
    assert not answers(f"http://127.0.0.1:{port}/health"), "the demo service still answers"
    assert project.run_dirs() == []  # nothing unfinished was published
    assert not any((project.evidence / ".staging").iterdir())
    assert not list((project.root / "state").rglob("*.json"))  # nor its state kept
    assert project.upkeep("verify").code == 0
