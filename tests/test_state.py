"""Runbook state: staged by a run, committed only when its evidence is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
