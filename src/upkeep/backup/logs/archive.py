"""Responsible for archiving a log's rotated copies into the log archive store, each once: a copy
is read once to learn its content's sha256 (its identity across renames and compression), then,
if the store does not hold that content for that log yet, compressed into a staging folder,
read a second time on the way (a copy that changed meanwhile is not published) and published by
one rename, each read only while the copy is still the file the listing showed (one swapped
since, for a symlink or another file, is skipped and named, never read); and for checking,
restoring and expiring archives (retention: the log's `retention_days`, else
`log_backup.keep_days`, counted from the archive's newest line).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from upkeep import __version__
from upkeep.atomic import fsync_dir
from upkeep.backup.logs.content import CHUNK, ContentFacts, ContentReader
from upkeep.backup.logs.store import (
    CONTENT_PIECE,
    LogArchive,
    LogArchiveStore,
    archive_id,
    copy_key,
)
from upkeep.backup.stores.interface import DamagedEntry, StoreError
from upkeep.config import LogSource
from upkeep.config.log_backup import LogBackup
from upkeep.logs.layout import COMPRESSED_SUFFIX, copies_in_directory, matching_logs, newest_first
from upkeep.logs.regular_files import ChangedSinceListed, open_listed

__all__ = [
    "GZIP_LEVEL",
    "CopyOutcome",
    "CopyState",
    "LogBackupRun",
    "apply_retention",
    "archive_copy",
    "archive_listed",
    "archive_logs",
    "expired",
    "listed_copies",
    "read_content",
    "restore_archive",
    "retention_days",
    "verify_archive",
]

GZIP_LEVEL = 6  # gzip's default: `zcat` and `gunzip` read it anywhere


class CopyState(StrEnum):
    """What happened to one rotated copy in a log backup run."""

    ARCHIVED = "archived"  # archived by this run
    ALREADY = "already archived"  # its content was archived before (under any name)
    SETTLING = "settling"  # modified less than settle_s ago: next run
    EXPIRED = "past retention"  # its newest line is older than the retention: never archived
    SKIPPED = "skipped"  # not a regular file (a symlink, a FIFO), or swapped since: never read
    FAILED = "failed"


@dataclass(frozen=True)
class CopyOutcome:
    log: str
    path: Path
    state: CopyState
    archive: str | None = None
    detail: str = ""
    stored_bytes: int = 0


@dataclass(frozen=True)
class LogBackupRun:
    """A whole run: each copy's outcome, the archives retention deleted, the store's damaged
    folders and what a crash had left there; `nothing_to_do` says why nothing was looked at."""

    store: str
    copies: tuple[CopyOutcome, ...] = ()
    deleted: tuple[str, ...] = ()
    not_deleted: tuple[str, ...] = ()  # past retention, but the deletion failed (with why)
    damaged: tuple[DamagedEntry, ...] = ()
    recovered: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()
    nothing_to_do: str | None = None
    kept: dict[str, int] = field(default_factory=dict)


def retention_days(log: LogSource, settings: LogBackup) -> int:
    """How long the log's archives are kept: its `retention_days`, else `keep_days`."""
    return log.retention_days if log.retention_days is not None else settings.keep_days


def expired(newest_line: datetime, days: int, now: datetime) -> bool:
    """Whether lines whose newest is `newest_line` are past a retention of `days`: strictly
    older than `days` days (at exactly `days` days they are still kept)."""
    return now - newest_line > timedelta(days=days)


@contextlib.contextmanager
def _content(path: Path, listed: os.stat_result) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """The copy's content, read through gzip when it is named `.gz`, and its `stat` as opened:
    only when it is still the regular file `listed` (else `ChangedSinceListed`)."""
    with open_listed(path, listed) as handle:
        opened = os.fstat(handle.fileno())
        if not path.name.endswith(COMPRESSED_SUFFIX):
            yield handle, opened
            return
        with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
            yield unpacked, opened  # type: ignore[misc]


def read_content(
    path: Path, now: datetime, listed: os.stat_result
) -> tuple[ContentFacts, os.stat_result]:
    """What the copy at `path` holds, and its `stat` as opened; `listed` is its `lstat` when its
    folder was listed, and the copy is read only while it is still that file."""
    reader = ContentReader(now)
    with _content(path, listed) as (handle, opened):
        while chunk := handle.read(CHUNK):
            reader.feed(chunk)
    return reader.facts(), opened


def _modified(status: os.stat_result) -> datetime:
    return datetime.fromtimestamp(status.st_mtime, tz=UTC)


