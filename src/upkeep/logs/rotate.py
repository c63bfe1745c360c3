"""Responsible for rotating configured log files into numbered copies, gzipped from the second
one on (the layout of `upkeep.logs.layout`): each log's plan from `rotation_plan` is carried out
step by step, or in a dry run only checked; nothing is followed (a log or copy that is a symlink
or not a regular file stops that log's rotation), copies are deleted through
`safedelete.remove_entry` with the log's directory as the root, files are opened with
`O_NOFOLLOW` and created with `O_EXCL` (with the mode and owner `create` names), and the writer
of a renamed log is told to reopen it: signalled through its pid file, or by the `postrotate`
command. A wildcard path rotates every log it matches. With a `CopyKeeper` (log backups
configured), a copy the plan deletes is archived first (an `archive` step before the deletions);
when it cannot be archived, nothing of that log is deleted or rotated, and that is reported.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import gzip
import os
import pwd
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from upkeep.atomic import fsync_dir
from upkeep.cleaning.safedelete import RootError, open_root, remove_entry
from upkeep.config import LogCreate, LogRotation, LogSource
from upkeep.logs.layout import copied_log, matching_logs
from upkeep.logs.reopen import no_pid_file, postrotate, signal_writer, unreopened, writer_pid
from upkeep.logs.rotation_plan import (
    CopySurvey,
    RotationProblem,
    RotationProblemKind,
    RotationResult,
    Step,
    StepAction,
    decide,
    first_seen,
    last_rotated,
    plan_steps,
    remember_first_seen,
    survey,
)
from upkeep.records import Severity

__all__ = ["CopyKeeper", "rotate_logs"]

GZIP_LEVEL = 6  # gzip's own default: what `gzip`, logrotate and zcat users expect
COPY_BUFFER = 1 << 20


class CopyKeeper(Protocol):
    """Keeps rotated copies that must not be lost: log backups (`upkeep.backup.logs.guard`)."""

    def must_archive(self, log: LogSource, copy: Path) -> bool:
        """Whether deleting `copy` of `log` would lose lines not archived yet."""

    def archive(self, log: LogSource, copy: Path) -> None:
        """Archive `copy` of `log` (a no-op if it is archived already); OSError if it cannot."""


def rotate_logs(
    logs: Sequence[LogSource],
    *,
    state_dir: Path,
    dry_run: bool,
    now: datetime | None = None,
    keeper: CopyKeeper | None = None,
) -> list[RotationResult]:
    """Rotate every log in `logs` that has a `rotate` policy and is due; prune old copies.

    `now` must be timezone-aware: periods (a calendar hour, day, ISO week or month) are counted
    in its time zone; the default is the machine's local time. A dry run plans exactly what a
    real run would do, reports it, and changes nothing.
    """
    now = now or datetime.now(UTC).astimezone()
    if now.tzinfo is None:
        raise ValueError("rotate_logs: `now` must be timezone-aware (periods depend on the zone)")
    results = []
    for configured in logs:
        if configured.rotate is None:
            continue
        try:
            matched = matching_logs(configured)
        except OSError as exc:  # the folder of a wildcard path cannot be listed
            results.append(_failed(configured, configured.rotate, dry_run, exc))
            continue
        for log in matched:
            if log is not configured and (base := copied_log(log.path.name)) is not None:
                # A copy whose log is missing: scanned as a log of its own, never rotated
                # (that made `app.log.1.1` and left an empty `app.log.2.gz`, out of `keep`).
                why = f"named like a rotated copy of {base}, which is not there"
                results.append(_not_a_log(log, configured.rotate, dry_run, why))
                continue
            try:
                results.append(_rotate_one(log, configured.rotate, state_dir, dry_run, now, keeper))
            except OSError as exc:  # one log's trouble never stops the others
                results.append(_failed(log, configured.rotate, dry_run, exc))
    return results


def _not_a_log(log: LogSource, policy: LogRotation, dry_run: bool, why: str) -> RotationResult:
    size = 0
    with contextlib.suppress(OSError):
        size = os.lstat(log.path).st_size
    return RotationResult(log.name, log.path, policy.method, False, why, dry_run, size)


def _failed(log: LogSource, policy: LogRotation, dry_run: bool, exc: OSError) -> RotationResult:
    where = exc.filename or log.path
    problem = RotationProblem(
        RotationProblemKind.ERROR, f"{where}: {exc.strerror or exc}", Severity.FAIL
    )
    failed = RotationResult(log.name, log.path, policy.method, False, "error", dry_run, 0)
    return replace(failed, problems=(problem,))


def _rotate_one(
    log: LogSource,
    policy: LogRotation,
    state_dir: Path,
    dry_run: bool,
    now: datetime,
    keeper: CopyKeeper | None = None,
) -> RotationResult:
    base = RotationResult(log.name, log.path, policy.method, False, "", dry_run, 0)
    try:
        log_stat = os.lstat(log.path)
    except FileNotFoundError:
        return replace(base, reason="the log does not exist")
    refused = _folder_refused(log.path.parent)
    if refused is not None:
        return replace(base, reason=refused[0], problems=(refused[1],))
    found = survey(log.path, log_stat)
    base = replace(base, size_bytes=log_stat.st_size, vanished=found.vanished)
    if found.refusals:
        return replace(base, reason="see problems", problems=found.refusals)
    last = last_rotated(found.copies, now)
    due, reason = decide(policy, log_stat.st_size, last, first_seen(log, state_dir, now), now)
    if last is None and not due and policy.max_age_days is not None and not dry_run:
        remember_first_seen(log, state_dir, now)
    steps = _archive_first(log, plan_steps(log.path, policy, found, due, now), keeper)
    result = replace(base, rotated=due, reason=reason, steps=tuple(steps), last_rotated=last)
    if dry_run:
        return _dry_run(result, policy, found)
    return _apply(result, policy, found, now, log, keeper)


def _folder_refused(folder: Path) -> tuple[str, RotationProblem] | None:
    """Why the log's folder cannot be rotated in, if it cannot, and the problem to report:
    copies are deleted and compressed in it as in a cleaning root, opened from / without
    following a symlink, so a folder reached through one would be half-rotated (copies moved,
    never deleted) by a real run, while its dry run said all was well."""
    try:
        os.close(open_root(folder))
    except RootError as exc:
        linked = exc.errno in (errno.ELOOP, errno.ENOTDIR)
        why = "is reached through a symlink" if linked else f"cannot be opened: {exc.strerror}"
        reason = f"{folder} (the log's folder) {why}"
        kind = RotationProblemKind.SYMLINK if linked else RotationProblemKind.ERROR
        problem = RotationProblem(
            kind, f"{reason}; this log is not rotated: name the real folder in logs[].path"
        )
        return reason, problem
    return None


def _archive_first(log: LogSource, steps: list[Step], keeper: CopyKeeper | None) -> list[Step]:
    """The plan with an `archive` step, first of all, for every copy it deletes whose lines are
    not archived yet (a copy the log's own `.gz` twin duplicates is archived through the twin)."""
    if keeper is None:
        return steps
    archive = [
        Step(StepAction.ARCHIVE, step.path, detail="not archived yet")
        for step in steps
        if step.action is StepAction.DELETE and keeper.must_archive(log, step.path)
    ]
    return archive + steps


# ---------------------------------------------------------------- carrying the plan out


def _dry_run(result: RotationResult, policy: LogRotation, found: CopySurvey) -> RotationResult:
    """Check what the plan would delete and whom it would signal, changing nothing."""
    stats = {copy.path: copy.stat for copy in found.copies + found.duplicates}
    problems: list[RotationProblem] = []
    freed = 0
    for step in result.steps:
        if step.action is StepAction.DELETE:
            removal = remove_entry(result.path.parent, step.path, stats[step.path], dry_run=True)
            if removal.would_remove:
                freed += removal.size
            else:
                message = f"{step.path}: not deleted: {removal.skipped}"
                problems.append(RotationProblem(RotationProblemKind.DELETE, message))
    if result.rotated and policy.method == "rename" and unreopened(policy):
        _, problem = writer_pid(policy, result.path)
        problems += [problem] if problem else []
    return replace(result, bytes_freed=freed, problems=tuple(problems))


def _apply(
    result: RotationResult,
    policy: LogRotation,
    found: CopySurvey,
    now: datetime,
    log: LogSource,
    keeper: CopyKeeper | None,
) -> RotationResult:
    root = result.path.parent
    stats = {copy.path: copy.stat for copy in found.copies + found.duplicates}
    problems: list[RotationProblem] = []
    freed, window = 0, None
    done: list[Step] = []  # what happened: the report says that, not what was planned
    for step in result.steps:
        try:
            if step.action is StepAction.ARCHIVE:
                assert keeper is not None
                keeper.archive(log, step.path)
            elif step.action is StepAction.DELETE:
                removal = remove_entry(root, step.path, stats[step.path], dry_run=False)
                freed += removal.size if removal.removed else 0
                if not removal.removed:
                    message = f"{step.path}: not deleted: {removal.skipped}"
                    problems.append(RotationProblem(RotationProblemKind.DELETE, message))
                    continue
            elif step.action is StepAction.MOVE:
                _move(step.path, _target(step))
            elif step.action is StepAction.RENAME:
                _move(step.path, _target(step))
                _stamp(_target(step), now)
            elif step.action is StepAction.CREATE:
                _create_like(step.path, found.log, policy.create)
            elif step.action is StepAction.COPYTRUNCATE:
                window = _copy_truncate(step.path, _target(step), found.log, now)
            elif step.action is StepAction.COMPRESS:
                problems += _compress(root, step.path, _target(step))
            elif step.action is StepAction.SIGNAL:
                problems += signal_writer(policy, result.path)
            elif step.action is StepAction.POSTROTATE:
                problems += postrotate(step.detail, result.path)
        except OSError as exc:
            if step.action is StepAction.ARCHIVE:
                return _unarchived(result, step, exc)
            # The later steps assume this one happened: stop here, leave the rest as it is.
            message = f"{step.describe()} failed: {exc.strerror or exc}; later steps not done"
            problems.append(RotationProblem(RotationProblemKind.ERROR, message, Severity.FAIL))
            rotated = result.rotated and any(s.action in _ROTATING for s in done)
            if result.rotated and not rotated:
                result = replace(result, reason=f"{step.describe()} failed")
            result = replace(result, rotated=rotated)
            break
        done.append(step)
    if result.rotated and policy.method == "rename" and unreopened(policy):
        problems.append(no_pid_file(result.path))
    return replace(
        result, steps=tuple(done), bytes_freed=freed, problems=tuple(problems), lost_window_s=window
    )


# The steps that take the live log's lines out of it: once one is done, the log was rotated.
_ROTATING = frozenset({StepAction.RENAME, StepAction.COPYTRUNCATE})


def _unarchived(result: RotationResult, step: Step, exc: OSError) -> RotationResult:
    """A copy the plan deletes could not be archived first: nothing of the log was changed."""
    message = (
        f"{step.path}: not deleted and {result.path.name} not rotated: its lines are not "
        f"archived yet and archiving it failed ({exc.strerror or exc}); the log backup runbook "
        "says why"
    )
    problem = RotationProblem(RotationProblemKind.UNARCHIVED, message)
    reason = f"{step.path.name} is not archived yet"
    return replace(result, rotated=False, reason=reason, steps=(), problems=(problem,))


def _target(step: Step) -> Path:
    assert step.target is not None
    return step.target


def _move(source: Path, target: Path) -> None:
    """Rename without ever replacing an existing `target` (a hard link, then an unlink)."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
            raise
        # A filesystem without hard links: make sure nothing is in the way, then rename.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.rename(source, target)
    else:
        os.unlink(source)
    fsync_dir(target.parent)


def _stamp(path: Path, now: datetime) -> None:
    """Record the rotation time on `.1`: the next run reads it back as the last rotation."""
    ns = int(now.timestamp() * 1e9)
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _create_exclusive(path: Path, like: os.stat_result, create: LogCreate | None = None) -> int:
    """`path` created (never an existing file, never through a symlink) with `create`'s mode,
    owner and group, or else `like`'s."""
    create = create or LogCreate()
    mode = stat.S_IMODE(like.st_mode) if create.mode is None else create.mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    os.fchmod(fd, mode)  # the umask may have narrowed it
    uid = like.st_uid if create.owner is None else _user_id(create.owner)
    gid = like.st_gid if create.group is None else _group_id(create.group)
    try:
        os.fchown(fd, uid, gid)
    except PermissionError:  # not root: the file stays ours, unless an owner was asked for
        if create.owner is not None or create.group is not None:
            os.close(fd)
            path.unlink()
            raise
    return fd


def _user_id(name: str) -> int:
    return int(name) if name.isdigit() else pwd.getpwnam(name).pw_uid


def _group_id(name: str) -> int:
    return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid


def _create_like(path: Path, like: os.stat_result, create: LogCreate) -> None:
    """A new empty log, for the writer to reopen: with the mode and owner `create` names, the
    old log's where it names none."""
    with contextlib.suppress(FileExistsError):  # the writer reopened (so created) it already
        os.close(_create_exclusive(path, like, create))


def _copy_truncate(path: Path, target: Path, expected: os.stat_result, now: datetime) -> float:
    """Copy the log to `target`, then truncate it in place; return the lost-lines window (s)."""
    source = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        current = os.fstat(source)
        if (current.st_dev, current.st_ino) != (expected.st_dev, expected.st_ino):
            raise OSError(0, "the log was replaced since the scan", str(path))
        copy = _create_exclusive(target, current)
        try:
            _copy_to_end(source, copy)
            os.fsync(copy)  # the copy is durable before the original goes
            last_read = _copy_to_end(source, copy)  # what arrived during the fsync
            os.ftruncate(source, 0)
            window = time.perf_counter() - last_read
            os.fsync(copy)
            ns = int(now.timestamp() * 1e9)
            os.utime(copy, ns=(ns, ns))
        finally:
            os.close(copy)
    finally:
        os.close(source)
    fsync_dir(target.parent)
    return window


def _copy_to_end(source: int, target: int) -> float:
    """Copy from `source`'s offset to its end; return when the read that found the end began."""
    while True:
        started = time.perf_counter()
        chunk = os.read(source, COPY_BUFFER)
        if not chunk:
            return started
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]


