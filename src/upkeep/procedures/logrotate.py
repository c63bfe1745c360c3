"""Responsible for rotating configured log files: numbered copies, gzip from the second one on.

Layout, as logrotate's `delaycompress` leaves it: `app.log` (live), `app.log.1` (the previous
log, never compressed, so the health check's `scan_log` can still read the lines written between
its last scan and the rotation cheaply), `app.log.2.gz` … `app.log.<keep>.gz`. (`scan_log` also
finds its place in a compressed copy, when a log was rotated more than once between two scans.)

When was a log last rotated? The files say it: rotation sets `app.log.1`'s modification time to
the moment of rotation. Staged runbook state (`upkeep.state`) would be wrong here: a rotation is
done the moment the files move, whether or not the run's evidence is published, and a record
discarded with an unpublished run would let the next run rotate the same log twice in one period.
The only thing kept in `state_dir` is when a log that has never been rotated was first seen, the
start of its `max_age_days` clock; losing that record only delays an age-based rotation.

Nothing is followed: a log or a copy that is a symlink (or not a regular file) stops that log's
rotation and is reported; copies are deleted through `safedelete.remove_entry`, with the log's
directory as the root; files are opened with `O_NOFOLLOW` and created with `O_EXCL`.
A dry run plans exactly what a real run would do, reports it, and changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import json
import os
import re
import signal as signal_module
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from upkeep import report, state
from upkeep.atomic import fsync_dir
from upkeep.config import LogRotation, LogSource
from upkeep.procedures.safedelete import remove_entry

__all__ = [
    "Problem",
    "RotationResult",
    "Step",
    "period_key",
    "record_rotations",
    "rotate_logs",
    "summary",
]

GZIP_LEVEL = 6  # gzip's own default: what `gzip`, logrotate and zcat users expect
COPY_BUFFER = 1 << 20
# A pid file is written after its process starts; a process that started later than this after
# the file was written is another process that reused the pid, and must not be signalled.
PID_START_SLACK_S = 1.0
PERIOD_NOUNS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}


@dataclass(frozen=True)
class Step:
    """One change a rotation makes (or would make, in a dry run), in order."""

    action: str  # delete | move | rename | copytruncate | create | compress | signal
    path: Path
    target: Path | None = None
    detail: str = ""

    def describe(self) -> str:
        target = f" -> {self.target.name}" if self.target is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.action} {self.path.name}{target}{detail}"


@dataclass(frozen=True)
class Problem:
    """Something reported, never raised: `fail` when a rotation broke, `warn` otherwise."""

    kind: str  # symlink | not-regular | duplicate | pid-file | signal | delete | error
    message: str
    severity: str = "warn"


@dataclass(frozen=True)
class RotationResult:
    """What rotating one log did, or in a dry run would do: `steps` is the same plan either way."""

    name: str
    path: Path
    method: str
    rotated: bool  # rotated, or would be in a dry run
    reason: str  # why it was (or was not) rotated
    dry_run: bool
    size_bytes: int  # the live log's size when the decision was made
    steps: tuple[Step, ...] = ()
    bytes_freed: int = 0  # by deleted copies (in a dry run: would be freed)
    problems: tuple[Problem, ...] = ()
    last_rotated: datetime | None = None  # before this run
    # copytruncate only: seconds between the copy's last read and the truncate; whatever the
    # writer appended in that window is lost.
    lost_window_s: float | None = None

    @property
    def status(self) -> str:
        severities = {p.severity for p in self.problems}
        return "fail" if "fail" in severities else "warn" if severities else "ok"


@dataclass(frozen=True)
class _Copy:
    index: int
    path: Path
    stat: os.stat_result

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(".gz")


@dataclass(frozen=True)
class _Scan:
    """The live log and its copies as found, and what stops the rotation (if anything)."""

    log: os.stat_result
    copies: tuple[_Copy, ...]
    duplicates: tuple[_Copy, ...]  # a plain copy whose .gz twin exists (a crash mid-compression)
    refusals: tuple[Problem, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------- the plan


def rotate_logs(
    logs: Sequence[LogSource], *, state_dir: Path, dry_run: bool, now: datetime | None = None
) -> list[RotationResult]:
    """Rotate every log in `logs` that has a `rotate` policy and is due; prune old copies.

    `now` must be timezone-aware: periods (a calendar hour, day, ISO week or month) are counted
    in its time zone; the default is the machine's local time.
    """
    now = now or datetime.now(UTC).astimezone()
    if now.tzinfo is None:
        raise ValueError("rotate_logs: `now` must be timezone-aware (periods depend on the zone)")
    results = []
    for log in logs:
        if log.rotate is None:
            continue
        try:
            results.append(_rotate_one(log, log.rotate, state_dir, dry_run, now))
        except OSError as exc:  # one log's trouble never stops the others
            problem = Problem("error", f"{log.path}: {exc.strerror or exc}", "fail")
            failed = RotationResult(
                log.name, log.path, log.rotate.method, False, "error", dry_run, 0
            )
            results.append(replace(failed, problems=(problem,)))
    return results


def _rotate_one(
    log: LogSource, policy: LogRotation, state_dir: Path, dry_run: bool, now: datetime
) -> RotationResult:
    base = RotationResult(log.name, log.path, policy.method, False, "", dry_run, 0)
    try:
        log_stat = os.lstat(log.path)
    except FileNotFoundError:
        return replace(base, reason="the log does not exist")
    scan = _scan(log.path, log_stat)
    base = replace(base, size_bytes=log_stat.st_size)
    if scan.refusals:
        return replace(base, reason="not rotated: see problems", problems=scan.refusals)
    last = _last_rotated(scan.copies, now)
    due, reason = _decide(policy, log_stat.st_size, last, _first_seen(log, state_dir, now), now)
    if last is None and not due and policy.max_age_days is not None and not dry_run:
        _remember_first_seen(log, state_dir, now)
    steps = _plan(log.path, policy, scan, due, now)
    result = replace(base, rotated=due, reason=reason, steps=tuple(steps), last_rotated=last)
    if dry_run:
        return _dry_run(result, policy, scan)
    return _apply(result, policy, scan, now)


def _scan(path: Path, log_stat: os.stat_result) -> _Scan:
    refusals = [_refusal(path, log_stat, "the log")] if not stat.S_ISREG(log_stat.st_mode) else []
    pattern = re.compile(re.escape(path.name) + r"\.([1-9][0-9]*)(\.gz)?")
    found: dict[int, list[_Copy]] = {}
    with os.scandir(path.parent) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match is None:
                continue
            copy_stat = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(copy_stat.st_mode):
                refusals.append(_refusal(Path(entry.path), copy_stat, "a rotated copy"))
                continue
            index = int(match[1])
            found.setdefault(index, []).append(_Copy(index, Path(entry.path), copy_stat))
    copies, duplicates = [], []
    for index in sorted(found):
        twins = sorted(found[index], key=lambda c: not c.compressed)  # the .gz first
        copies.append(twins[0])
        duplicates.extend(twins[1:])
    if 1 in found and len(found[1]) > 1:
        # Never made here (`.1` is never compressed): whichever is deleted may be the one
        # the health check still has to read.
        refusals.append(
            Problem(
                "duplicate",
                f"both {path.name}.1 and {path.name}.1.gz exist; this log is not rotated "
                "until one of them is removed by hand",
            )
        )
    return _Scan(log_stat, tuple(copies), tuple(duplicates), tuple(refusals))


def _refusal(path: Path, entry: os.stat_result, what: str) -> Problem:
    if stat.S_ISLNK(entry.st_mode):
        return Problem(
            "symlink", f"{path} ({what}) is a symlink: never followed; this log is not rotated"
        )
    return Problem("not-regular", f"{path} ({what}) is not a regular file; this log is not rotated")


def _last_rotated(copies: tuple[_Copy, ...], now: datetime) -> datetime | None:
    """The newest copy's modification time: rotation sets it on `.1` (see the module doc)."""
    if not copies:
        return None
    return datetime.fromtimestamp(copies[0].stat.st_mtime, tz=now.tzinfo)