def archive_copy(
    store: LogArchiveStore,
    log: LogSource,
    path: Path,
    settings: LogBackup,
    now: datetime,
    *,
    listed: os.stat_result,
) -> CopyOutcome:
    """Archive the copy at `path` of `log` unless its content is archived already or past the
    log's retention; `listed` is its `lstat` when its folder was listed. Raises OSError
    (`ChangedSinceListed` when it is no longer that file) or StoreError when it cannot be read
    or stored."""
    facts, status = read_content(path, now, listed)
    newest = facts.last_line_at or _modified(status)
    if expired(newest, retention_days(log, settings), now):
        detail = f"newest line {newest.isoformat(timespec='seconds')}"
        return CopyOutcome(log.name, path, CopyState.EXPIRED, detail=detail)
    name = archive_id(log.name, facts.sha256)
    with store.locked():
        if store.holds(name):
            return CopyOutcome(log.name, path, CopyState.ALREADY, name)
        staging = store.new_staging(name)
        try:
            stored_bytes, stored_sha256, again = _compress(
                path, listed, staging / CONTENT_PIECE, now
            )
            if again.sha256 != facts.sha256:
                raise StoreError(f"{path} changed while it was archived; archived next run")
            archive = LogArchive(
                id=name,
                log=log.name,
                source=str(path),
                content_sha256=facts.sha256,
                content_bytes=facts.size,
                lines=facts.lines,
                first_line_at=_iso(facts.first_line_at),
                last_line_at=_iso(facts.last_line_at),
                copy_modified=_modified(status).isoformat(),
                archived_at=now.astimezone(UTC).isoformat(timespec="seconds"),
                stored_bytes=stored_bytes,
                stored_sha256=stored_sha256,
                upkeep_version=__version__,
            )
            store.put(staging, archive)
        except BaseException:
            store.discard(staging)
            raise
    return CopyOutcome(log.name, path, CopyState.ARCHIVED, name, stored_bytes=stored_bytes)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


