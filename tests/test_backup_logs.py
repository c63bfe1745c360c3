"""Tests for log backups (upkeep.backup.logs): real rotated logs, plain and gzipped, rotated for
real by copytruncate and by rename, archived once each by content; a SIGKILL mid-archive, a
corrupted archive, the retention boundary, rotation archiving a copy before deleting it, and a
copy swapped for a symlink or another file after it was listed."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.fifo import without_waiting_on

from upkeep.backup.logs.archive import (
    CopyState,
    apply_retention,
    archive_listed,
    archive_logs,
    listed_copies,
    restore_archive,
    verify_archive,
)
from upkeep.backup.logs.guard import ArchiveFirst
from upkeep.backup.logs.store import LogArchive, LogArchiveStore
from upkeep.backup.stores.interface import CorruptPiece
from upkeep.config import LogRotation, LogSource, load_config
from upkeep.config.log_backup import LogBackup
from upkeep.errors import ConfigError
from upkeep.logs.regular_files import ChangedSinceListed
from upkeep.logs.rotate import rotate_logs
from upkeep.logs.rotation_plan import RotationProblemKind

NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


def lines(day: datetime, count: int, tag: str) -> bytes:
    return b"".join(
        f"{(day + timedelta(minutes=i)).isoformat(sep=' ')[:19]} INFO {tag} {i}\n".encode()
        for i in range(count)
    )


def settings(tmp_path: Path, **kwargs: object) -> LogBackup:
    return LogBackup(dir=tmp_path / "log-backups", settle_s=0, **kwargs)  # type: ignore[arg-type]


def log_source(tmp_path: Path, name: str = "app", **kwargs: object) -> LogSource:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return LogSource(name, tmp_path / "logs" / f"{name}.log", **kwargs)  # type: ignore[arg-type]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archived_contents(store: LogArchiveStore, tmp_path: Path) -> list[bytes]:
    """Every archive restored (checked) to a new file, oldest lines first."""
    contents = []
    for n, archive in enumerate(store.archives()):
        target = tmp_path / f"restored-{n}.log"
        assert restore_archive(store, archive, target) == []
        contents.append(target.read_bytes())
    return contents


def test_plain_and_gzipped_copies_are_archived_once_across_a_rename(tmp_path: Path) -> None:
    log = log_source(tmp_path, retention_days=30)
    one, two = lines(NOW - timedelta(days=1), 50, "one"), lines(NOW - timedelta(days=2), 40, "two")
    log.path.write_bytes(lines(NOW, 5, "live"))
    (tmp_path / "logs/app.log.1").write_bytes(one)
    (tmp_path / "logs/app.log.2.gz").write_bytes(gzip.compress(two))
    (tmp_path / "logs/app.log-20261110").write_bytes(b"no stamp here\nnor here")
    backup = settings(tmp_path)

    first = archive_logs(backup, [log], NOW)
    assert sorted((c.path.name, c.state) for c in first.copies) == [
        ("app.log-20261110", CopyState.ARCHIVED),
        ("app.log.1", CopyState.ARCHIVED),
        ("app.log.2.gz", CopyState.ARCHIVED),
    ]
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    by_sha = {a.content_sha256: a for a in store.archives()}
    assert set(by_sha) == {sha(one), sha(two), sha(b"no stamp here\nnor here")}
    assert (by_sha[sha(one)].lines, by_sha[sha(one)].content_bytes) == (50, len(one))
    assert by_sha[sha(two)].first_line_at == (NOW - timedelta(days=2)).isoformat()
    assert by_sha[sha(two)].last_line_at == (NOW - timedelta(days=2, minutes=-39)).isoformat()
    undated = by_sha[sha(b"no stamp here\nnor here")]
    assert (undated.lines, undated.first_line_at, undated.last_line_at) == (2, None, None)
    assert log.path.read_bytes() == lines(NOW, 5, "live")  # the live log is never archived

    # logrotate moves on: .2.gz -> .3.gz, .1 -> .2.gz (compressed), a new .1
    os.rename(tmp_path / "logs/app.log.2.gz", tmp_path / "logs/app.log.3.gz")
    (tmp_path / "logs/app.log.2.gz").write_bytes(gzip.compress(one, compresslevel=9))
    (tmp_path / "logs/app.log.1").write_bytes(three := lines(NOW, 20, "three"))
    second = archive_logs(backup, [log], NOW + timedelta(hours=1))
    states = {c.path.name: c.state for c in second.copies}
    assert states["app.log.2.gz"] is states["app.log.3.gz"] is CopyState.ALREADY
    assert states["app.log.1"] is CopyState.ARCHIVED
    assert len(store.archives()) == 4
    assert sorted(archived_contents(store, tmp_path)) == sorted(
        [one, two, three, b"no stamp here\nnor here"]
    )
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in tmp_path.glob("restored-*"))


def _rotate(log: LogSource, tmp_path: Path, now: datetime, keeper: object = None) -> object:
    [result] = rotate_logs(
        [log], state_dir=tmp_path / "state", dry_run=False, now=now, keeper=keeper
    )  # type: ignore[arg-type]
    return result


@pytest.mark.parametrize("method", ["copytruncate", "rename"])
def test_real_rotations_lose_no_line_and_archive_nothing_twice(tmp_path: Path, method: str) -> None:
    extra = {"postrotate": "true"} if method == "rename" else {}
    policy = LogRotation(max_bytes=10, keep=2, method=method, **extra)  # type: ignore[arg-type]
    log = log_source(tmp_path, rotate=policy)
    backup = settings(tmp_path)
    written = []
    for day in range(5):
        now = NOW + timedelta(days=day)
        chunk = lines(now - timedelta(hours=1), 30 + day, f"day{day}")
        with log.path.open("ab") as handle:
            handle.write(chunk)
        written.append(chunk)
        result = _rotate(log, tmp_path, now, ArchiveFirst(backup, now))
        assert result.rotated and result.problems == (), result  # type: ignore[attr-defined]
    # No log backup ran: the copies rotation deleted (days 0 to 2) were archived by it first.
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    assert sorted(a.content_sha256 for a in store.archives()) == sorted(map(sha, written[:3]))
    archive_logs(backup, [log], NOW + timedelta(days=5))
    contents = archived_contents(store, tmp_path)
    assert sorted(contents) == sorted(written)  # every line, each copy exactly once
    assert len({a.content_sha256 for a in store.archives()}) == len(store.archives()) == 5


def test_rotation_archives_a_copy_before_deleting_it_or_deletes_nothing(tmp_path: Path) -> None:
    policy = LogRotation(max_bytes=10, keep=1, method="copytruncate", compress=False)
    log = log_source(tmp_path, rotate=policy)
    old = lines(NOW - timedelta(days=1), 10, "old")
    (tmp_path / "logs/app.log.1").write_bytes(old)
    log.path.write_bytes(lines(NOW, 10, "new"))

    # The store cannot be written (its path is a file): the copy stays, the log is not rotated.
    broken = LogBackup(dir=tmp_path / "not-a-folder", settle_s=0)
    (tmp_path / "not-a-folder").write_text("in the way")
    result = _rotate(log, tmp_path, NOW, ArchiveFirst(broken, NOW))
    assert not result.rotated  # type: ignore[attr-defined]
    [problem] = result.problems  # type: ignore[attr-defined]
    assert problem.kind is RotationProblemKind.UNARCHIVED and "app.log.1" in problem.message
    assert (tmp_path / "logs/app.log.1").read_bytes() == old
    assert log.path.read_bytes() == lines(NOW, 10, "new")

    backup = settings(tmp_path)
    result = _rotate(log, tmp_path, NOW, ArchiveFirst(backup, NOW))
    assert result.rotated and result.problems == ()  # type: ignore[attr-defined]
    assert [s.action for s in result.steps][:2] == ["archive", "delete"]  # type: ignore[attr-defined]
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    assert [a.content_sha256 for a in store.archives()] == [sha(old)]
    assert (tmp_path / "logs/app.log.1").read_bytes() == lines(NOW, 10, "new")


def test_a_log_not_covered_is_rotated_as_before(tmp_path: Path) -> None:
    policy = LogRotation(max_bytes=10, keep=1, method="copytruncate", compress=False)
    log = log_source(tmp_path, rotate=policy)
    (tmp_path / "logs/app.log.1").write_bytes(b"old\n")
    log.path.write_bytes(b"new\n")
    backup = settings(tmp_path, logs=("other",))
    result = _rotate(log, tmp_path, NOW, ArchiveFirst(backup, NOW))
    assert "archive" not in [s.action for s in result.steps]  # type: ignore[attr-defined]
    assert (
        not (tmp_path / "log-backups").exists()
        or not LogArchiveStore(tmp_path / "log-backups").archives()
    )


def test_retention_boundary_counts_from_the_newest_line(tmp_path: Path) -> None:
    log = log_source(tmp_path, retention_days=10)
    newest = NOW - timedelta(days=3)
    (tmp_path / "logs/app.log.1").write_bytes(lines(newest - timedelta(minutes=9), 10, "x"))
    backup = settings(tmp_path, keep_days=1000)
    archive_logs(backup, [log], NOW)
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    [archive] = store.archives()
    assert archive.newest_line == newest
    at_boundary = newest + timedelta(days=10)
    assert apply_retention(store, backup, [log], at_boundary) == []
    assert apply_retention(store, backup, [log], at_boundary + timedelta(seconds=1)) == [archive.id]
    assert store.archives() == []
    # A copy already past its retention is not archived again (its lines may not be kept).
    again = archive_logs(backup, [log], at_boundary + timedelta(seconds=1))
    assert [c.state for c in again.copies] == [CopyState.EXPIRED] and store.archives() == []
    # Without retention_days, keep_days rules.
    plain = log_source(tmp_path, name="plain")
    (tmp_path / "logs/plain.log.1").write_bytes(lines(newest - timedelta(minutes=9), 10, "y"))
    short = settings(tmp_path, keep_days=2)
    assert [c.state for c in archive_logs(short, [plain], NOW).copies] == [CopyState.EXPIRED]


def _one_archive(tmp_path: Path, count: int) -> tuple[LogArchiveStore, LogArchive]:
    """The store, and the one archive in it, of a rotated copy of `count` lines."""
    log = log_source(tmp_path)
    (tmp_path / "logs/app.log.1").write_bytes(lines(NOW, count, "x"))
    backup = settings(tmp_path)
    archive_logs(backup, [log], NOW)
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    [archive] = store.archives()
    return store, archive


def test_a_corrupted_archive_is_found_and_never_restored(tmp_path: Path) -> None:
    store, archive = _one_archive(tmp_path, 200)
    assert verify_archive(store, archive) == []
    piece = store.piece_path(archive)
    data = bytearray(piece.read_bytes())
    data[len(data) // 2] ^= 0xFF
    piece.write_bytes(bytes(data))
    [problem] = verify_archive(store, archive)
    assert "sha256 differs" in problem and archive.id in problem
    assert restore_archive(store, archive, tmp_path / "out.log") == [problem]
    assert not (tmp_path / "out.log").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    # A manifest lying about the lines is caught too, after the stored bytes check out.
    piece.unlink()
    assert "missing" in verify_archive(store, archive)[0]


KILLED_ARCHIVE = textwrap.dedent("""\
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from upkeep.backup.logs import store
    from upkeep.backup.logs.archive import archive_logs
    from upkeep.config import LogSource
    from upkeep.config.log_backup import LogBackup

    put = store.LogArchiveStore.put
    def slow_put(self, staging, archive):
        print("staged", flush=True)
        time.sleep(30)  # the parent kills us here: the content written, nothing published
        return put(self, staging, archive)
    store.LogArchiveStore.put = slow_put
    archive_logs(LogBackup(dir=Path(sys.argv[1]), settle_s=0),
                 [LogSource("app", Path(sys.argv[2]))], datetime.now(UTC))