def period_key(moment: datetime, period: str) -> tuple[int, ...]:
    """The calendar period (in `moment`'s time zone) that `moment` falls in."""
    if period == "hourly":
        return (moment.year, moment.month, moment.day, moment.hour)
    if period == "daily":
        return (moment.year, moment.month, moment.day)
    if period == "weekly":
        return tuple(moment.isocalendar())[:2]
    if period == "monthly":
        return (moment.year, moment.month)
    raise ValueError(f"unknown rotation period {period!r}")


def _decide(
    policy: LogRotation,
    size: int,
    last: datetime | None,
    first_seen: datetime | None,
    now: datetime,
) -> tuple[bool, str]:
    this_period = period_key(now, policy.period)
    if last is not None and period_key(last.astimezone(now.tzinfo), policy.period) == this_period:
        noun = PERIOD_NOUNS[policy.period]
        return False, f"already rotated this {noun} (at {last.isoformat(timespec='seconds')})"
    if size == 0:
        return False, "empty: nothing to rotate"
    if policy.max_bytes is not None and size > policy.max_bytes:
        return True, f"size {size} B is over max_bytes {policy.max_bytes} B"
    since, what = (last, "last rotated") if last is not None else (first_seen, "first seen")
    if policy.max_age_days is not None and since is not None:
        age = now - since
        if age >= timedelta(days=policy.max_age_days):
            days = age.total_seconds() / 86400
            return True, f"{what} {days:.1f} days ago (max_age_days {policy.max_age_days:g})"
    return False, "not due"


