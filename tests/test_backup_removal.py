"""Removing a backup or a log archive: never through a symlink nor into a mount point inside it
(a bind mount there once had the files it showed deleted), and a removal that cannot finish
(a mount point, a file its owner protected) named, never blocking the next backup."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.bind_mount import bind_mounted
from helpers.recorder import Recorder
from helpers.unprivileged import run_bound_by_permissions

from upkeep.backup.logs.store import LogArchiveStore
from upkeep.backup.stores.directory import DirectoryStore
from upkeep.backup.stores.removal import TreeNotRemoved, remove_tree
from upkeep.config import Config, load_config
from upkeep.procedures import backup


def _precious(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    files = [folder / f"precious{n}.txt" for n in range(3)]
    for file in files:
        file.write_text("not the store's")
    return files


def _sqlite_config(tmp_path: Path) -> Config:
    """A project with one small SQLite database, backed up whole each time, keeping one a day."""
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        connection.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 100,)] * 500)
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        databases:
          - {name: app, engine: sqlite, path: app.db}
        backup: {dir: store, mode: full, keep_daily: 1}
    """)
    )
    return load_config(tmp_path / "upkeep.yml")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_symlink_is_removed_as_a_link_and_a_deep_tree_goes_whole(tmp_path: Path) -> None:
    outside = _precious(tmp_path / "outside")
    doomed = tmp_path / "doomed"
    folder = os.open(tmp_path, os.O_RDONLY)
    try:
        os.mkdir("doomed", dir_fd=folder)
        for _ in range(2500):  # deeper than Python's recursion limit and than PATH_MAX
            inner = os.open("doomed" if _ == 0 else "d", os.O_RDONLY, dir_fd=folder)
            os.close(folder)
            folder = inner
            os.mkdir("d", dir_fd=folder)
        with open(os.open("piece", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=folder), "wb") as f:
            f.write(b"x")
    finally:
        os.close(folder)
    (doomed / "link-to-folder").symlink_to(tmp_path / "outside")
    (doomed / "link-to-file").symlink_to(outside[0])

    remove_tree(doomed)

    assert not doomed.exists()
    assert all(file.read_text() == "not the store's" for file in outside)
    remove_tree(doomed)  # already gone: done


def test_a_mount_point_inside_is_never_entered_and_is_named(tmp_path: Path) -> None:
    outside = _precious(tmp_path / "outside")
    doomed = tmp_path / "doomed"
    (doomed / "a").mkdir(parents=True)
    (doomed / "a" / "piece").write_bytes(b"x")
    with bind_mounted(tmp_path / "outside", doomed / "b" / "mnt"):
        with pytest.raises(TreeNotRemoved) as caught:
            remove_tree(doomed)
        assert all(file.read_text() == "not the store's" for file in outside)
        assert f"{doomed}/b/mnt: a mount point, not entered" in str(caught.value)
        assert str(caught.value).count(";") == 0  # the folders above it are not listed too
        assert not (doomed / "a").exists()  # everything else went


def test_what_cannot_be_removed_is_named_and_the_rest_goes(tmp_path: Path) -> None:
    doomed = tmp_path / "doomed"
    (doomed / "locked").mkdir(parents=True)
    (doomed / "locked" / "kept").write_bytes(b"x")
    (doomed / "free").write_bytes(b"x")
    (doomed / "locked").chmod(0o555)  # its entries cannot be removed: as chattr +i would
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from upkeep.backup.stores.removal import remove_tree\n"
        "try:\n    remove_tree(Path(sys.argv[1]))\n"
        "except OSError as exc:\n    print(exc)\n"
    )
    try:
        done = run_bound_by_permissions(code, str(doomed))
    finally:
        (doomed / "locked").chmod(0o755)
    assert done.stdout.strip() == (
        f"{doomed} not removed whole: 1 left: {doomed}/locked/kept: Permission denied"
    ), done.stderr
    assert not (doomed / "free").exists() and (doomed / "locked" / "kept").exists()