""")


def test_a_kill_mid_archive_publishes_nothing_and_the_next_run_archives_once(
    tmp_path: Path,
) -> None:
    log = log_source(tmp_path)
    content = lines(NOW, 20000, "bulk")
    (tmp_path / "logs/app.log.1").write_bytes(content)
    root = tmp_path / "log-backups"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_ARCHIVE, str(root), str(log.path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "staged"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    left = sorted(p.name for p in root.iterdir() if p.name != ".lock")
    assert len(left) == 1 and left[0].startswith(".staging-")
    store = LogArchiveStore(root)
    assert store.archives() == [] and store.damaged() == []

    run = archive_logs(settings(tmp_path), [log], NOW)
    assert run.recovered and "interrupted" in run.recovered[0]
    assert [c.state for c in run.copies] == [CopyState.ARCHIVED]
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".staging")) == []
    [archive] = store.archives()
    assert verify_archive(store, archive) == [] and archive.lines == 20000


def test_a_damaged_folder_is_named_and_kept(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    (tmp_path / "logs/app.log.1").write_bytes(b"2026-11-17 01:00:00 one line\n")
    backup = settings(tmp_path)
    archive_logs(backup, [log], NOW)
    [archive] = LogArchiveStore(backup.dir).archives()  # type: ignore[arg-type]
    (backup.dir / archive.id / "manifest.json").unlink()  # type: ignore[operator]
    run = archive_logs(backup, [log], NOW)
    assert [entry.name for entry in run.damaged] == [archive.id]
    assert (backup.dir / archive.id / "content.gz").exists()  # type: ignore[operator]


def test_the_config_section_is_checked_at_load(tmp_path: Path) -> None:
    config = tmp_path / "upkeep.yml"
    head = "logs:\n  - {name: app, path: app.log, retention_days: 7}\n"
    config.write_text(head + "log_backup: {dir: log-backups}\n")
    loaded = load_config(config).log_backup
    assert loaded == LogBackup(dir=tmp_path / "log-backups")
    for section, expected in (
        ("log_backup: {dir: b/logs}\nbackup: {dir: b}\n", "is inside backup.dir"),
        ("log_backup: {dir: x, logs: [nope]}\n", "log_backup.logs: expected names of logs"),
        ("log_backup: {keep_days: 3}\n", "log_backup.dir: required key is missing"),
        ("log_backup: {dir: x, keep_days: 0}\n", "log_backup.keep_days: expected an integer >= 1"),
        ("log_backup: {dir: x, every: 1}\n", "log_backup.every: unknown key"),
    ):
        config.write_text(head + section)
        with pytest.raises(ConfigError, match=expected):
            load_config(config)


def test_a_copy_seen_before_is_not_read_again_unless_its_archive_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upkeep.backup.logs import archive as archive_module

    log = log_source(tmp_path)
    (tmp_path / "logs/app.log.1").write_bytes(lines(NOW, 30, "x"))
    backup = settings(tmp_path)
    archive_logs(backup, [log], NOW)
    os.rename(tmp_path / "logs/app.log.1", tmp_path / "logs/app.log.2")  # the same file

    def unread(path: Path, *_: object) -> object:
        raise AssertionError(f"{path} was read again")

    with monkeypatch.context() as patched:
        patched.setattr(archive_module, "read_content", unread)
        [again] = archive_logs(backup, [log], NOW).copies
    assert again.state is CopyState.ALREADY and again.detail == "the same file as then"
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    store.delete(again.archive)  # type: ignore[arg-type]
    [back] = archive_logs(backup, [log], NOW).copies  # the record is stale: read, archived
    assert back.state is CopyState.ARCHIVED and len(store.archives()) == 1


def test_a_manifest_that_says_nonsense_is_a_damaged_folder(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    (tmp_path / "logs/app.log.1").write_bytes(lines(NOW, 3, "x"))
    backup = settings(tmp_path)
    archive_logs(backup, [log], NOW)
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]
    [archive] = store.archives()
    manifest = store.root / archive.id / "manifest.json"
    manifest.write_text(manifest.read_text().replace(archive.copy_modified, "yesterday"))
    assert store.archives() == []
    [entry] = store.damaged()
    assert entry.name == archive.id and "not a log archive manifest" in entry.reason


def test_no_cleaning_root_may_hold_the_log_archive_store(tmp_path: Path) -> None:
    config = tmp_path / "upkeep.yml"
    config.write_text(
        "log_backup: {dir: scratch/log-backups}\n"
        "cleanup: {temp_roots: [{path: scratch, max_age_days: 1}]}\n"
    )
    (tmp_path / "scratch").mkdir()
    with pytest.raises(ConfigError, match="the log archive store"):
        load_config(config)


def _secret(tmp_path: Path) -> bytes:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"2026-11-17 01:00:00 root password hunter2\n")
    secret.chmod(0o600)
    return secret.read_bytes()


def _everything_stored(backup: LogBackup) -> bytes:
    """Every file of the store, its archives decompressed: where a secret read would show."""
    found = b""
    for path in sorted(backup.dir.rglob("*")):  # type: ignore[union-attr]
        if path.is_file():
            data = path.read_bytes()
            found += gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return found


def _swap(copy: Path, swap: str, tmp_path: Path) -> None:
    """Put something else under the copy's name: a symlink to the secret, or another file."""
    if swap == "symlink":
        (tmp_path / "logs/swapped").symlink_to(tmp_path / "secret.txt")
    else:
        os.link(tmp_path / "secret.txt", tmp_path / "logs/swapped")
    os.replace(tmp_path / "logs/swapped", copy)