def _plan(path: Path, policy: LogRotation, scan: _Scan, due: bool, now: datetime) -> list[Step]:
    """Deletions first, then the shift of the remaining copies, the rotation, compression."""
    steps = [Step("delete", c.path, detail="already compressed") for c in scan.duplicates]
    # After a rotation every copy moves up one place: the one at index keep would be keep + 1.
    limit = policy.keep - 1 if due else policy.keep
    cutoff = None
    if policy.max_copy_age_days is not None:
        cutoff = now.timestamp() - policy.max_copy_age_days * 86400
    kept = []
    for copy in scan.copies:
        if copy.index > limit:
            steps.append(Step("delete", copy.path, detail=f"beyond keep {policy.keep}"))
        elif cutoff is not None and copy.stat.st_mtime < cutoff:
            steps.append(
                Step("delete", copy.path, detail=f"older than {policy.max_copy_age_days:g} days")
            )
        else:
            kept.append(copy)
    if due:
        for copy in reversed(kept):
            steps.append(Step("move", copy.path, _with_index(path, copy.index + 1, copy)))
        first = path.with_name(path.name + ".1")
        if policy.method == "rename":
            steps += [Step("rename", path, first), Step("create", path)]
        else:
            steps.append(Step("copytruncate", path, first))
    if policy.compress:
        shift = 1 if due else 0
        for copy in kept:
            index = copy.index + shift
            if not copy.compressed and index >= 2:
                source = _with_index(path, index, copy)
                steps.append(Step("compress", source, source.with_name(source.name + ".gz")))
    if due and policy.method == "rename" and policy.pid_file is not None:
        steps.append(Step("signal", policy.pid_file, detail=policy.signal))
    return steps


def _with_index(path: Path, index: int, copy: _Copy) -> Path:
    return path.with_name(f"{path.name}.{index}" + (".gz" if copy.compressed else ""))


# ---------------------------------------------------------------- first sight of a log


def _first_seen_path(log: LogSource) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", log.name)
    digest = hashlib.sha256(str(log.path).encode("utf-8")).hexdigest()[:10]
    return Path("logrotate") / f"{safe}-{digest}.json"