def test_a_backup_deleted_with_a_mount_inside_blocks_no_later_backup(tmp_path: Path) -> None:
    outside = _precious(tmp_path / "outside")
    root = tmp_path / "store"
    store = DirectoryStore(root)
    config = _sqlite_config(tmp_path)
    for _ in range(2):
        backup.back_up_all(config, retention=False)
    first, second = (m.id for m in store.manifests("app"))
    later = root / f".deleting-{_dead_pid()}-{first}"  # as the next run, another process, sees it
    with bind_mounted(tmp_path / "outside", root / first / "mnt"):
        with pytest.raises(OSError, match="a mount point, not entered"):
            store.delete(first)
        assert all(file.read_text() == "not the store's" for file in outside)
        assert [m.id for m in store.manifests()] == [second]
        os.rename(root / f".deleting-{os.getpid()}-{first}", later)

        notes = DirectoryStore(root).recover()  # raised once, and so did every backup after

        assert notes == [
            f"could not remove {later.name} (left by an interrupted backup, check or delete): "
            f"1 left: {later}/mnt: a mount point, not entered"
        ]
        taken = backup.back_up_all(config, retention=False)
        assert taken.backups[0].sound
        assert all(file.read_text() == "not the store's" for file in outside)


def test_a_log_archive_left_by_a_dead_process_that_cannot_go_is_not_said_removed(
    tmp_path: Path,
) -> None:
    _precious(tmp_path / "outside")
    root = tmp_path / "archives"
    left = root / f".deleting-{_dead_pid()}-app-20261201"
    (left / "content.gz").parent.mkdir(parents=True)
    (left / "content.gz").write_bytes(b"x")
    with bind_mounted(tmp_path / "outside", left / "mnt"):
        notes = LogArchiveStore(root).recover()
        assert notes == [
            f"could not remove {left.name}: 1 left: {left}/mnt: a mount point, not entered"
        ]
        assert (tmp_path / "outside" / "precious0.txt").exists()
        assert not (left / "content.gz").exists()


def test_retention_that_cannot_delete_a_backup_fails_its_check_and_deletes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _sqlite_config(tmp_path)
    for _ in range(3):
        backup.back_up_all(config, retention=False)
    first, second, _ = (m.id for m in backup.open_store(config).manifests("app"))
    _precious(tmp_path / "outside")
    with bind_mounted(tmp_path / "outside", tmp_path / "store" / first / "mnt"):
        run = backup.back_up_all(config, now=datetime.now(UTC))
        recorded = Recorder()
        monkeypatch.setattr(backup, "report", recorded)
        backup.record_backups(run, config.backup)

    assert list(run.retention.not_deleted) == [first]
    assert second in run.retention.deleted  # the one after it still went
    check = recorded.checks()["backup-retention"]
    assert check["status"] == "fail" and check["value"] == 1
    assert f"{first}: " in check["message"] and "a mount point, not entered" in check["message"]
    assert "1 NOT deleted" in recorded.summaries()[0]
    assert (tmp_path / "outside" / "precious0.txt").read_text() == "not the store's"


_READS_THE_STORE = """\
import sys
from pathlib import Path
from upkeep.backup.stores.directory import DirectoryStore
with DirectoryStore(Path(sys.argv[1])).reading():
    print("reading", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_retention_deletes_nothing_while_a_restore_reads_the_store(tmp_path: Path) -> None:
    # A nightly backup's retention deleted the backup an `upkeep restore` was reading, which
    # then called it damaged ("piece ... is missing"). The restore is stood in for by a
    # process holding the store for reading, as `upkeep restore` does.
    config = _sqlite_config(tmp_path)
    for _ in range(2):
        backup.back_up_all(config, retention=False)
    first, _ = (m.id for m in backup.open_store(config).manifests("app"))
    reader = subprocess.Popen(
        [sys.executable, "-c", _READS_THE_STORE, str(tmp_path / "store")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline() == "reading\n"
        held = backup.back_up_all(config)
    finally:
        assert reader.stdin is not None
        reader.stdin.close()
        reader.wait(timeout=60)
    assert held.retention.skipped == "a restore or a backup verification is reading the store"
    assert first in [m.id for m in backup.open_store(config).manifests("app")]
    freed = backup.back_up_all(config)  # the reader gone: retention runs
    assert freed.retention.skipped is None and first in freed.retention.deleted
