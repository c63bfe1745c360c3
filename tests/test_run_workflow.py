"""End-to-end: the steps of one run (lock, stage, execute, collect, seal, publish), driven
through the real `upkeep run` on real notebooks, papermill and real kernels."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers.processes import pid_alive
from helpers.project import CHECK_OK, Project
from helpers.tiny_fs import tiny_filesystem

pytestmark = pytest.mark.slow


def _cell_index(run_dir: Path, needle: str) -> int:
    """The index of the executed notebook's cell whose source holds `needle`."""
    nb = json.loads((run_dir / "notebook.ipynb").read_text())
    [index] = [i for i, cell in enumerate(nb["cells"]) if needle in "".join(cell["source"])]
    return index


def _error_heading(run_dir: Path) -> str:
    """The report's error heading as a reader sees it."""
    html = (run_dir / "report.html").read_text()
    [heading] = re.findall(r'<section id="error"[^>]*>\s*<h2>(.*?)</h2>', html, re.DOTALL)
    return re.sub(r"<[^>]+>", "", heading)


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
    temp = project.root / "temp"
    temp.mkdir()
    result = project.upkeep("run", "probe", env={"TMPDIR": str(temp)})
    assert result.code == 0, result.text
    # The kernel's connection file (its signing key) is neither sealed nor left behind.
    assert list(temp.iterdir()) == []
    [run_dir] = project.run_dirs()
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "notebook.ipynb",
        "report.html",
        "run.json",
    ]
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


def test_an_unknown_magic_after_a_check_is_an_error_in_its_cell(project: Project) -> None:
    """papermill fails such a run without an error output in the notebook: no false OK."""
    project.add_runbook(
        "magic", [CHECK_OK, ("code", "%undefined-line-magic"), ("code", "print('never')")]
    )
    result = project.upkeep("run", "magic")
    assert result.code == 3, result.text
    [record] = project.records()
    index = _cell_index(project.run_dirs()[0], "%undefined-line-magic")
    assert record["status"] == "error" and record["error"]["cell"] == index
    assert (
        "UsageError: Line magic function `%undefined-line-magic` not found."
        in (record["error"]["evalue"])
    )
    assert _error_heading(project.run_dirs()[0]).startswith(
        f"The run stopped with an error in cell {index} (In ["
    )


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "sys.exit()", "raise SystemExit"])
def test_a_clean_exit_before_any_check_names_the_cell_where_it_stopped(
    project: Project, exit_call: str
) -> None:
    project.add_runbook("early", [("code", f"import sys\n{exit_call}"), CHECK_OK])
    result = project.upkeep("run", "early")
    assert result.code == 3, result.text
    [record] = project.records()
    index = _cell_index(project.run_dirs()[0], exit_call)
    assert record["error"]["ename"] == "NoChecksRecorded" and record["error"]["cell"] == index
    assert "stopped early" in record["error"]["evalue"]
    assert _error_heading(project.run_dirs()[0]) == (
        f"The run stopped early in cell {index} (In [2]), before recording any check"
    )


def test_papermills_error_markers_from_an_earlier_run_are_dropped(project: Project) -> None:
    """A notebook saved after a failed papermill run carries papermill's marker cells; papermill
    drops them before it executes, and so does upkeep."""
    path = project.add_runbook("rerun", [("code", "print('fine now')"), CHECK_OK])
    nb = json.loads(path.read_text())
    marker = {"tags": ["papermill-error-cell-tag"]}
    nb["cells"][:0] = [
        {
            "cell_type": "markdown",
            "metadata": marker,
            "source": "<span>An Exception was encountered at 'In [1]'.</span>",
        }
    ]
    nb["cells"].insert(
        2,
        {
            "cell_type": "markdown",
            "metadata": marker,
            "source": '<span id="papermill-error-cell">Execution using papermill encountered '
            "an exception here and stopped:</span>",
        },
    )
    path.write_text(json.dumps(nb))
    result = project.upkeep("run", "rerun")
    assert result.code == 0, result.text
    run_dir = project.run_dirs()[0]
    for artifact in ("notebook.ipynb", "report.html"):
        text = (run_dir / artifact).read_text()
        assert "An Exception was encountered" not in text
        assert "papermill encountered an exception" not in text


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
    temp = project.root / "temp"
    temp.mkdir()
    started = time.monotonic()
    result = project.upkeep("run", "slow", env={"TMPDIR": str(temp)})
    assert result.code == 3, result.text
    assert time.monotonic() - started < 60
    assert list(temp.iterdir()) == []
    assert not list(project.run_dirs()[0].glob(".*"))
    [record] = project.records()
    assert record["status"] == "error" and record["error"]["ename"] == "Timeout"
    # The cell that was running is named, in the record and in the report.
    index = _cell_index(project.run_dirs()[0], "time.sleep(300)")
    assert record["error"]["cell"] == index
    assert _error_heading(project.run_dirs()[0]).startswith(
        f"The run stopped with an error in cell {index}"
    )
    for pid in map(int, pid_file.read_text().split()):
        assert not pid_alive(pid), f"process {pid} outlived the run"


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
    assert record["error"]["cell"] == _cell_index(project.run_dirs()[0], "signal.SIGKILL")
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
        report.cleared("leak:old", f"cleared, token was {value}")  # was not scrubbed
        report.summary(f"summary with {value}")  # nor was this
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


