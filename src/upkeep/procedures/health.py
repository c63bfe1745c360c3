"""Responsible for the daily health check's probes and measurements.

Probes and measurements are plain functions returning frozen dataclasses; the `record_*`
functions grade them against `config.thresholds` (a log's own `errors` limit and a mount's own
`limit` win when set) and record checks, metrics and findings with `upkeep.report`.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import AnyStr, BinaryIO

import psutil

from upkeep import report, state
from upkeep.config import Config, Limit, LogSource, Mount, Service

# Large enough to amortise each read and each chunk's Python work, small enough that the several
# search passes over a chunk mostly hit the CPU cache (measured on 0.3-0.5 GB logs: 4 MiB scans
# faster than 1 MiB or 16 MiB).
CHUNK_SIZE = 4 << 20
FINGERPRINT_BYTES = 1024
MAX_GROUPS = 1000
MAX_FINDINGS_PER_LOG = 50
MIN_LITERAL = 3
PIVOT_SAMPLE = 8 << 10
OTHER_MESSAGES = "(other messages: too many distinct groups)"

# ---------------------------------------------------------------- services


@dataclass(frozen=True)
class ServiceProbe:
    """The answer of one service: `up` is the verdict; latency is None when nothing answered."""

    name: str
    kind: str
    up: bool
    detail: str
    latency_ms: float | None = None
    status_code: int | None = None
    process_count: int | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A health endpoint's own status is the answer: a redirect is reported, not followed."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def probe_http(service: Service) -> ServiceProbe:
    """GET `service.url` (no proxy, no redirects) and compare the status with `expect_status`."""
    assert service.url is not None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    started = time.perf_counter()
    try:
        with opener.open(service.url, timeout=service.timeout_s) as response:
            response.read(1 << 20)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        return ServiceProbe(service.name, "http", False, f"no answer: {_reason(exc)}")
    latency = _elapsed_ms(started)
    up = status == service.expect_status
    detail = f"HTTP {status}" + ("" if up else f", expected {service.expect_status}")
    return ServiceProbe(service.name, "http", up, detail, latency, status_code=status)


def probe_tcp(service: Service) -> ServiceProbe:
    """Open (and close) a TCP connection to `service.host:service.port`."""
    assert service.host is not None and service.port is not None
    started = time.perf_counter()
    try:
        with socket.create_connection((service.host, service.port), timeout=service.timeout_s):
            latency = _elapsed_ms(started)
    except OSError as exc:
        return ServiceProbe(service.name, "tcp", False, f"cannot connect: {_reason(exc)}")
    return ServiceProbe(service.name, "tcp", True, "connected", latency)


def probe_process(service: Service) -> ServiceProbe:
    """Count processes whose command line contains `service.process` (this process excluded)."""
    assert service.process is not None
    me = os.getpid()
    count = 0
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["pid"] != me and service.process in " ".join(cmdline):
            count += 1
    detail = f"{count} process{'es' if count != 1 else ''} matching {service.process!r}"
    return ServiceProbe(service.name, "process", count > 0, detail, process_count=count)


PROBES = {"http": probe_http, "tcp": probe_tcp, "process": probe_process}


def probe_service(service: Service) -> ServiceProbe:
    return PROBES[service.kind](service)


# ---------------------------------------------------------------- log lines: masking and grouping

_PREFIX = re.compile(
    r"""^\s*
    (?:\[?\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s+
      |[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+)?
    (?:[\[<(]?(?:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|ALERT|EMERG)
       [\]>)]?:?\s+)?""",
    re.VERBOSE,
)
# Every rule treats all digits alike (no `0x`, only `\d[xX]`): `_Tally` relies on it.
_VARIABLE = re.compile(
    r"""(?P<STR>(?<!\w)"(?:[^"\\]|\\.)*"|(?<!\w)'(?:[^'\\]|\\.)*')
    |(?P<UUID>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b)
    |(?P<IP>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b)
    |(?P<HEX>\b\d[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b)
    |(?P<N>\d+(?:\.\d+)?)""",
    re.VERBOSE,
)


def mask_message(line: str) -> str:
    """The line's message with its timestamp/level prefix removed and variable parts masked.

    "2025-11-16 02:15:00,123 ERROR timeout after 31s for id 812" -> "timeout after <N>s for id <N>"
    """
    message = _PREFIX.sub("", line, count=1)
    masked = _VARIABLE.sub(lambda m: f"<{m.lastgroup}>", message)
    return " ".join(masked.split())[:300]


def group_key(log_name: str, template: str) -> str:
    """A finding key that stays the same for the same message across runs."""
    return f"log:{log_name}:{hashlib.sha256(template.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class MessageGroup:
    """Lines that differ only in numbers, ids, addresses or quoted values."""

    template: str
    severity: str  # "error" or "warning"
    count: int
    first: str
    last: str


# Masking treats every digit alike, so lines equal up to their digits share a template:
# a cache keyed by the line with its digits zeroed skips most of the regex work.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
MAX_CACHED_TEMPLATES = 10_000


class _Tally:
    """Counts matching lines per severity and groups them by masked message."""

    def __init__(self) -> None:
        self.counts = {"error": 0, "warning": 0}
        # template -> [count, first raw line, last raw line]; decoded only once, at the end
        self.groups: dict[str, dict[str, list]] = {"error": {}, "warning": {}}
        self.templates: dict[bytes, str] = {}
        self.bytes_scanned = 0

    def add(self, severity: str, raw: bytes) -> None:
        self.counts[severity] += 1
        key = raw.translate(_DIGITS_TO_ZERO)
        template = self.templates.get(key)
        if template is None:
            template = mask_message(_decode(raw))
            if len(self.templates) < MAX_CACHED_TEMPLATES:
                self.templates[key] = template
        groups = self.groups[severity]
        if template not in groups and len(groups) >= MAX_GROUPS:
            template = OTHER_MESSAGES  # bounded memory for a log full of unique messages
        group = groups.get(template)
        if group is None:
            groups[template] = [1, raw, raw]
        else:
            group[0] += 1
            group[2] = raw

    def sorted_groups(self, severity: str) -> tuple[MessageGroup, ...]:
        groups = [
            MessageGroup(t, severity, n, _decode(first), _decode(last))
            for t, (n, first, last) in self.groups[severity].items()
        ]
        return tuple(sorted(groups, key=lambda g: -g.count))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


# ---------------------------------------------------------------- log lines: finding them fast

try:  # re's own parser, an internal module: any surprise falls back to plain regex search
    from re import _constants as _sre
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover
    _sre = _sre_parser = None  # type: ignore[assignment]


def _better(candidate: set[str], best: set[str] | None) -> bool:
    score = (min(map(len, candidate)), -len(candidate))
    return best is None or score > (min(map(len, best)), -len(best))


def _required(items: list) -> set[str] | None:
    """Strings one of which every match of the parsed `items` contains; None if unknown."""
    repeats = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
    repeats.add(getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT))
    best: set[str] | None = None
    run: list[str] = []
    for op, av in [*items, (None, None)]:  # the sentinel flushes the last run of literals
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if op is _sre.AT:  # zero-width (\b, ^, $): the literals either side stay adjacent
            continue
        candidates = [{"".join(run)} if run else None]
        run.clear()
        if op is _sre.SUBPATTERN and not av[1] & re.IGNORECASE:
            candidates.append(_required(list(av[3])))
        elif op is _sre.BRANCH:
            alternatives = [_required(list(alt)) for alt in av[1]]
            if all(alternatives):
                candidates.append(set().union(*alternatives))  # type: ignore[arg-type]
        elif op in repeats and av[0] >= 1:
            candidates.append(_required(list(av[2])))
        for found in candidates:
            if found and _better(found, best):
                best = found
    return best


def _literals(pattern: str) -> set[bytes] | None:
    """UTF-8 literals every line matching `pattern` contains, long enough to search for quickly."""
    if _sre_parser is None:
        return None
    try:
        parsed = _sre_parser.parse(pattern)
        found = None if parsed.state.flags & re.IGNORECASE else _required(list(parsed))
    except Exception:  # an internal API: never let it break a scan
        return None
    # U+FFFD in a decoded line may stand for any invalid bytes: not a literal to search for;
    # a newline would make it span lines, which a line-by-line search cannot see.
    if not found or any("\ufffd" in text or "\n" in text for text in found):
        return None
    encoded = {text.encode("utf-8") for text in found}
    return encoded if min(map(len, encoded)) >= MIN_LITERAL else None


def _combine(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    """One regex for all `patterns` if they combine (inline flags may forbid it), else one each."""
    if len(patterns) > 1:
        try:
            return [re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)]
        except re.error:
            pass
    return [re.compile(p, re.MULTILINE) for p in patterns]


def _as_bytes(patterns: list[re.Pattern[str]]) -> list[re.Pattern[bytes]] | None:
    """The same patterns for ASCII lines, where str and bytes regexes agree; None if impossible.

    (They differ only on the ASCII separators 0x1C-0x1F, which `\\s` matches in text alone.)
    """
    try:
        return [re.compile(p.pattern.encode("utf-8"), re.MULTILINE) for p in patterns]
    except (re.error, UnicodeEncodeError):
        return None


class _LineMatcher:
    """Finds the lines of a chunk that match error or warning patterns.

    When every pattern has a literal that each match must contain, lines are located with
    `bytes.find` on those literals (several times faster than a regex scan in CPython) and only
    those lines are decoded. Otherwise the chunk is decoded and searched with the patterns.
    Either way a line's verdict comes from the patterns themselves, applied to the decoded line.
    """

    def __init__(self, error_patterns: tuple[str, ...], warn_patterns: tuple[str, ...]) -> None:
        self.errors = _combine(error_patterns)
        self.warnings = _combine(warn_patterns)
        # Matching an ASCII line as bytes is about 3x faster than decoding it and matching text.
        ascii_errors, ascii_warnings = _as_bytes(self.errors), _as_bytes(self.warnings)
        self.ascii = (
            None
            if ascii_errors is None or ascii_warnings is None
            else (ascii_errors, ascii_warnings)
        )
        literals: set[bytes] | None = set()
        for pattern in error_patterns + warn_patterns:
            found = _literals(pattern)
            literals = None if found is None or literals is None else literals | found
        # A literal containing another one finds nothing the shorter one misses.
        self.literals = (
            None
            if literals is None
            else sorted(lit for lit in literals if not any(o != lit and o in lit for o in literals))
        )

    def severity(self, line: str) -> str | None:
        return _severity(line, self.errors, self.warnings)

    def raw_severity(self, raw: bytes) -> str | None:
        if self.ascii is not None and raw.isascii():
            return _severity(raw, *self.ascii)
        return _severity(raw.decode("utf-8", "replace"), self.errors, self.warnings)

    def scan(self, buf: bytes, end: int, tally: _Tally) -> None:
        if self.literals is None:
            self._scan_decoded(buf[:end].decode("utf-8", "replace"), tally)
            return
        for start in self._line_starts(buf, end, self.literals):
            stop = buf.find(b"\n", start, end)
            raw = buf[start : end if stop < 0 else stop]
            severity = self.raw_severity(raw)
            if severity is not None:
                tally.add(severity, raw)

    @staticmethod
    def _line_starts(buf: bytes, end: int, literals: list[bytes]) -> list[int]:
        starts: set[int] = set()
        sample = buf[:PIVOT_SAMPLE]
        for literal in literals:
            if not _find_by_rare_byte(buf, end, literal, sample, starts):
                _find_whole(buf, end, literal, starts)
        return sorted(starts)

    def _scan_decoded(self, text: str, tally: _Tally) -> None:
        starts: set[int] = set()
        for pattern in self.errors + self.warnings:
            pos = 0
            while pos <= len(text) and (match := pattern.search(text, pos)) is not None:
                starts.add(text.rfind("\n", 0, match.start()) + 1)
                stop = text.find("\n", match.start())
                pos = len(text) + 1 if stop < 0 else stop + 1
        for start in sorted(starts):
            stop = text.find("\n", start)
            line = text[start : len(text) if stop < 0 else stop]
            severity = self.severity(line)
            if severity is not None:
                tally.add(severity, line.encode("utf-8"))


def _severity(
    line: AnyStr, errors: list[re.Pattern[AnyStr]], warnings: list[re.Pattern[AnyStr]]
) -> str | None:
    if any(p.search(line) for p in errors):
        return "error"
    if any(p.search(line) for p in warnings):
        return "warning"
    return None


def _find_whole(buf: bytes, end: int, literal: bytes, starts: set[int]) -> None:
    """Add the start of every line of buf[:end] containing `literal`."""
    found = buf.find(literal, 0, end)
    while found >= 0:
        starts.add(buf.rfind(b"\n", 0, found) + 1)
        stop = buf.find(b"\n", found, end)
        found = -1 if stop < 0 else buf.find(literal, stop + 1, end)


def _find_by_rare_byte(
    buf: bytes, end: int, literal: bytes, sample: bytes, starts: set[int]
) -> bool:
    """Like `_find_whole`, jumping between occurrences of the literal's rarest byte in `sample`.

    A one-byte `find` is a memchr, many times faster than a multi-byte one; it pays off while the
    byte is rare. Returns False, leaving the work to `_find_whole`, once too many of its
    occurrences turn out not to start the literal.
    """
    k = min(range(len(literal)), key=lambda i: sample.count(literal[i : i + 1]))
    pivot = literal[k : k + 1]
    misses_allowed = end // 512 + 16  # about where Python-level misses cost more than find()
    found = buf.find(pivot, k, end)
    while found >= 0:
        if buf.startswith(literal, found - k, end):
            starts.add(buf.rfind(b"\n", 0, found - k) + 1)
            stop = buf.find(b"\n", found, end)
            found = -1 if stop < 0 else buf.find(pivot, stop + 1 + k, end)
        else:
            misses_allowed -= 1
            if misses_allowed < 0:
                return False
            found = buf.find(pivot, found + 1, end)
    return True


@functools.lru_cache(maxsize=64)
def _matcher(error_patterns: tuple[str, ...], warn_patterns: tuple[str, ...]) -> _LineMatcher:
    return _LineMatcher(error_patterns, warn_patterns)


def _scan_range(
    handle: BinaryIO,
    start: int,
    stop: int,
    matcher: _LineMatcher,
    tally: _Tally,
    *,
    final: bool,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Scan the complete lines in [start, stop); return the offset just past the last one.

    With `final` (a rotated file that no longer grows) an unterminated last line counts too.
    """
    pos, size = start, chunk_size
    while pos < stop:
        handle.seek(pos)
        buf = handle.read(min(size, stop - pos))
        if not buf:
            break  # the file shrank under us; the next scan sees the truncation
        at_stop = pos + len(buf) >= stop
        end = len(buf) if at_stop and final else buf.rfind(b"\n") + 1
        if end == 0:
            if at_stop:
                break  # a half-written last line: read it once it is complete
            size *= 2  # one line longer than a chunk
            continue
        matcher.scan(buf, end, tally)
        tally.bytes_scanned += end
        pos, size = pos + end, chunk_size
    return pos


# ---------------------------------------------------------------- log scanning since the last run


@dataclass(frozen=True)
class LogPosition:
    """Where the previous scan stopped, and which file that was (device, inode, first bytes)."""

    device: int
    inode: int
    offset: int
    fingerprint: str
    fingerprint_len: int


@dataclass(frozen=True)
class LogScan:
    """Error and warning lines written to one log since the previous scan."""

    name: str
    path: Path
    errors: int
    warnings: int
    error_groups: tuple[MessageGroup, ...]
    warning_groups: tuple[MessageGroup, ...]
    bytes_scanned: int
    offset: int  # where the next scan starts
    first_scan: bool = False
    rotated: bool = False  # replaced by a new file since the previous scan
    truncated: bool = False  # cut short (or rewritten) in place since the previous scan
    missing: bool = False


def _state_path(log: LogSource, state_dir: Path) -> Path:
    # The path's hash is part of the name: pointing a log at another file starts afresh.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", log.name)
    digest = hashlib.sha256(str(log.path).encode("utf-8")).hexdigest()[:10]
    return state_dir / "logscan" / f"{safe}-{digest}.json"


def _load_position(path: Path) -> LogPosition | None:
    """The saved position, or None (never scanned, or the state is unreadable: start over)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LogPosition(**{name: data[name] for name in LogPosition.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _fingerprint(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    head = handle.read(length)
    return hashlib.sha256(head).hexdigest() if len(head) == length else ""


def _scan_rotated_tail(
    path: Path, previous: LogPosition, matcher: _LineMatcher, tally: _Tally, chunk_size: int
) -> bool:
    """Read the unread end of the file the previous scan was reading, now at `<path>.1`.

    Recognised by its inode (renamed by logrotate) or by its first bytes (copied by
    copytruncate); returns False when there is no such file.
    """
    try:
        handle = open(path.with_name(path.name + ".1"), "rb", buffering=0)  # noqa: SIM115
    except OSError:
        return False
    with handle:
        stat = os.fstat(handle.fileno())
        same_inode = (stat.st_dev, stat.st_ino) == (previous.device, previous.inode)
        same_start = previous.fingerprint_len > 0 and (
            _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
        )
        if not (same_inode or same_start) or stat.st_size < previous.offset:
            return False
        _scan_range(
            handle, previous.offset, stat.st_size, matcher, tally, final=True, chunk_size=chunk_size
        )
    return True


def scan_log(
    log: LogSource, state_dir: Path, *, commit: bool = True, chunk_size: int = CHUNK_SIZE
) -> LogScan:
    """Count and group the error and warning lines written to `log.path` since the last scan.

    The position is kept in `state_dir/logscan/`; with `commit=False` it is left unchanged.
    A first scan reads the whole file; after a rotation the rotated file's unread tail is read
    first, then the new file from its start; after a truncation the file is read from its start.
    A half-written last line is left for the next scan.
    """
    state_path = _state_path(log, state_dir)
    previous = _load_position(state_path)
    matcher = _matcher(log.error_patterns, log.warn_patterns)
    tally = _Tally()
    try:
        handle = open(log.path, "rb", buffering=0)  # noqa: SIM115
    except FileNotFoundError:
        return _log_scan(log, tally, offset=0, missing=True)
    with handle:
        stat = os.fstat(handle.fileno())
        start, rotated, truncated = 0, False, False
        if previous is not None:
            same_inode = (stat.st_dev, stat.st_ino) == (previous.device, previous.inode)
            same_start = _fingerprint(handle, previous.fingerprint_len) == previous.fingerprint
            if same_inode and same_start and stat.st_size >= previous.offset:
                start = previous.offset
            else:
                rotated, truncated = not same_inode, same_inode
                _scan_rotated_tail(log.path, previous, matcher, tally, chunk_size)
        offset = _scan_range(
            handle, start, stat.st_size, matcher, tally, final=False, chunk_size=chunk_size
        )
        length = min(FINGERPRINT_BYTES, stat.st_size)
        position = LogPosition(
            stat.st_dev, stat.st_ino, offset, _fingerprint(handle, length), length
        )
    if commit:
        state.save(
            state_dir,
            state_path.relative_to(state_dir),
            {
                **position.__dict__,
                "path": str(log.path),
                "scanned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    return _log_scan(
        log, tally, offset=offset, first_scan=previous is None, rotated=rotated, truncated=truncated
    )


def _log_scan(log: LogSource, tally: _Tally, *, offset: int, **flags: bool) -> LogScan:
    return LogScan(
        name=log.name,
        path=log.path,
        errors=tally.counts["error"],
        warnings=tally.counts["warning"],
        error_groups=tally.sorted_groups("error"),
        warning_groups=tally.sorted_groups("warning"),
        bytes_scanned=tally.bytes_scanned,
        offset=offset,
        **flags,
    )


# ---------------------------------------------------------------- disks, CPU, memory, load


@dataclass(frozen=True)
class DiskUsage:
    path: Path
    total_bytes: int
    used_bytes: int
    free_bytes: int
    percent: float  # as df shows it: used / (used + available to unprivileged users)


@dataclass(frozen=True)
class SystemUsage:
    cpu_percent: float
    memory_percent: float
    load_1: float
    load_5: float
    load_15: float
    cpus: int

    @property
    def load_per_cpu(self) -> float:
        # The 5-minute average: the 1-minute one mostly shows the health check's own kernel start.
        return round(self.load_5 / self.cpus, 3)


def disk_usage(mount: Mount | Path) -> DiskUsage:
    """Usage of the filesystem holding `mount` (raises FileNotFoundError if it does not exist)."""
    path = mount.path if isinstance(mount, Mount) else Path(mount)
    usage = psutil.disk_usage(str(path))
    return DiskUsage(path, usage.total, usage.used, usage.free, usage.percent)


def system_usage(interval_s: float = 0.5) -> SystemUsage:
    """CPU percent measured over `interval_s`, memory percent, and the load averages."""
    cpu = psutil.cpu_percent(interval=interval_s)
    load_1, load_5, load_15 = os.getloadavg()
    return SystemUsage(
        cpu,
        psutil.virtual_memory().percent,
        round(load_1, 2),
        round(load_5, 2),
        round(load_15, 2),
        psutil.cpu_count() or 1,
    )


# ---------------------------------------------------------------- recording


def record_graded(
    name: str, value: float, limit: Limit, *, unit: str = "", message: str = ""
) -> str:
    """Record a check graded by `limit`; the limit shown is the one crossed (or the next one)."""
    status = limit.grade(value)
    bound = limit.fail if status == "fail" else limit.warn
    report.check(name, status, value=value, limit=bound, unit=unit, message=message)
    return status


def record_services(config: Config) -> tuple[ServiceProbe, ...]:
    """Probe every configured service: down fails; a slow answer warns or fails by latency."""
    probes = tuple(probe_service(service) for service in config.services)
    for service, probe in zip(config.services, probes, strict=True):
        labels = {"service": probe.name, "kind": probe.kind}
        report.metric("service_up", int(probe.up), labels=labels)
        name = f"service:{probe.name}"
        if not probe.up:
            report.check(name, "fail", message=f"{probe.kind}: {probe.detail}")
        elif probe.latency_ms is not None:
            report.metric("service_latency_ms", probe.latency_ms, unit="ms", labels=labels)
            record_graded(
                name,
                probe.latency_ms,
                config.thresholds.http_latency_ms,
                unit="ms",
                message=f"{probe.kind}: {probe.detail}",
            )
        else:
            report.check(
                name,
                "ok",
                value=probe.process_count,
                message=f"process(es) matching {service.process!r}",
            )
    return probes


def record_logs(config: Config, top: int = 5, *, commit: bool = True) -> tuple[LogScan, ...]:
    """Scan every configured log since the last run; grade its error count, show its top groups."""
    scans = []
    for log in config.logs:
        name = f"log:{log.name}"
        try:
            scan = scan_log(log, config.state_dir, commit=commit)
        except OSError as exc:
            report.check(name, "fail", message=f"cannot read {log.path}: {_reason(exc)}")
            continue
        scans.append(scan)
        if scan.missing:
            report.check(name, "warn", message=f"{log.path} does not exist")
            continue
        labels = {"log": log.name}
        report.metric("log_error_lines", scan.errors, labels=labels)
        report.metric("log_warning_lines", scan.warnings, labels=labels)
        report.metric("log_bytes_scanned", scan.bytes_scanned, unit="B", labels=labels)
        status = record_graded(
            name,
            scan.errors,
            log.errors or config.thresholds.log_errors,
            message=_log_summary(scan),
        )
        print(format_groups(scan, top))
        _record_groups(log.name, scan, "info" if status == "ok" else status)
    return tuple(scans)


def _log_summary(scan: LogScan) -> str:
    text = (
        f"{scan.errors} error lines in {len(scan.error_groups)} groups,"
        f" {scan.warnings} warning lines since the last scan"
    )
    if scan.first_scan:
        text += " (first scan: whole file)"
    if scan.rotated:
        text += " (rotated since the last scan)"
    if scan.truncated:
        text += " (truncated since the last scan)"
    return text


def _record_groups(log_name: str, scan: LogScan, severity: str) -> None:
    for group in scan.error_groups[:MAX_FINDINGS_PER_LOG]:
        report.finding(
            group_key(log_name, group.template),
            f"{group.count} x {group.template} (last: {group.last.strip()})",
            severity=severity,
        )
    if scan.warnings:
        report.finding(
            f"log:{log_name}:warnings",
            f"{scan.warnings} warning lines in {len(scan.warning_groups)} groups,"
            f" most often: {scan.warning_groups[0].template}",
            severity="info",
        )


def format_groups(scan: LogScan, top: int = 5) -> str:
    """A plain-text table of the `top` most frequent error and warning groups of a scan."""
    rows = [*scan.error_groups[:top], *scan.warning_groups[:top]]
    lines = [f"{scan.path.name}: {scan.errors} errors, {scan.warnings} warnings"]
    if rows:
        lines.append(f"{'count':>7}  {'level':<7}  message")
        lines += [f"{g.count:>7}  {g.severity:<7}  {g.template[:110]}" for g in rows]
    return "\n".join(lines)


def record_disks(config: Config) -> tuple[DiskUsage, ...]:
    """Grade the used percentage of every configured mount (its own limit first)."""
    usages = []
    for mount in config.mounts:
        name = f"disk:{mount.path}"
        try:
            usage = disk_usage(mount)
        except OSError as exc:
            report.check(name, "fail", message=f"cannot measure {mount.path}: {_reason(exc)}")
            continue
        usages.append(usage)
        labels = {"mount": str(mount.path)}
        report.metric("disk_used_percent", usage.percent, unit="%", labels=labels)
        report.metric("disk_free_bytes", usage.free_bytes, unit="B", labels=labels)
        free_gib = usage.free_bytes / (1 << 30)
        record_graded(
            name,
            usage.percent,
            mount.limit or config.thresholds.disk_percent,
            unit="%",
            message=f"{free_gib:.1f} GiB free",
        )
    return tuple(usages)


def record_system(config: Config, interval_s: float = 0.5) -> SystemUsage:
    """Grade CPU, memory and load per CPU against the configured thresholds."""
    usage = system_usage(interval_s)
    limits = config.thresholds
    report.metric("cpu_percent", usage.cpu_percent, unit="%")
    report.metric("memory_percent", usage.memory_percent, unit="%")
    for minutes, load in ((1, usage.load_1), (5, usage.load_5), (15, usage.load_15)):
        report.metric("load_average", load, labels={"minutes": str(minutes)})
    report.metric("load_per_cpu", usage.load_per_cpu)
    record_graded(
        "system:cpu",
        usage.cpu_percent,
        limits.cpu_percent,
        unit="%",
        message=f"over {interval_s:g}s",
    )
    record_graded("system:memory", usage.memory_percent, limits.memory_percent, unit="%")
    record_graded(
        "system:load",
        usage.load_per_cpu,
        limits.load_per_cpu,
        message=f"5-minute load {usage.load_5:g} on {usage.cpus} CPUs",
    )
    return usage
