"""upkeep.procedures.backup_verification on real SQLite backups in a real store: sample hashes
recorded at backup time, damaged backups that fail and name what, no backup yet, the age of the
newest verified backup, and the runbook's triage table covering every check it records."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from helpers.backup import work_folders
from helpers.files import make_config
from helpers.project import REPO, Project
from helpers.recorder import Recorder
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep.backup.samples import NO_SAMPLE_HASHES
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.config import Config
from upkeep.errors import ConfigError
from upkeep.procedures import backup, backup_verification
from upkeep.records import Status

RUNBOOK = REPO / "runbooks" / "weekly" / "backup-verification.ipynb"


def _fill(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, note TEXT,
                                 total REAL, raw BLOB);
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
            CREATE TABLE empty (id INTEGER PRIMARY KEY);
            """
        )
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?)", [(i, f"customer {i}") for i in range(1, 301)]
        )
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [(i, 1 + i % 300, f"note {i}", i * 1.25, bytes([i % 256]) * 8) for i in range(1, 5001)],
        )
        connection.executemany(
            "INSERT INTO settings VALUES (?, ?)", [(f"k{i:03d}", str(i)) for i in range(150)]
        )


@pytest.fixture
def system(tmp_path: Path) -> Config:
    _fill(tmp_path / "app.db")
    return make_config(
        tmp_path,
        """
        databases:
          - {name: app, engine: sqlite, path: app.db}
        backup: {dir: store, mode: incremental, full_every: 5}
        backup_verification: {sample_rows: 40}
        """,
    )


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    for module in (backup, backup_verification):
        monkeypatch.setattr(module, "report", recorder)
    return recorder


def _back_up(config: Config, change: str | None = None) -> str:
    if change:
        with sqlite3.connect(config.databases[0].path) as connection:
            connection.execute(change)
    run = backup.back_up_all(config)
    assert all(b.sound for b in run.backups), run
    result = run.backups[0].result
    assert result is not None
    return result.manifest.id


def _verify(config: Config, recorded: Recorder, **kwargs: object) -> dict[str, dict]:
    run = backup_verification.verify_backups(config, **kwargs)  # type: ignore[arg-type]
    backup_verification.record_verification(run, config.backup_verification, kwargs.get("now"))  # type: ignore[arg-type]
    return recorded.checks()


def _store(config: Config) -> Path:
    assert config.backup.dir is not None
    return config.backup.dir


def _edit_manifest(config: Config, backup_id: str, edit) -> None:  # type: ignore[no-untyped-def]
    path = _store(config) / backup_id / "manifest.json"
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def test_the_manifest_records_seeded_sample_hashes_of_every_table(system: Config) -> None:
    backup_id = _back_up(system)
    manifest = DirectoryStore(_store(system)).manifests("app")[-1]
    assert manifest.id == backup_id and manifest.format == 3
    samples = manifest.sample_hashes
    assert samples is not None and samples.spec.rows == 40 and len(samples.spec.seed) == 16
    assert set(samples.tables) == {"customers", "orders", "settings", "empty"}
    assert samples.tables["empty"].rows == 0
    assert 20 <= samples.tables["orders"].rows <= 40  # seeded rowids, duplicates merged
    assert samples.tables["settings"].rows == 40  # WITHOUT ROWID: a window in key order
    # A second backup draws a new seed: the sample differs from one backup to the next.
    _back_up(system)
    second = DirectoryStore(_store(system)).manifests("app")[-1].sample_hashes
    assert second is not None and second.spec.seed != samples.spec.seed


def test_sound_backups_pass_with_restore_time_and_newest_verified_age(
    system: Config, recorded: Recorder
) -> None:
    for change in (None, "UPDATE orders SET note = 'x' WHERE id = 7", None):
        _back_up(system, change)
    checks = _verify(system, recorded)
    assert checks["backup-verification:app:restore"]["status"] == Status.OK, checks
    assert "sample hashes match" in checks["backup-verification:app:restore"]["message"]
    age = checks["backup-verification:app:newest-verified-age"]
    assert age["status"] == Status.OK and age["value"] < 0.01 and age["limit"] == 8
    assert checks["backup-verification:app:coverage"]["status"] == Status.OK
    metrics = recorded.metrics()
    assert metrics["backup_restore_seconds"]["labels"] == {"database": "app"}
    assert metrics["backup_restore_seconds"]["value"] > 0
    assert metrics["backup_newest_verified_age_seconds"]["value"] < 60
    assert work_folders(_store(system)) == []  # the scratch copies are gone


def test_a_flipped_byte_in_an_old_piece_fails_and_names_the_piece(
    system: Config, recorded: Recorder
) -> None:
    root = _back_up(system)
    _back_up(system, "UPDATE orders SET note = 'changed' WHERE id = 1")
    piece = _store(system) / root / "p000000.zst"
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0x01
    piece.write_bytes(bytes(data))
    checks = _verify(system, recorded)
    restore = checks["backup-verification:app:restore"]
    assert restore["status"] == Status.FAIL
    assert f"backup piece {root}/p000000.zst is corrupt" in restore["message"]
    findings = recorded.findings()
    assert findings[f"backup-verification:{root}"]["severity"] == "fail"
    assert not DirectoryStore(_store(system)).verified(root)  # the verdict is kept in the store
    assert work_folders(_store(system)) == []