def test_a_secret_named_in_the_config_never_lands_in_evidence_or_output(project: Project) -> None:
    # A database password (and an alert URL) named in upkeep.yml, resolved and printed by a
    # runbook, reached run.json, the notebook, the report, the console and the site.
    password, url = "pw-canary-41d7e9b0", "json://hooks.example/tok-canary-5c2a"
    with project.config.open("a") as config:
        config.write(
            "databases:\n"
            "  - {name: app, engine: postgresql, dbname: app, user: u, password: env:APP_PW}\n"
            "alerts:\n  targets:\n    - {name: hook, url: env:HOOK_URL}\n"
        )
    project.add_runbook(
        "leaky",
        [
            (
                "code",
                """
        from upkeep import report, secrets
        from upkeep.config import load_config
        config = load_config()
        password = secrets.resolve(config.databases[0].password)
        url = secrets.resolve(config.alerts.targets[0].url)
        print("connecting with", password, "then telling", url)
        report.check("db", "ok", message=f"postgresql://u:{password}@db/app")
        report.summary(f"used {password}")
    """,
            )
        ],
    )
    result = project.upkeep("run", "leaky", env={"APP_PW": password, "HOOK_URL": url})
    assert result.code == 0, result.text
    assert project.upkeep("site", "build").code == 0
    written = [*project.evidence_files(), *(project.root / "site").rglob("*")]
    assert any(path.name == "notebook.ipynb" for path in written)
    for path in written:
        if path.is_file():
            data = path.read_bytes()
            assert password.encode() not in data and b"tok-canary" not in data, path
    assert password not in result.text and "tok-canary" not in result.text
    [record] = project.records()
    assert record["summary"] == "used «secret:env:APP_PW»"  # the summary was not scrubbed at all


def test_a_secret_file_rotated_during_the_run_leaves_neither_value(
    project: Project, tmp_path: Path
) -> None:
    # The scrubber resolved the reference after the run only: the value the kernel had read
    # (and printed) before a vault agent rotated the file stayed in the notebook and report.
    secret_file = tmp_path / "token"
    secret_file.write_text("OriginalValue41-rot\n")
    project.add_runbook(
        "rotating",
        [
            (
                "code",
                f"""
        from pathlib import Path
        from upkeep import report, secrets
        print("using", secrets.resolve(token))
        Path({str(secret_file)!r}).write_text("RotatedValue42-rot\\n")
        print("now", secrets.resolve(token))
        report.check("rotated", "ok")
    """,
            )
        ],
        params='token: str = ""  # API token',
        meta={"parameters": {"token": {"secret": True}}},
    )
    result = project.upkeep("run", "rotating", "-p", f"token=file:{secret_file}")
    assert result.code == 0, result.text
    for path in project.evidence_files():
        data = path.read_bytes()
        assert b"OriginalValue41" not in data and b"RotatedValue42" not in data, path
    notebook = (project.run_dirs()[0] / "notebook.ipynb").read_text()
    assert notebook.count(f"«secret:file:{secret_file}»") >= 2


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


# A runbook that counts its runs in its state, as the health check keeps its log positions.
COUNTS_ITS_RUNS = (
    "code",
    """
        import json
        from pathlib import Path
        from upkeep import report, state
        seen = Path("state/runs.json")
        count = json.loads(seen.read_text())["count"] + 1 if seen.exists() else 1
        state.save(Path("state"), "runs.json", {"count": count})
        report.check("counted", "ok", value=count, message=f"run {count}")
    """,
)