class _HashingWriter:
    """What gzip writes, hashed and counted on its way to the file."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def _compress(
    source: Path, listed: os.stat_result, target: Path, now: datetime
) -> tuple[int, str, ContentFacts]:
    """gzip `source`'s content (while it is still the file `listed`) into the new file `target`
    (0600, fsynced); return its size, its sha256 and what the content read this time holds."""
    reader = ContentReader(now)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(descriptor, "wb") as raw, _content(source, listed) as (plain, _):
        hashing = _HashingWriter(raw)
        with gzip.GzipFile(
            filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=hashing, mtime=0
        ) as packed:  # type: ignore[arg-type]
            while chunk := plain.read(CHUNK):
                reader.feed(chunk)
                packed.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    return hashing.size, hashing.digest.hexdigest(), reader.facts()


def listed_copies(log: LogSource) -> Iterator[tuple[LogSource, Path, os.stat_result]]:
    """Every rotated copy of the log (of each file a wildcard matches), newest first, with its
    `lstat` as listed."""
    for matched in matching_logs(log):
        try:
            found = newest_first(copies_in_directory(matched.path))
        except FileNotFoundError:
            continue
        for copy in found:
            yield matched, copy.path, copy.stat


def archive_logs(
    settings: LogBackup,
    logs: Sequence[LogSource],
    now: datetime | None = None,
    *,
    retention: bool = True,
) -> LogBackupRun:
    """Archive every rotated copy of every log `settings` covers, then apply retention."""
    if settings.dir is None:
        return LogBackupRun(
            "", nothing_to_do="upkeep.yml has no log_backup: section: log copies are not archived"
        )
    now = now or datetime.now(UTC)
    store = LogArchiveStore(settings.dir)
    recovered = store.recover()
    covered = [log for log in logs if settings.covers(log.name)]
    if not covered:
        return LogBackupRun(store.location, nothing_to_do="upkeep.yml lists no logs to archive")
    outcomes = []
    known, seen = store.known_copies(), {}
    for log in covered:
        for matched, path, status in listed_copies(log):
            outcome = archive_listed(store, matched, path, status, settings, now, known)
            outcomes.append(outcome)
            if outcome.archive is not None:
                seen[copy_key(status)] = outcome.archive
    store.remember_copies(seen)
    not_deleted: list[str] = []
    deleted = apply_retention(store, settings, logs, now, not_deleted) if retention else []
    kept: dict[str, int] = {}
    for archive in store.archives():
        kept[archive.log] = kept.get(archive.log, 0) + 1
    return LogBackupRun(
        store.location,
        copies=tuple(outcomes),
        deleted=tuple(deleted),
        not_deleted=tuple(not_deleted),
        damaged=tuple(store.damaged()),
        recovered=tuple(recovered),
        logs=tuple(log.name for log in covered),
        kept=kept,
    )


def archive_listed(
    store: LogArchiveStore,
    log: LogSource,
    path: Path,
    status: os.stat_result,
    settings: LogBackup,
    now: datetime,
    known: dict[str, str],
) -> CopyOutcome:
    """The outcome of archiving one copy `listed_copies` found with `status`; `known` maps the
    copies archived before (`copy_key`) to their archives."""
    if not stat.S_ISREG(status.st_mode):
        return CopyOutcome(log.name, path, CopyState.SKIPPED, detail="not a regular file")
    age_s = now.timestamp() - status.st_mtime
    if not path.name.endswith(COMPRESSED_SUFFIX) and 0 <= age_s < settings.settle_s:
        detail = f"modified {age_s:.0f} s ago (settle_s {settings.settle_s:g}): next run"
        return CopyOutcome(log.name, path, CopyState.SETTLING, detail=detail)
    archived = known.get(copy_key(status))
    if archived is not None and store.holds(archived):
        return CopyOutcome(log.name, path, CopyState.ALREADY, archived, "the same file as then")
    try:
        return archive_copy(store, log, path, settings, now, listed=status)
    except ChangedSinceListed as changed:
        # Rotated on (another copy renamed onto its name), or swapped for a symlink or another
        # file: what is there now was never listed, so it is not read; the next run lists it.
        return CopyOutcome(
            log.name, path, CopyState.SKIPPED, detail=f"changed since it was listed: {changed.now}"
        )
    except FileNotFoundError:
        # Rotated on (renamed or compressed) meanwhile: its content is read under the new name.
        return CopyOutcome(log.name, path, CopyState.SKIPPED, detail="renamed while listed")
    except (OSError, StoreError, EOFError, zlib.error) as exc:
        return CopyOutcome(log.name, path, CopyState.FAILED, detail=_reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename or ''}: {exc.strerror}".lstrip(": ")
    return str(exc) or type(exc).__name__


def apply_retention(
    store: LogArchiveStore,
    settings: LogBackup,
    logs: Sequence[LogSource],
    now: datetime,
    not_deleted: list[str] | None = None,
) -> list[str]:
    """Delete every archive whose newest line is past its log's retention (`retention_days`,
    else `keep_days`; a log no longer configured: `keep_days`). An archive that cannot be
    deleted is appended to `not_deleted` with why, or raises when that is None."""
    by_name = {log.name: log for log in logs}
    deleted = []
    with store.locked():
        for archive in store.archives():
            configured = by_name.get(archive.log.split(":", 1)[0])
            days = settings.keep_days
            if configured is not None:
                days = retention_days(configured, settings)
            if expired(archive.newest_line, days, now):
                try:
                    store.delete(archive.id)
                except OSError as exc:
                    if not_deleted is None:
                        raise
                    not_deleted.append(f"{archive.id}: {exc.strerror or exc}")
                    continue
                deleted.append(archive.id)
    return deleted


def verify_archive(store: LogArchiveStore, archive: LogArchive) -> list[str]:
    """Check one archive: the stored piece's size and sha256, then its content decompressed:
    sha256, bytes and lines as the manifest says. Returns the problems found (none: sound)."""
    return _unpack(store, archive, None)


def _unpack(store: LogArchiveStore, archive: LogArchive, sink: BinaryIO | None) -> list[str]:
    """Stream the archive's content into `sink` (if any), checking it on the way."""
    digest, size, newlines, last = hashlib.sha256(), 0, 0, b""
    try:
        stored = store.read_piece(archive)
        with gzip.GzipFile(fileobj=io.BytesIO(stored), mode="rb") as unpacked:
            while chunk := unpacked.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
                if sink is not None:
                    sink.write(chunk)
    except StoreError as exc:
        return [str(exc)]
    except (OSError, EOFError, zlib.error) as exc:
        return [f"{archive.id}/{CONTENT_PIECE} does not decompress: {exc}"]
    problems = []
    if digest.hexdigest() != archive.content_sha256:
        problems.append(f"{archive.id}: the content's sha256 differs from the manifest")
    if size != archive.content_bytes:
        problems.append(f"{archive.id}: {size} bytes, the manifest says {archive.content_bytes}")
    lines = newlines + (1 if last not in (b"", b"\n") else 0)
    if lines != archive.lines:
        problems.append(f"{archive.id}: {lines} lines, the manifest says {archive.lines}")
    return problems


def restore_archive(store: LogArchiveStore, archive: LogArchive, target: Path) -> list[str]:
    """Write the archive's content, checked, to the new file `target` (0600): written aside,
    then linked into place, so `target` appears whole or not at all and an existing file is never
    replaced (FileExistsError). Returns the problems found: with any, nothing is written."""
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{target} exists already; expected a new path")
    aside = target.with_name(f".{target.name}.{os.getpid()}.restoring")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            problems = _unpack(store, archive, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if not problems:
            os.link(aside, target)
    finally:
        aside.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return problems