def test_a_missing_piece_fails_and_names_it(system: Config, recorded: Recorder) -> None:
    newest = _back_up(system)
    (_store(system) / newest / "index.zst").unlink()
    checks = _verify(system, recorded)
    restore = checks["backup-verification:app:restore"]
    assert restore["status"] == Status.FAIL
    assert f"backup piece {newest}/index.zst is missing" in restore["message"]
    age = checks["backup-verification:app:newest-verified-age"]
    assert age["status"] == Status.WARN and "no backup of app is verified" in age["message"]


def test_a_manifest_whose_sample_hash_does_not_match_fails_naming_the_table(
    system: Config, recorded: Recorder
) -> None:
    newest = _back_up(system)

    def wrong_hash(value: dict) -> None:
        value["samples"]["tables"]["customers"]["sha256"] = "0" * 64

    _edit_manifest(system, newest, wrong_hash)
    restore = _verify(system, recorded)["backup-verification:app:restore"]
    assert restore["status"] == Status.FAIL
    assert "table customers: sample hash differs" in restore["message"]
    assert "orders" not in restore["message"]  # only the table that differs is named


def test_a_copy_with_the_right_row_counts_but_different_data_fails_on_its_sample(
    system: Config, recorded: Recorder
) -> None:
    first = _back_up(system)
    recorded_samples = DirectoryStore(_store(system)).manifests("app")[-1].samples
    changed = _back_up(system, "UPDATE settings SET value = value || '!'")  # same row count
    _edit_manifest(system, changed, lambda value: value.update(samples=recorded_samples))
    restore = _verify(system, recorded)["backup-verification:app:restore"]
    assert restore["status"] == Status.FAIL, restore
    assert "table settings: sample hash differs" in restore["message"]
    assert "rows restored" not in restore["message"]  # the row counts matched
    assert first not in restore["message"]


def test_a_backup_that_restores_with_a_table_emptied_fails_naming_the_table(
    system: Config, recorded: Recorder
) -> None:
    _back_up(system)
    whole = DirectoryStore(_store(system)).manifests("app")[-1]
    emptied = _back_up(system, "DELETE FROM orders")

    def as_if_whole(value: dict) -> None:
        value.update(samples=whole.samples, row_counts=whole.row_counts)

    _edit_manifest(system, emptied, as_if_whole)
    restore = _verify(system, recorded)["backup-verification:app:restore"]
    assert restore["status"] == Status.FAIL
    assert "table orders: 0 rows restored, the backup recorded 5000" in restore["message"]
    assert "table orders: sample hash differs" in restore["message"]


def test_a_backup_without_sample_hashes_is_still_verified_and_says_so(
    system: Config, recorded: Recorder
) -> None:
    older = _back_up(system)

    def as_format_2(value: dict) -> None:
        del value["samples"]
        value["format"] = 2

    _edit_manifest(system, older, as_format_2)
    manifest = DirectoryStore(_store(system)).manifests("app")[-1]
    assert manifest.format == 2 and manifest.sample_hashes is None
    run = backup_verification.verify_backups(system)
    (restored,) = run.databases[0].restores
    assert restored.ok and restored.outcome is not None
    assert restored.outcome.samples_note == NO_SAMPLE_HASHES
    backup_verification.record_verification(run, system.backup_verification)
    message = recorded.checks()["backup-verification:app:restore"]["message"]
    assert f"no sample hashes in {older}" in message
    # `upkeep restore` says so too, and still passes.
    target = str(system.root / "restored.db")
    restored = Project(system.root).upkeep_in_process("restore", "app", target)
    assert restored.code == 0, restored.text
    assert f"note: {NO_SAMPLE_HASHES}" in restored.out


def test_no_backup_yet_warns_and_says_so(system: Config, recorded: Recorder) -> None:
    checks = _verify(system, recorded)
    assert set(checks) == {"backup-verification:app:newest-verified-age"}
    age = checks["backup-verification:app:newest-verified-age"]
    assert age["status"] == Status.WARN
    assert "no sqlite backup of database 'app'" in age["message"] and "yet" in age["message"]
    assert recorded.summaries() == ["app: no backup yet"]


def test_the_newest_verified_backup_older_than_the_limit_warns(
    system: Config, recorded: Recorder
) -> None:
    _back_up(system)
    later = datetime.now(UTC) + timedelta(days=9)
    checks = _verify(system, recorded, now=later)
    age = checks["backup-verification:app:newest-verified-age"]
    assert age["status"] == Status.WARN and 8.9 < age["value"] < 9.1