def test_state_is_committed_when_the_evidence_is_on_another_filesystem(project: Project) -> None:
    """A common layout: the evidence on a volume of its own. The state is staged beside the
    state directory, so committing it is a rename there, never across filesystems."""
    project.add_runbook("counter", [COUNTS_ITS_RUNS])
    with tiny_filesystem(project.evidence, "4m"):
        (project.root / "state").mkdir()
        assert project.evidence.stat().st_dev != (project.root / "state").stat().st_dev
        for expected in (1, 2):
            result = project.upkeep("run", "counter")
            assert result.code == 0, result.text
            assert "Invalid cross-device link" not in result.err
            assert project.records()[-1]["checks"][0]["value"] == expected  # the state held
        assert json.loads((project.root / "state" / "runs.json").read_text()) == {"count": 2}
        assert not any((project.root / "state" / ".pending").iterdir())
        assert not any((project.evidence / ".staging").iterdir())
        assert project.upkeep("verify").code == 0


def _fill(filesystem: Path, leave: int) -> Path:
    """Fill `filesystem` until only about `leave` bytes are free; return the filler file."""
    stats = os.statvfs(filesystem)
    filler = filesystem / "filler"
    filler.write_bytes(b"\0" * max(stats.f_bavail * stats.f_frsize - leave, 0))
    return filler


def test_a_full_disk_is_one_line_naming_the_path_and_nothing_half_written(
    project: Project,
) -> None:
    """A real full disk (a tiny tmpfs as the evidence volume): an error of the machine, not a
    bug of upkeep's, so one line naming the file and the errno, exit 3, and no run half-made."""
    project.add_runbook("writer", [CHECK_OK, ("code", "print('x' * 50_000)")])
    with tiny_filesystem(project.evidence, "1m"):
        filler = _fill(project.evidence, 16 * 1024)
        result = project.upkeep("run", "writer")
        assert result.code == 3, result.text
        [line] = [text for text in result.err.splitlines() if text.startswith("upkeep: ")]
        assert line.startswith(f"upkeep: error: {project.evidence}/")
        assert line.endswith(": No space left on device (errno 28, ENOSPC)"), line
        assert "Traceback" not in result.err and "internal error" not in result.err
        assert project.run_dirs() == [] and not any((project.evidence / ".staging").iterdir())
        assert not (project.evidence / "ledger.jsonl").exists()
        filler.unlink()  # space again: the next run goes through and all of it verifies
        assert project.upkeep("run", "writer").code == 0
        assert len(project.run_dirs()) == 1 and project.upkeep("verify").code == 0


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_everything_written_into_evidence_and_state_has_one_mode(
    project: Project, umask: int
) -> None:
    """The documented policy: files 0666 and folders 0777, less the umask, whoever wrote them
    (the report used to be 0600 beside a 0644 run.json)."""
    project.add_runbook("counter", [COUNTS_ITS_RUNS])
    result = project.upkeep("run", "counter", umask=umask)
    assert result.code == 0, result.text
    written = [
        path
        for top in (project.evidence, project.root / "state")
        for path in (top, *top.rglob("*"))
    ]
    names = {path.name for path in written}
    assert {"ledger.jsonl", "run.json", "report.html", "notebook.ipynb", "runs.json"} <= names
    modes = {
        path.relative_to(project.root).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in written
    }
    expected = {
        name: (0o777 if (project.root / name).is_dir() else 0o666) & ~umask for name in modes
    }
    assert {name: oct(mode) for name, mode in modes.items()} == {
        name: oct(mode) for name, mode in expected.items()
    }


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_the_recorded_runbook_version_is_the_one_that_ran(project: Project) -> None:
    """A runbook edited after `upkeep run` loaded it (here by the run before it) is recorded as
    the version that ran: its sha256 is the hash of the bytes executed, which hold the new cell,
    and git_dirty says they differ from the commit."""
    second = project.add_runbook("second", [("markdown", "## Old step"), CHECK_OK])
    edited = project.root / "edited.ipynb"
    project.add_runbook("second", [("code", "print('NEW-CELL-RAN')"), CHECK_OK])
    second.rename(edited)
    project.add_runbook("second", [("markdown", "## Old step"), CHECK_OK])
    swap = f"import os\nos.replace({str(edited)!r}, {str(second)!r})"
    project.add_runbook("first", [("code", swap), CHECK_OK])
    _git(project.root, "init", "-q")
    _git(project.root, "add", "runbooks")
    _git(project.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v1")
    result = project.upkeep("run", "-j", "1", "first", "second")
    assert result.code == 0, result.text
    records = {record["runbook"]["name"]: record for record in project.records()}
    ran = records["second"]["runbook"]
    assert ran["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    assert ran["git_dirty"] is True
    assert records["first"]["runbook"]["git_dirty"] is False
    [run_dir] = [d for d in project.run_dirs() if "-second-" in d.name]
    assert "NEW-CELL-RAN" in (run_dir / "notebook.ipynb").read_text()
