"""`upkeep site build` builds beside the site it replaces: a build that fails (a full disk, a
broken link under --strict) leaves the served site exactly as it was, run folders included; one
that succeeds replaces it in the same folder (same inode, its hidden entries kept); what a build
killed outright left is given back by the next one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.site_history import daily_history
from helpers.tiny_fs import tiny_filesystem

from upkeep.site.swap import BUILDING_PREFIX, REPLACED_PREFIX


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "project").mkdir()
    return daily_history(tmp_path / "project")


def _tree(site: Path) -> dict[str, str]:
    """Every file under `site` by its relative path, with the sha256 of its content."""
    return {
        str(path.relative_to(site)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(site.rglob("*"))
        if path.is_file()
    }


def _run_folders(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.glob("runs/*/*/*") if p.is_dir())


def _left_over(site: Path) -> list[str]:
    return [p.name for p in site.iterdir() if p.name.startswith((BUILDING_PREFIX, REPLACED_PREFIX))]


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_build_is_put_in_place_in_the_same_folder_keeping_its_hidden_entries(
    history: dict[str, Any],
) -> None:
    project = history["project"]
    site = project.root / "site"
    assert project.upkeep("site", "build").code == 0
    (site / ".git").mkdir()  # a gh-pages checkout's
    (site / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n")
    (site / "stale.html").write_text("from a build long ago")
    inode = site.stat().st_ino

    built = project.upkeep("site", "build")

    assert built.code == 0, built.err
    assert site.stat().st_ino == inode  # a bind mount of the folder keeps seeing the site
    assert (site / ".git" / "HEAD").read_text() == "ref: refs/heads/gh-pages\n"
    assert not (site / "stale.html").exists()  # the old site's own entries are gone
    assert len(_run_folders(site)) == 3
    assert "3 kept from the last build" in built.err
    assert _left_over(site) == []


def test_a_build_that_fails_its_strict_check_leaves_the_site_as_it_was(
    history: dict[str, Any],
) -> None:
    project = history["project"]
    site = project.root / "site"
    assert project.upkeep("site", "build").code == 0
    before = _tree(site)
    docs = project.root / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Notes\n\nSee [the missing page](missing.md).\n")
    with project.config.open("a") as config:
        config.write("site: {docs_dir: docs}\n")

    failed = project.upkeep("site", "build")

    assert failed.code == 2, failed.err
    assert f"the site in {site} is as it was" in failed.err
    assert _tree(site) == before  # the run folders the build had taken are back, unchanged
    assert _left_over(site) == []


def test_a_build_on_a_full_disk_fails_in_one_line_and_leaves_the_site_as_it_was(
    history: dict[str, Any], tmp_path: Path
) -> None:
    project = history["project"]
    with tiny_filesystem(tmp_path / "disk", size="24m") as disk:
        site = disk / "site"
        assert project.upkeep("site", "build", "--site-dir", str(site)).code == 0
        before = _tree(site)
        used = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        with (disk / "filler").open("wb") as filler:  # room for half a site more
            os.posix_fallocate(filler.fileno(), 0, free - used // 2)

        failed = project.upkeep("site", "build", "--site-dir", str(site))

        assert failed.code == 3, failed.err
        assert "No space left on device" in failed.err
        assert "Traceback" not in failed.err
        assert f"the site in {site} is as it was" in failed.err
        assert _tree(site) == before
        assert _left_over(site) == []


def test_what_a_build_killed_outright_left_is_given_back_by_the_next_build(
    history: dict[str, Any],
) -> None:
    project = history["project"]
    site = project.root / "site"
    assert project.upkeep("site", "build").code == 0
    before = _tree(site)
    # As a SIGKILL leaves them: a build that had taken a run folder over, and one that was
    # putting its site in place (the old index.html moved aside, the new one not yet in).
    taken = site / _run_folders(site)[0]
    building = site / f"{BUILDING_PREFIX}{_dead_pid()}-k1ll3d"
    (building / taken.relative_to(site)).parent.mkdir(parents=True)
    taken.rename(building / taken.relative_to(site))
    replacing = site / f"{REPLACED_PREFIX}{_dead_pid()}-k1ll3d"
    replacing.mkdir()
    (site / "index.html").rename(replacing / "index.html")
    running = site / f"{BUILDING_PREFIX}{os.getpid()}-runn1ng"  # a build going on now
    running.mkdir()

    rebuilt = project.upkeep("site", "build")

    assert rebuilt.code == 0, rebuilt.err
    assert f"cleared {building}: left by a site build that was stopped" in rebuilt.err
    assert f"cleared {replacing}: left by a site build that was stopped" in rebuilt.err
    assert "3 kept from the last build" in rebuilt.err  # the folder given back was reused
    assert _tree(site).keys() == before.keys()
    assert sorted(_left_over(site)) == [running.name]


def _start_build(project: Any, stderr: int) -> subprocess.Popen[str]:
    """`upkeep site build` of `project` started as its own process, not waited for."""
    return subprocess.Popen(
        [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "site", "build"],
        cwd=project.root,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def _mkdocs_of(parent: int) -> list[int]:
    """The processes upkeep `parent` started mkdocs in (their environment names it)."""
    mark = f"UPKEEP_PARENT_PID={parent}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or not ours to read
    return found


def _wait_for(condition: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_upkeep_killed_outright_takes_mkdocs_with_it_and_the_next_build_clears_up(
    history: dict[str, Any],
) -> None:
    project = history["project"]
    site = project.root / "site"
    assert project.upkeep("site", "build").code == 0
    build = _start_build(project, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: _mkdocs_of(build.pid)), "mkdocs never started"
        build.kill()
    finally:
        build.wait()

    assert _wait_for(lambda: not _mkdocs_of(build.pid), 10), "mkdocs outlived upkeep"
    rebuilt = project.upkeep("site", "build")
    assert rebuilt.code == 0, rebuilt.err
    assert "left by a site build that was stopped" in rebuilt.err
    assert len(_run_folders(site)) == 3
    assert _left_over(site) == []


def test_a_second_build_into_the_same_folder_waits_for_the_first(
    history: dict[str, Any],
) -> None:
    project = history["project"]
    site = project.root / "site"
    first = _start_build(project, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _mkdocs_of(first.pid)), "the first build never started mkdocs"
        second = project.upkeep("site", "build")
    finally:
        _, first_err = first.communicate(timeout=180)

    assert first.returncode == 0, first_err
    assert second.code == 0, second.err
    assert f"waiting for the site build running into {site}" in second.err
    assert len(_run_folders(site)) == 3
    assert _left_over(site) == []