def test_a_backup_dated_in_the_future_warns_instead_of_hiding_the_age(
    tmp_path: Path, recorded: Recorder
) -> None:
    # A clock set ahead when the newest backup was taken made it "0 days old" while every other
    # backup aged: the newest verified age is now unknown, and said so; times in upkeep.yml's zone.
    _fill(tmp_path / "app.db")
    config = make_config(
        tmp_path,
        """
        timezone: Asia/Kathmandu
        databases:
          - {name: app, engine: sqlite, path: app.db}
        backup: {dir: store}
        """,
    )
    _back_up(config)
    ahead = _back_up(config, "UPDATE orders SET note = 'y' WHERE id = 8")
    _edit_manifest(config, ahead, lambda value: value.update(created="2030-01-01T00:00:00+00:00"))

    age = _verify(config, recorded)["backup-verification:app:newest-verified-age"]

    assert age["status"] == Status.WARN
    assert f"{ahead} says it was taken 2030-01-01 05:45 +0545, in the future" in age["message"]


@pytest.mark.parametrize("created", ["not a date", "2026-12-08T00:00:00", 20261208])
def test_a_manifest_with_an_unreadable_date_is_named_and_skipped(
    system: Config, recorded: Recorder, created: object
) -> None:
    # It crashed `upkeep backups` (ValueError) and the verification (TypeError on comparing a
    # naive and an aware time).
    first = _back_up(system)
    second = _back_up(system, "UPDATE orders SET note = 'z' WHERE id = 9")
    _edit_manifest(system, second, lambda value: value.update(created=created))
    store = DirectoryStore(_store(system))

    assert [m.id for m in store.manifests("app")] == [first]
    [damaged] = [str(entry) for entry in store.damaged()]
    assert damaged.startswith(f"{second}: ") and damaged.endswith(
        f"{second}/manifest.json: created {created!r}; expected an ISO time with its UTC offset"
    )
    checks = _verify(system, recorded)
    assert checks["backup-verification:app:restore"]["status"] == Status.OK


def test_the_rotation_restores_the_newest_and_spreads_the_older_ones(system: Config) -> None:
    ids = [_back_up(system, f"UPDATE orders SET note = 'v{n}' WHERE id = 3") for n in range(5)]
    # The daily check verified each backup as it was taken; two weeks later none is due.
    run = backup_verification.verify_backups(system, now=datetime.now(UTC) + timedelta(weeks=2))
    chosen = [check.backup_id for check in run.databases[0].restores]
    assert chosen[-1] == ids[-1]  # the newest, always
    assert len(chosen) == 1 + 1  # and ceil(4 older / 4 weeks) = 1 older one
    everything = backup_verification.verify_backups(system, verify_all=True)
    assert [check.backup_id for check in everything.databases[0].restores] == ids


def test_nothing_to_verify_without_a_backup_section(tmp_path: Path, recorded: Recorder) -> None:
    config = make_config(tmp_path, "databases:\n  - {name: app, engine: sqlite, path: a.db}\n")
    checks = _verify(config, recorded)
    assert checks["backup-verification:databases"]["status"] == Status.OK
    assert "not backed up" in checks["backup-verification:databases"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "verify_every_weeks: 0",
            "backup_verification.verify_every_weeks: expected an integer >= 1",
        ),
        ("max_verified_age_days: 0", "max_verified_age_days: expected a number of days above 0"),
        ("sample_rows: many", "backup_verification.sample_rows: expected an integer"),
        ("verify_weekly: true", "verify_weekly"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, f"backup_verification: {{{body}}}\n")


def test_the_triage_table_covers_every_check_the_procedure_records(
    system: Config, recorded: Recorder, tmp_path: Path
) -> None:
    _verify(system, recorded)  # no backup yet
    _back_up(system)
    _back_up(system)
    (_store(system) / _back_up(system) / "index.zst").unlink()
    _verify(system, recorded, now=datetime.now(UTC) + timedelta(weeks=9))
    nothing = make_config(tmp_path / "other", "") if (tmp_path / "other").mkdir() is None else None
    assert nothing is not None
    _verify(nothing, recorded)
    checks = {r["name"] for r in recorded.records if r["kind"] == "check"}
    statuses = {r["status"] for r in recorded.records if r["kind"] == "check"}
    assert len(checks) >= 4 and {"ok", "warn", "fail"} <= statuses
    rows = triage_rows(load_notebook(RUNBOOK))
    assert {check for check in checks if not covers(rows, check)} == set()


def test_the_runbook_is_committed_clean_and_implements_the_plans_task() -> None:
    nb = load_notebook(RUNBOOK)
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    meta = nb["metadata"]["upkeep"]
    tasks = yaml.safe_load((REPO / "docs" / "plan-tasks.yml").read_text())["tasks"]
    task = next(t for t in tasks if t["category"] == meta["category"])
    assert (task["frequency"], meta["cadence"]) == ("weekly", "weekly")
    assert meta["destructive"] is False and meta["references"] == ["recovery-strategy.md"]
    assert nb["cells"][0]["source"].startswith("# Weekly backup verification")
    params = [cell for cell in code if "parameters" in cell["metadata"].get("tags", [])]
    assert [cell["source"].split(":")[0] for cell in params] == ["verify_all"]
