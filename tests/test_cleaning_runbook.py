"""End-to-end: the real cleaning runbook, run by the real CLI, against a freshly built demo."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep import demo

pytestmark = pytest.mark.slow
OLD = time.time() - 400 * 86400


@pytest.fixture
def demo_project(tmp_path: Path) -> Project:
    """The shipped cleaning runbook, a demo system of its own, and the shipped cleanup policy."""
    (tmp_path / "runbooks" / "daily").mkdir(parents=True)
    shutil.copy(REPO / "runbooks" / "daily" / "cleaning.ipynb", tmp_path / "runbooks" / "daily")
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {{root: var/demo, http_port: {demo.free_port()}}}
        logs:
          - name: app
            path: var/demo/logs/app.log
            rotate: {{max_bytes: 65536, keep: 5, method: copytruncate}}
        cleanup:
          temp_roots:
            - {{path: var/demo/tmp, max_age_days: 7}}
          cache_roots:
            - {{path: var/demo/cache, max_age_days: 30, max_bytes: 204800}}
          protect: ["*.keep", ".gitkeep"]
        """)
    )
    project = Project(tmp_path)
    assert project.upkeep("demo").code == 0
    return project


def aged(path: Path) -> Path:
    os.utime(path, (OLD, OLD), follow_symlinks=False)
    return path


def snapshot(root: Path) -> dict[str, tuple[int, float]]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(Path(dirpath, name))
            found[str(Path(dirpath, name).relative_to(root))] = (st.st_size, st.st_mtime)
    return found


def listed(run_dir: Path) -> list[tuple[str, str]]:
    """(kind, path) of every entry the run's notebook listed as removed or would remove."""
    notebook = json.loads((run_dir / "notebook.ipynb").read_text())
    lines = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout":
                lines += "".join(output["text"]).splitlines()
    entries = []
    for line in lines:
        words = line.split()
        if words[:1] == ["removed"]:
            entries.append((words[1], words[-1]))
        elif words[:2] == ["would", "remove"]:
            entries.append((words[2], words[-1]))
    return entries


def test_cleaning_on_the_demo_dry_run_then_for_real(demo_project: Project, tmp_path: Path) -> None:
    project = demo_project
    var = project.root / "var"
    tmp, cache = var / "demo" / "tmp", var / "demo" / "cache"
    precious = tmp_path / "precious"
    precious.mkdir()
    aged(Path(shutil.copy(project.config, precious / "secret.yml")))
    aged(precious)
    (tmp / "uploads" / "escape").symlink_to(precious)
    aged(tmp / "uploads" / "escape")
    aged(Path(shutil.copy(project.config, tmp / "lock.keep")))
    before = snapshot(var / "demo")
    app_log = (var / "demo" / "logs" / "app.log").read_bytes()

    dry = project.upkeep("run", "cleaning", "-p", "dry_run=yes")
    assert dry.code == 0, dry.text
    assert snapshot(var / "demo") == before  # the dry run changed nothing, not even the log
    assert (var / "demo" / "logs" / "app.log").read_bytes() == app_log
    [dry_dir] = project.run_dirs()
    would = listed(dry_dir)
    assert " cleaning (dry run) " in dry.err
    assert f"): would remove {len(would)} entries, freeing " in dry.err  # the run's one line
    [dry_line] = (project.evidence / "ledger.jsonl").read_text().splitlines()
    assert json.loads(dry_line)["dry_run"] is True
    [listed_dry] = json.loads(project.upkeep("list", "--json").out)
    assert listed_dry["last_dry_run"] and listed_dry["due"]

    # The dry run is not the day's cleaning: the nightly `--due` still does it.
    real = project.upkeep("run", "--due", "--json")
    assert real.code == 0, real.text
    assert [outcome["runbook"] for outcome in json.loads(real.out)] == ["cleaning"]
    real_dir = next(d for d in project.run_dirs() if d != dry_dir)
    removed = listed(real_dir)
    assert "(dry run)" not in real.err
    assert f"): removed {len(removed)} entries, freeing " in real.err

    assert removed == would and len(removed) > 40
    gone = {str(Path(path).relative_to(var / "demo")) for _, path in removed}
    assert set(before) - set(snapshot(var / "demo")) == gone  # exactly the listed entries went
    assert ("symlink", str(tmp / "uploads" / "escape")) in removed
    assert (precious / "secret.yml").is_file() and (tmp / "lock.keep").is_file()
    assert tmp.is_dir() and cache.is_dir()
    assert (var / "demo" / "logs" / "app.log.1").is_file()  # the log step ran too

    [record] = [r for r in project.records() if r["parameters"]["dry_run"] is None]
    checks = {c["name"]: c for c in record["checks"]}
    assert record["status"] == "ok" and record["dry_run"] is False
    assert checks[f"cleaning:temp:{tmp}"]["status"] == "ok"
    assert checks[f"cleaning:cache:{cache}"]["value"] <= 204800
    assert checks["logrotate:app"]["status"] == "ok"
    assert "freed" in checks["cleaning:total"]["message"]
    dry_record = next(r for r in project.records() if r["parameters"]["dry_run"] is True)
    assert dry_record["dry_run"] is True
    dry_checks = {c["name"]: c for c in dry_record["checks"]}
    assert dry_checks["cleaning:total"]["value"] == checks["cleaning:total"]["value"] > 0
    assert project.upkeep("verify").code == 0

    assert project.upkeep("run", "--due", "--json").out.strip() == "[]"  # the day's run is done
    # A second run the same day finds nothing more to remove.
    earlier = set(project.run_dirs())
    again = project.upkeep("run", "cleaning")
    assert again.code == 0, again.text
    [latest] = set(project.run_dirs()) - earlier
    assert listed(latest) == []


def test_a_bad_dry_run_value_is_refused_before_anything_runs(demo_project: Project) -> None:
    result = demo_project.upkeep("run", "cleaning", "-p", "dry_run=maybe")
    assert result.code == 2
    assert "parameter dry_run: expected true or false or None, got 'maybe'" in result.text
    assert demo_project.run_dirs() == []


@pytest.mark.parametrize(
    ("root", "why"),
    [
        ("/etc", "/etc is a system tree where nothing is disposable"),
        ("evidence/runs", "evidence/runs is inside the evidence directory"),
    ],
)
def test_a_root_that_is_not_disposable_stops_the_run_before_anything_runs(
    make_project: Callable[[str], Project], root: str, why: str
) -> None:
    project = make_project(
        f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        cleanup:
          temp_roots:
            - {{path: {root}, max_age_days: 0}}
        """
    )
    (project.root / "runbooks" / "daily").mkdir()
    shutil.copy(REPO / "runbooks" / "daily" / "cleaning.ipynb", project.root / "runbooks" / "daily")
    result = project.upkeep("run", "cleaning", "-p", "dry_run=yes")
    assert result.code == 2, result.text
    assert "cleanup.temp_roots[0].path" in result.text and why in result.text
    assert "Traceback" not in result.text
    assert project.run_dirs() == []