def _first_seen(log: LogSource, state_dir: Path, now: datetime) -> datetime | None:
    try:
        data = json.loads((state_dir / _first_seen_path(log)).read_text(encoding="utf-8"))
        return datetime.fromisoformat(data["first_seen"]).astimezone(now.tzinfo)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember_first_seen(log: LogSource, state_dir: Path, now: datetime) -> None:
    if _first_seen(log, state_dir, now) is None:
        record = {"path": str(log.path), "first_seen": now.isoformat(timespec="seconds")}
        state.save(state_dir, _first_seen_path(log), record)


# ---------------------------------------------------------------- carrying the plan out


def _dry_run(result: RotationResult, policy: LogRotation, scan: _Scan) -> RotationResult:
    """Check what the plan would delete and whom it would signal, changing nothing."""
    stats = {c.path: c.stat for c in scan.copies + scan.duplicates}
    problems: list[Problem] = []
    freed = 0
    for step in result.steps:
        if step.action == "delete":
            removal = remove_entry(result.path.parent, step.path, stats[step.path], dry_run=True)
            if removal.would_remove:
                freed += removal.size
            else:
                problems.append(Problem("delete", f"{step.path}: not deleted: {removal.skipped}"))
    if result.rotated and policy.method == "rename":
        _, problem = _writer_pid(policy, result.path)
        problems += [problem] if problem else []
    return replace(result, bytes_freed=freed, problems=tuple(problems))


def _apply(
    result: RotationResult, policy: LogRotation, scan: _Scan, now: datetime
) -> RotationResult:
    root = result.path.parent
    stats = {c.path: c.stat for c in scan.copies + scan.duplicates}
    problems: list[Problem] = []
    freed, window = 0, None
    for step in result.steps:
        try:
            if step.action == "delete":
                removal = remove_entry(root, step.path, stats[step.path], dry_run=False)
                freed += removal.size if removal.removed else 0
                if not removal.removed:
                    message = f"{step.path}: not deleted: {removal.skipped}"
                    problems.append(Problem("delete", message))
            elif step.action == "move":
                _move(step.path, _target(step))
            elif step.action == "rename":
                _move(step.path, _target(step))
                _stamp(_target(step), now)
            elif step.action == "create":
                _create_like(step.path, scan.log)
            elif step.action == "copytruncate":
                window = _copy_truncate(step.path, _target(step), scan.log, now)
            elif step.action == "compress":
                problems += _compress(root, step.path, _target(step))
            elif step.action == "signal":
                problems += _signal(policy, result.path)
        except OSError as exc:
            # The later steps assume this one happened: stop here, leave the rest as it is.
            message = f"{step.describe()} failed: {exc.strerror or exc}; later steps not done"
            problems.append(Problem("error", message, "fail"))
            break
    if result.rotated and policy.method == "rename" and policy.pid_file is None:
        problems.append(_no_pid_file(result.path))
    return replace(result, bytes_freed=freed, problems=tuple(problems), lost_window_s=window)


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


def _create_exclusive(path: Path, like: os.stat_result) -> int:
    mode = stat.S_IMODE(like.st_mode)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    os.fchmod(fd, mode)  # the umask may have narrowed it
    with contextlib.suppress(PermissionError):  # not root: the file stays ours
        os.fchown(fd, like.st_uid, like.st_gid)
    return fd


def _create_like(path: Path, like: os.stat_result) -> None:
    """A new empty log with the old one's mode and owner, for the writer to reopen."""
    with contextlib.suppress(FileExistsError):  # the writer reopened (so created) it already
        os.close(_create_exclusive(path, like))


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


def _compress(root: Path, source: Path, target: Path) -> list[Problem]:
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
    return [Problem("delete", f"{source}: compressed but not deleted: {removal.skipped}")]


# ---------------------------------------------------------------- telling the writer to reopen


def _no_pid_file(log_path: Path) -> Problem:
    return Problem(
        "pid-file",
        f"no pid_file configured: nothing tells the writer to reopen {log_path.name}; "
        f"it keeps writing to {log_path.name}.1",
    )