@pytest.mark.parametrize("swap", ["symlink", "another file"])
def test_a_copy_swapped_after_it_was_listed_is_named_and_never_archived(
    tmp_path: Path, swap: str
) -> None:
    log = log_source(tmp_path)
    secret = _secret(tmp_path)
    one, two = lines(NOW - timedelta(days=1), 50, "one"), lines(NOW - timedelta(days=2), 40, "two")
    (tmp_path / "logs/app.log.1").write_bytes(one)
    (tmp_path / "logs/app.log.2").write_bytes(two)
    backup = settings(tmp_path)
    store = LogArchiveStore(backup.dir)  # type: ignore[arg-type]

    listed = list(listed_copies(log))  # what a run lists before it archives the first copy
    assert [path.name for _, path, _ in listed] == ["app.log.1", "app.log.2"]
    _swap(tmp_path / "logs/app.log.2", swap, tmp_path)
    outcomes = [
        archive_listed(store, matched, path, status, backup, NOW, {})
        for matched, path, status in listed
    ]

    assert [(o.path.name, o.state) for o in outcomes] == [
        ("app.log.1", CopyState.ARCHIVED),
        ("app.log.2", CopyState.SKIPPED),
    ]
    expected = "a symlink" if swap == "symlink" else "another file"
    assert outcomes[1].detail == f"changed since it was listed: {expected}"
    assert archived_contents(store, tmp_path) == [one]
    assert secret not in _everything_stored(backup)


