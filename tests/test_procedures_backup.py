"""The backup procedure's decisions and grading: which base, when a full, what warns or fails."""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from upkeep.backup.engines import RestoreTargetError
from upkeep.backup.errors import BackupError
from upkeep.backup.stores.directory import BACKUPS
from upkeep.config import Config, load_config
from upkeep.errors import ConfigError, UpkeepError
from upkeep.procedures import backup


def _config(tmp_path: Path, mode: str = "incremental", full_every: int = 3) -> Config:
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        connection.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 200,)] * 3000)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent(f"""\
        version: 1
        databases:
          - {{name: app, engine: sqlite, path: app.db}}
        backup: {{dir: store, mode: {mode}, full_every: {full_every}, shrink_warn_percent: 50,
                  max_full_age_days: 2}}
    """)
    )
    return load_config(tmp_path / "upkeep.yml")


def _kinds(run: backup.BackupRun) -> list[str]:
    return [b.result.manifest.kind for b in run.backups if b.result]


def test_incremental_until_full_every_then_a_new_full(tmp_path: Path) -> None:
    config = _config(tmp_path, full_every=3)
    kinds = []
    for _ in range(4):
        kinds += _kinds(backup.back_up_all(config, retention=False))
    assert kinds == ["full", "incremental", "incremental", "full"]


def test_full_mode_takes_only_fulls(tmp_path: Path) -> None:
    config = _config(tmp_path, mode="full")
    kinds = _kinds(backup.back_up_all(config, retention=False))
    kinds += _kinds(backup.back_up_all(config, retention=False))
    assert kinds == ["full", "full"]


def test_a_chain_whose_base_is_gone_is_not_built_on(tmp_path: Path) -> None:
    config = _config(tmp_path)
    backup.back_up_all(config, retention=False)
    backup.back_up_all(config, retention=False)
    store = backup.open_store(config)
    full, incremental = store.manifests("app")
    shutil.rmtree(tmp_path / "store" / BACKUPS / full.id)

    run = backup.back_up_all(config)

    [taken] = run.backups
    assert taken.result is not None and taken.result.manifest.kind == "full"
    assert taken.chain_problem is not None and full.id in taken.chain_problem
    assert not taken.sound
    assert run.retention.skipped is not None  # nothing is deleted on such a day
    assert incremental.id in [m.id for m in store.manifests()]


def test_a_sudden_shrink_warns_and_an_old_full_warns(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, mode="full")
    backup.back_up_all(config)
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("DELETE FROM t WHERE id > 100")
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("VACUUM")
    run = backup.back_up_all(config)
    capsys.readouterr()

    backup.record_backups(run, config.backup, now=datetime.now(UTC) + timedelta(days=3))

    out = capsys.readouterr().out
    assert "[WARN] backup:app:size" in out and "sudden shrink" in out
    assert "[WARN] backup:app:full-age" in out
    assert "[OK  ] backup:app:restore" in out


def test_a_backup_that_cannot_be_taken_is_recorded_then_raised(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path)
    (tmp_path / "app.db").unlink()
    run = backup.back_up_all(config)
    assert run.backups[0].error is not None
    with pytest.raises(BackupError, match="app.db is not a SQLite database file"):
        backup.record_backups(run, config.backup)
    assert "[FAIL] backup:app:created" in capsys.readouterr().out


def test_restore_by_hand_names_what_is_missing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(BackupError, match="holds no backup of database 'app'"):
        backup.restore(config, "app", str(tmp_path / "r.db"))
    backup.back_up_all(config)
    outcome = backup.restore(config, "app", str(tmp_path / "r.db"))
    assert outcome.ok and outcome.report.row_counts == {"t": 3000}


def test_restore_by_hand_refuses_an_existing_target_before_it_needs_the_store(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    no_store = replace(config, backup=replace(config.backup, dir=None))
    (tmp_path / "taken.db").write_text("precious")
    with pytest.raises(RestoreTargetError) as refused:
        backup.restore(no_store, "app", str(tmp_path / "taken.db"))
    assert str(refused.value) == f"restore target {tmp_path / 'taken.db'} exists; name a new file"
    assert isinstance(refused.value, UpkeepError) and refused.value.exit_code == 2
    assert (tmp_path / "taken.db").read_text() == "precious"
    with pytest.raises(ConfigError, match="backup.dir"):  # a new target gets as far as the store
        backup.restore(no_store, "app", str(tmp_path / "new.db"))


def test_restore_by_hand_takes_a_relative_target_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    backup.back_up_all(config)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    outcome = backup.restore(config, "app", "restored.db")
    assert outcome.ok and outcome.report.target == str(tmp_path / "elsewhere" / "restored.db")
    with sqlite3.connect(tmp_path / "elsewhere" / "restored.db") as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (3000,)


def test_restore_by_hand_names_an_unknown_database(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(ConfigError, match="no database named 'nope'; expected one of app"):
        backup.restore(config, "nope", str(tmp_path / "r.db"))
    assert not (tmp_path / "r.db").exists()