def _writer_pid(policy: LogRotation, log_path: Path) -> tuple[int | None, Problem | None]:
    """The pid to signal, or the reason none can be (a missing, unreadable or stale pid file)."""
    if policy.pid_file is None:
        return None, _no_pid_file(log_path)
    pid_file = policy.pid_file
    consequence = f"the writer was not told to reopen; it may keep writing to {log_path.name}.1"
    try:
        text = pid_file.read_text(encoding="utf-8", errors="replace")
        written = os.stat(pid_file).st_mtime
    except OSError as exc:
        return None, Problem("pid-file", f"pid file {pid_file}: {exc.strerror}; {consequence}")
    try:
        pid = int(text.strip())
    except ValueError:
        pid = 0
    if pid < 1 or pid == os.getpid():
        return None, Problem(
            "pid-file", f"pid file {pid_file} holds {text.strip()[:40]!r}, not a process id"
        )
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return None, Problem(
            "pid-file", f"stale pid file {pid_file}: no process {pid}; {consequence}"
        )
    except psutil.Error:
        return pid, None  # cannot look: trust the pid file
    if started > written + PID_START_SLACK_S:
        return None, Problem(
            "pid-file",
            f"stale pid file {pid_file}: process {pid} started after the file was written "
            f"(the pid was reused), not signalled; {consequence}",
        )
    return pid, None


def _signal(policy: LogRotation, log_path: Path) -> list[Problem]:
    pid, problem = _writer_pid(policy, log_path)
    if pid is None:
        return [problem] if problem else []
    try:
        os.kill(pid, signal_module.Signals[policy.signal])
    except ProcessLookupError:
        return [Problem("pid-file", f"process {pid} exited before it could be signalled")]
    except PermissionError:
        return [Problem("signal", f"not allowed to send {policy.signal} to process {pid}")]
    return []


# ---------------------------------------------------------------- recording


def record_rotations(results: Sequence[RotationResult]) -> None:
    """One check per log (warn on a reported problem, fail on a broken rotation), the steps
    taken as readable lines, metrics, and a finding per problem."""
    for result in results:
        labels = {"log": result.name}
        verb = "would " if result.dry_run else ""
        for step in result.steps:
            print(f"  {result.name}: {verb}{step.describe()}")
        report.metric("log_rotated", int(result.rotated), labels=labels)
        report.metric("log_rotation_bytes_freed", result.bytes_freed, unit="B", labels=labels)
        if result.lost_window_s is not None:
            report.metric(
                "log_copytruncate_window_s", round(result.lost_window_s, 6), unit="s", labels=labels
            )
        report.check(f"logrotate:{result.name}", result.status, message=summary(result))
        seen: dict[str, int] = {}
        for problem in result.problems:
            seen[problem.kind] = seen.get(problem.kind, 0) + 1
            suffix = "" if seen[problem.kind] == 1 else f"-{seen[problem.kind]}"
            report.finding(
                f"logrotate:{result.name}:{problem.kind}{suffix}",
                problem.message,
                severity=problem.severity,
            )


def summary(result: RotationResult) -> str:
    """One line: what happened to the log and why, and what copytruncate may have lost."""
    dry = "(dry run) " if result.dry_run else ""
    deleted = sum(1 for step in result.steps if step.action == "delete")
    copies = "1 old copy" if deleted == 1 else f"{deleted} old copies"
    freed = f"; {copies} deleted, {result.bytes_freed} B freed" if deleted else ""
    if not result.rotated:
        return f"{dry}not rotated: {result.reason}{freed}"
    text = f"{dry}rotated by {result.method}: {result.reason}{freed}"
    if result.method == "copytruncate":
        if result.lost_window_s is None:
            text += "; lines appended between the copy and the truncate are lost"
        else:
            ms = result.lost_window_s * 1000
            text += f"; lines appended in the {ms:.3f} ms between copy and truncate are lost"
    return text