def test_rotation_archives_only_the_copy_it_judged(tmp_path: Path) -> None:
    log = log_source(tmp_path)
    secret = _secret(tmp_path)
    copy = tmp_path / "logs/app.log.1"
    copy.write_bytes(lines(NOW - timedelta(days=1), 20, "old"))
    backup = settings(tmp_path)
    keeper = ArchiveFirst(backup, NOW)

    assert keeper.must_archive(log, copy)
    _swap(copy, "symlink", tmp_path)
    with pytest.raises(ChangedSinceListed, match="changed since it was listed"):
        keeper.archive(log, copy)
    assert LogArchiveStore(backup.dir).archives() == []  # type: ignore[arg-type]
    assert secret not in _everything_stored(backup)


def test_an_archive_whose_files_are_a_fifo_or_a_link_is_named_never_read(tmp_path: Path) -> None:
    # A FIFO held `upkeep restore --log` and the weekly check for good; a link to /dev/zero
    # was read until the memory ran out.
    store, archive = _one_archive(tmp_path, 3)
    content = store.piece_path(archive)
    content.unlink()
    content.symlink_to("/dev/zero")
    with pytest.raises(CorruptPiece, match="is a symlink, not a piece: never read"):
        store.read_piece(archive)
    manifest = store.root / archive.id / "manifest.json"
    manifest.unlink()
    os.mkfifo(manifest)
    assert without_waiting_on(manifest, store.archives) == []
    [entry] = store.damaged()
    assert entry.reason.endswith("manifest.json: a FIFO, not a manifest: never read")
