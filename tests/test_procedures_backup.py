"""The backup procedure's decisions and grading: which base, when a full, what warns or fails."""

from __future__ import annotations

import re
import shutil
import sqlite3
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.recorder import Recorder

from upkeep.backup.engines import RestoreTargetError
from upkeep.backup.errors import BackupError, BackupNotFound
from upkeep.config import Config, load_config
from upkeep.errors import ConfigError, UpkeepError
from upkeep.procedures import backup, restore
from upkeep.units import human_size


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
    shutil.rmtree(tmp_path / "store" / full.id)

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


def test_the_size_check_and_its_message_agree_in_sign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shrink was recorded as +96.4 with the message saying -96.4%: the value is the change
    now, negative for a shrink as the message says, against a negative limit."""
    config = _config(tmp_path, mode="full")
    backup.back_up_all(config)
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("DELETE FROM t WHERE id > 100")
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("VACUUM")
    run = backup.back_up_all(config)
    recorded = Recorder()
    monkeypatch.setattr(backup, "report", recorded)
    backup.record_backups(run, config.backup)
    size = recorded.checks()["backup:app:size"]
    assert size["status"] == "warn" and size["unit"] == "%"
    assert size["value"] < -50 and size["limit"] == -50
    assert f"({size['value']:+.1f}%)" in size["message"]
    assert re.match(r"\d+\.\d KiB, previous \d+\.\d KiB \(-", size["message"]), size["message"]
    created = recorded.checks()["backup:app:created"]
    assert created["unit"] == "B"  # a byte count: shown as a size (`upkeep.units`)


def test_the_summary_gives_each_backups_size_what_it_stored_and_its_restore_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    recorded = Recorder()
    monkeypatch.setattr(backup, "report", recorded)
    run = backup.back_up_all(config)
    manifest = run.backups[0].result.manifest
    backup.record_backups(run, config.backup)
    unchecked = backup.back_up_all(config, verify=False)
    backup.record_backups(unchecked, config.backup)
    (tmp_path / "app.db").unlink()
    with pytest.raises(BackupError):
        backup.record_backups(backup.back_up_all(config), config.backup)
    first, second, failed = recorded.summaries()
    assert first == (
        f"app: full {human_size(manifest.size)}, stored {human_size(manifest.stored_bytes)}, "
        "restore check ok"
    )
    assert second.startswith("app: incremental ") and second.endswith(", no restore check")
    assert failed.startswith("app: no backup (") and "app.db does not exist" in failed


def test_a_backup_that_cannot_be_taken_is_recorded_then_raised(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path)
    (tmp_path / "app.db").unlink()
    run = backup.back_up_all(config)
    assert run.backups[0].error is not None
    with pytest.raises(BackupError, match="app.db does not exist; expected the SQLite"):
        backup.record_backups(run, config.backup)
    assert "[FAIL] backup:app:created" in capsys.readouterr().out


def test_restore_by_hand_names_what_is_missing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(BackupNotFound, match="holds no backup of database 'app'") as missing:
        restore.restore(config, "app", str(tmp_path / "r.db"))
    assert missing.value.exit_code == 2
    backup.back_up_all(config)
    outcome = restore.restore(config, "app", str(tmp_path / "r.db")).outcome
    assert outcome.ok and outcome.report.row_counts == {"t": 3000}


def test_restore_by_hand_refuses_an_existing_target_before_it_needs_the_store(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    no_store = replace(config, backup=replace(config.backup, dir=None))
    (tmp_path / "taken.db").write_text("precious")
    with pytest.raises(RestoreTargetError) as refused:
        restore.restore(no_store, "app", str(tmp_path / "taken.db"))
    assert str(refused.value) == f"restore target {tmp_path / 'taken.db'} exists; name a new file"
    assert isinstance(refused.value, UpkeepError) and refused.value.exit_code == 2
    assert (tmp_path / "taken.db").read_text() == "precious"
    with pytest.raises(ConfigError, match="backup.dir"):  # a new target gets as far as the store
        restore.restore(no_store, "app", str(tmp_path / "new.db"))


def test_restore_by_hand_takes_a_relative_target_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    backup.back_up_all(config)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    outcome = restore.restore(config, "app", "restored.db").outcome
    assert outcome.ok and outcome.report.target == str(tmp_path / "elsewhere" / "restored.db")
    with sqlite3.connect(tmp_path / "elsewhere" / "restored.db") as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (3000,)


def test_restore_by_hand_names_an_unknown_database(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(ConfigError, match="no database named 'nope'; expected one of app"):
        restore.restore(config, "nope", str(tmp_path / "r.db"))
    assert not (tmp_path / "r.db").exists()


# ---------------------------------------------------------------- unverified backups


def _flip_a_byte(store_root: Path, backup_id: str) -> None:
    piece = store_root / backup_id / "p000000.zst"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0x40
    piece.write_bytes(bytes(data))


def _change_rows(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("UPDATE t SET v = 'changed' WHERE id % 50 = 0")


def test_a_backup_never_checked_is_unverified_and_never_built_on(tmp_path: Path) -> None:
    config = _config(tmp_path, full_every=5)
    [first] = backup.back_up_all(config, retention=False).backups
    _change_rows(tmp_path)
    # A run stopped before its check leaves a backup like this one: published, never checked.
    [unchecked] = backup.back_up_all(config, verify=False, retention=False).backups
    store = backup.open_store(config)
    first_id, unchecked_id = first.result.manifest.id, unchecked.result.manifest.id
    assert store.verified(first_id) and store.verification(unchecked_id) is None

    base, reason, problem = backup.choose_base(store, config.backup, config.database("app"))

    assert base is not None and base.id == first_id  # the newest VERIFIED backup, not the newest
    assert reason.startswith(f"incremental on {first_id}") and problem is None


def test_a_backup_whose_check_failed_is_rechecked_and_never_the_base_nor_newest_full(
    tmp_path: Path, capsys
) -> None:
    config = _config(tmp_path, mode="full")
    [first] = backup.back_up_all(config, retention=False).backups
    [second] = backup.back_up_all(config, verify=False, retention=False).backups
    second_id = second.result.manifest.id
    _flip_a_byte(tmp_path / "store", second_id)  # its check can only fail now

    run = backup.back_up_all(config)

    [today] = run.backups
    assert [(r.backup_id, r.ok) for r in today.rechecked] == [(second_id, False)]
    assert "corrupt" in today.rechecked[0].detail
    store = backup.open_store(config)
    assert not store.verified(second_id)
    # The newest full that counts is the newest verified one: today's, never the broken one.
    assert today.newest_full is not None and today.newest_full.id == today.result.manifest.id
    assert run.retention.skipped is not None  # nothing is deleted on a day a check failed
    capsys.readouterr()
    backup.record_backups(run, config.backup)
    out = capsys.readouterr().out
    assert "[FAIL] backup:app:unverified" in out and f"{second_id} still fails" in out
    assert first.result.manifest.id in [m.id for m in store.manifests()]


def test_the_next_run_checks_an_unverified_backup_then_builds_on_it(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, full_every=5)
    [unchecked] = backup.back_up_all(config, verify=False, retention=False).backups
    unchecked_id = unchecked.result.manifest.id
    _change_rows(tmp_path)

    run = backup.back_up_all(config, retention=False)

    [today] = run.backups
    assert [(r.backup_id, r.ok) for r in today.rechecked] == [(unchecked_id, True)]
    assert backup.open_store(config).verified(unchecked_id)
    assert today.result.manifest.base == unchecked_id  # verified now: built on
    capsys.readouterr()
    backup.record_backups(run, config.backup)
    out = capsys.readouterr().out
    assert "[OK  ] backup:app:unverified" in out and unchecked_id in out


def test_a_full_that_is_not_verified_does_not_count_as_the_newest_full(
    tmp_path: Path, capsys
) -> None:
    config = _config(tmp_path, mode="full")
    [checked] = backup.back_up_all(config, retention=False).backups
    [unchecked] = backup.back_up_all(config, verify=False, retention=False).backups
    assert unchecked.newest_full is not None
    assert unchecked.newest_full.id == checked.result.manifest.id
    capsys.readouterr()
    backup.record_backups(
        backup.BackupRun("store", (unchecked,)), config.backup, now=datetime.now(UTC)
    )
    out = capsys.readouterr().out
    assert f"newest verified full backup {checked.result.manifest.id}" in out


# ---------------------------------------------------------------- restoring by hand: which backup


def test_restore_by_hand_takes_the_newest_verified_backup_and_says_which(tmp_path: Path) -> None:
    config = _config(tmp_path, mode="full")
    [checked] = backup.back_up_all(config, retention=False).backups
    _change_rows(tmp_path)
    [unchecked] = backup.back_up_all(config, verify=False, retention=False).backups

    restored = restore.restore(config, "app", str(tmp_path / "r.db"))

    assert restored.choice.manifest.id == checked.result.manifest.id
    assert restored.choice.chosen == "the newest verified backup"
    assert restored.choice.newer_unverified == (unchecked.result.manifest.id,)
    assert restored.outcome.ok
    with sqlite3.connect(tmp_path / "r.db") as connection:  # the older content, as taken
        assert connection.execute("SELECT count(*) FROM t WHERE v = 'changed'").fetchone() == (0,)


def test_restore_by_hand_with_no_verified_backup_names_the_newest_to_ask_for(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    [unchecked] = backup.back_up_all(config, verify=False, retention=False).backups
    unchecked_id = unchecked.result.manifest.id

    with pytest.raises(BackupNotFound) as refused:
        restore.restore(config, "app", str(tmp_path / "r.db"))
    assert refused.value.exit_code == 2
    assert f"the newest, {unchecked_id}, was never checked" in str(refused.value)
    assert f"--backup {unchecked_id}" in str(refused.value)
    assert not (tmp_path / "r.db").exists()

    named = restore.restore(config, "app", str(tmp_path / "r.db"), unchecked_id)
    assert named.choice.chosen == "named by --backup" and named.choice.verification is None
    assert named.outcome.ok


# ---------------------------------------------------------------- a damaged folder in the store


def _two_databases(tmp_path: Path) -> Config:
    for name in ("app", "crm"):
        with sqlite3.connect(tmp_path / f"{name}.db") as connection:
            connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            connection.executemany("INSERT INTO t (v) VALUES (?)", [(name,)] * 100)
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n"
        "  - {name: app, engine: sqlite, path: app.db}\n"
        "  - {name: crm, engine: sqlite, path: crm.db}\n"
        "backup: {dir: store, mode: incremental}\n"
    )
    return load_config(tmp_path / "upkeep.yml")


def test_a_folder_without_its_manifest_is_reported_and_the_rest_stays_usable(
    tmp_path: Path, capsys
) -> None:
    config = _two_databases(tmp_path)
    first = backup.back_up_all(config, retention=False)
    damaged_id = first.backups[0].result.manifest.id
    (tmp_path / "store" / damaged_id / "manifest.json").unlink()

    run = backup.back_up_all(config)

    assert all(b.error is None and b.result is not None for b in run.backups)  # both databases
    assert [str(entry) for entry in run.damaged] == [
        f"{damaged_id}: no manifest.json: not a complete backup"
    ]
    assert run.retention.skipped is not None  # nothing is deleted while the store is damaged
    assert restore.restore(config, "app", str(tmp_path / "app-r.db")).outcome.ok
    assert restore.restore(config, "crm", str(tmp_path / "crm-r.db")).outcome.ok
    capsys.readouterr()
    backup.record_backups(run, config.backup)
    out = capsys.readouterr().out
    assert "[FAIL] backup-store:folders" in out and damaged_id in out
    assert (tmp_path / "store" / damaged_id).is_dir()  # never deleted by upkeep


# ---------------------------------------------------------------- restore_owner in the config


def test_restore_owner_is_read_for_postgresql_and_refused_for_sqlite(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n"
        "  - {name: pg, engine: postgresql, dbname: app, user: backup, restore_owner: false}\n"
        "  - {name: pg2, engine: postgresql, dbname: app}\n"
    )
    config = load_config(tmp_path / "upkeep.yml")
    assert config.database("pg").restore_owner is False
    assert config.database("pg2").restore_owner is True  # the default: owners as in the source
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n  - {name: app, engine: sqlite, path: app.db, restore_owner: false}\n"
    )
    with pytest.raises(ConfigError, match=r"databases\[0\].restore_owner: only a postgresql"):
        load_config(tmp_path / "upkeep.yml")
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n  - {name: pg, engine: postgresql, dbname: app, restore_owner: 'no'}\n"
    )
    with pytest.raises(ConfigError, match=r"restore_owner: expected true or false"):
        load_config(tmp_path / "upkeep.yml")


def test_no_backup_section_is_nothing_to_do_and_names_what_is_not_backed_up(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "databases:\n  - {name: app, engine: sqlite, path: app.db}\n"
        "  - {name: shop, engine: sqlite, path: shop.db}\n"
    )
    config = load_config(tmp_path / "upkeep.yml")
    run = backup.back_up_all(config)
    assert run.backups == () and run.nothing_to_do == (
        "upkeep.yml has no backup: section: nothing to back up; "
        "the databases app, shop are not backed up"
    )
    backup.record_backups(run, config.backup)  # no error: nothing was asked for
    out = capsys.readouterr().out
    assert "[OK  ] backup:databases" in out and "backup-store" not in out


def test_no_database_is_nothing_to_do(tmp_path: Path, capsys) -> None:
    (tmp_path / "upkeep.yml").write_text("backup: {dir: store}\n")
    config = load_config(tmp_path / "upkeep.yml")
    run = backup.back_up_all(config)
    assert run.nothing_to_do == "upkeep.yml lists no databases: nothing to back up"
    backup.record_backups(run, config.backup)
    assert "[OK  ] backup:databases" in capsys.readouterr().out
    assert not (tmp_path / "store").exists()  # no store is made for nothing


def test_a_backup_section_needs_its_store(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text("backup: {mode: full}\n")
    with pytest.raises(ConfigError, match=r"backup\.dir: required key is missing"):
        load_config(tmp_path / "upkeep.yml")
