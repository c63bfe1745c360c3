"""Runbook state: staged by a run, committed only when its evidence is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.folder_lock import held_by_another_process

from upkeep import state


def test_save_outside_a_runner_writes_directly(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(state.PENDING_ENV, raising=False)
    path = state.save(tmp_path / "state", "logscan/app.json", {"offset": 10})
    assert path == tmp_path / "state" / "logscan" / "app.json"
    assert json.loads(path.read_text()) == {"offset": 10}


def test_save_inside_a_runner_is_staged_until_commit(tmp_path: Path, monkeypatch) -> None:
    state_dir, pending = tmp_path / "state", tmp_path / "pending"
    (state_dir / "logscan").mkdir(parents=True)
    (state_dir / "logscan" / "app.json").write_text('{"offset": 1}')
    monkeypatch.setenv(state.PENDING_ENV, str(pending))
    state.save(state_dir, "logscan/app.json", {"offset": 99})
    assert json.loads((state_dir / "logscan" / "app.json").read_text()) == {"offset": 1}
    assert state.commit(pending, state_dir) == [state_dir / "logscan" / "app.json"]
    assert json.loads((state_dir / "logscan" / "app.json").read_text()) == {"offset": 99}
    assert not pending.exists()


def test_discarded_state_leaves_the_old_state(tmp_path: Path, monkeypatch) -> None:
    state_dir, pending = tmp_path / "state", tmp_path / "pending"
    monkeypatch.setenv(state.PENDING_ENV, str(pending))
    state.save(state_dir, "a.json", {"n": 1})
    state.discard(pending)
    assert state.commit(pending, state_dir) == []
    assert not (state_dir / "a.json").exists()


@pytest.mark.parametrize("bad", ["../escape.json", "/etc/passwd"])
def test_state_stays_inside_the_state_directory(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="inside the state directory"):
        state.save(tmp_path, bad, {})


def test_a_run_stages_its_state_inside_the_state_directory(tmp_path: Path) -> None:
    """Beside what it replaces, so the commit is a rename on one filesystem."""
    state_dir = tmp_path / "state"
    name = f"{os.getpid()}-20261204T030000Z-x-abcd"
    pending = state.pending_folder(state_dir, name, tmp_path / "evidence" / ".staging")
    assert pending.parent == state_dir / state.PENDING_DIR


def test_pending_state_of_a_runner_that_is_gone_is_removed(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = state_dir / state.PENDING_DIR / f"{gone.stdout.strip()}-20261204T030000Z-x-dead"
    live = state_dir / state.PENDING_DIR / f"{os.getpid()}-20261204T030000Z-x-live"
    for folder in (dead, live):
        (folder / "logscan").mkdir(parents=True)
        (folder / "logscan" / "app.json").write_text("{}")
    staging = tmp_path / "evidence" / ".staging"
    state.pending_folder(state_dir, f"{os.getpid()}-20261204T030001Z-y-next", staging)
    assert not dead.exists()
    assert (live / "logscan" / "app.json").exists()  # a runner still going keeps its state


def test_pending_state_of_a_runner_in_another_container_is_kept(tmp_path: Path) -> None:
    # Its pid is its own pid namespace's, no process here; the flock on its staging folder
    # says it is going on. (The other namespace is stood in for by a process of ours holding
    # the lock: the lock is what counts.)
    state_dir, staging = tmp_path / "state", tmp_path / "evidence" / ".staging"
    name = "4194305-20261204T030000Z-x-beside"  # above Linux's largest pid_max
    (state_dir / state.PENDING_DIR / name).mkdir(parents=True)
    (staging / name).mkdir(parents=True)
    with held_by_another_process(staging / name):
        state.pending_folder(state_dir, f"{os.getpid()}-20261204T030001Z-y-next", staging)
        assert (state_dir / state.PENDING_DIR / name).is_dir()
    state.pending_folder(state_dir, f"{os.getpid()}-20261204T030002Z-y-after", staging)
    assert not (state_dir / state.PENDING_DIR / name).exists()