def _compress(root: Path, source: Path, target: Path) -> list[RotationProblem]:
    """gzip `source` into `target` (written aside, then linked into place), then delete it."""
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb") as plain:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise OSError(0, "not a regular file", str(source))
        out_fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=root)
        try:
            with open(out_fd, "wb") as raw:
                with gzip.GzipFile(
                    filename=source.name,
                    mode="wb",
                    compresslevel=GZIP_LEVEL,
                    fileobj=raw,
                    mtime=int(before.st_mtime),
                ) as packed:
                    while chunk := plain.read(COPY_BUFFER):
                        packed.write(chunk)
                raw.flush()
                os.fchmod(raw.fileno(), stat.S_IMODE(before.st_mode))
                with contextlib.suppress(PermissionError):
                    os.fchown(raw.fileno(), before.st_uid, before.st_gid)
                # A copy's age is when it was rotated out: compression must not reset it.
                os.utime(raw.fileno(), ns=(before.st_atime_ns, before.st_mtime_ns))
                os.fsync(raw.fileno())
            _move(Path(tmp), target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    removal = remove_entry(root, source, before, dry_run=False)
    if removal.removed:
        return []
    message = f"{source}: compressed but not deleted: {removal.skipped}"
    return [RotationProblem(RotationProblemKind.DELETE, message)]


# ---------------------------------------------------------------- telling the writer to reopen
