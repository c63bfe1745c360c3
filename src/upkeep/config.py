"""Responsible for loading `upkeep.yml` into typed, frozen objects, refusing anything unexpected.

Every problem is reported as one `ConfigError` naming the file, the key and what was expected.
Relative paths are resolved against the directory holding the config file.
"""

from __future__ import annotations

import os
import re
import signal as signal_module
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from upkeep.errors import ConfigError

DEFAULT_CONFIG_NAME = "upkeep.yml"
SERVICE_KINDS = ("http", "tcp", "process")
DATABASE_ENGINES = ("sqlite", "postgresql")
SECRET_REFERENCE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)$")

T = TypeVar("T")
_REQUIRED: Any = object()


@dataclass(frozen=True)
class Limit:
    """A warn/fail pair: a value at or above `warn` warns, at or above `fail` fails."""

    warn: float
    fail: float

    def grade(self, value: float) -> str:
        if value >= self.fail:
            return "fail"
        if value >= self.warn:
            return "warn"
        return "ok"


@dataclass(frozen=True)
class Thresholds:
    cpu_percent: Limit = Limit(85, 95)
    memory_percent: Limit = Limit(85, 95)
    load_per_cpu: Limit = Limit(1.5, 3.0)
    disk_percent: Limit = Limit(80, 90)
    log_errors: Limit = Limit(1, 50)
    http_latency_ms: Limit = Limit(500, 2000)


@dataclass(frozen=True)
class Service:
    """Something whose uptime the health check probes: by HTTP, TCP connect, or process presence."""

    name: str
    kind: str
    url: str | None = None
    expect_status: int = 200
    host: str | None = None
    port: int | None = None
    process: str | None = None
    timeout_s: float = 5.0


ROTATION_METHODS = ("rename", "copytruncate")
ROTATION_PERIODS = ("hourly", "daily", "weekly", "monthly")


@dataclass(frozen=True)
class LogRotation:
    """When and how daily cleaning rotates one log file.

    A log is rotated when it is larger than `max_bytes` or its last rotation is older than
    `max_age_days`, but never twice within one `period`. `rename` moves the file aside and then
    signals the writer named by `pid_file` to reopen it; `copytruncate` copies and truncates in
    place, losing whatever the writer appends between the copy and the truncate.
    """

    max_bytes: int | None = None
    max_age_days: float | None = None
    keep: int = 7
    compress: bool = True
    method: str = "rename"
    pid_file: Path | None = None
    signal: str = "SIGHUP"
    period: str = "daily"
    max_copy_age_days: float | None = None


@dataclass(frozen=True)
class LogSource:
    """A log file scanned for lines matching error and warning patterns since the last scan."""

    name: str
    path: Path
    error_patterns: tuple[str, ...] = (r"\bERROR\b", r"\bCRITICAL\b", r"\bFATAL\b")
    warn_patterns: tuple[str, ...] = (r"\bWARN(?:ING)?\b",)
    errors: Limit | None = None
    rotate: LogRotation | None = None


@dataclass(frozen=True)
class Mount:
    path: Path
    limit: Limit | None = None


@dataclass(frozen=True)
class Database:
    name: str
    engine: str
    path: Path | None = None
    host: str = "localhost"
    port: int = 5432
    dbname: str | None = None
    user: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class DemoSettings:
    """Where the embedded demo system lives and the port its health service listens on."""

    root: Path
    http_port: int = 8765


@dataclass(frozen=True)
class CleanupRoot:
    """A directory whose old files daily cleaning may remove (temp) or trim (cache)."""

    path: Path
    max_age_days: float = 7.0
    max_bytes: int | None = None


@dataclass(frozen=True)
class Cleanup:
    temp_roots: tuple[CleanupRoot, ...] = ()
    cache_roots: tuple[CleanupRoot, ...] = ()
    protect: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class BackupPolicy:
    """Where backups go, full or incremental, and how many of each age are kept."""

    dir: Path | None = None
    mode: str = "full"
    full_every: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 12
    max_full_age_days: float = 8.0
    compression_level: int = 1
    shrink_warn_percent: float = 50.0


@dataclass(frozen=True)
class Config:
    """The maintained system, as `upkeep.yml` describes it."""

    path: Path
    root: Path
    timezone: str = "UTC"
    evidence_dir: Path = Path("evidence")
    state_dir: Path = Path("var/state")
    runbooks_dir: Path = Path("runbooks")
    timeout_s: int = 900
    jobs: int | None = None
    demo: DemoSettings | None = None
    services: tuple[Service, ...] = ()
    logs: tuple[LogSource, ...] = ()
    mounts: tuple[Mount, ...] = ()
    databases: tuple[Database, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    cleanup: Cleanup = field(default_factory=Cleanup)
    backup: BackupPolicy = field(default_factory=BackupPolicy)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class _Section:
    """One mapping of the YAML document, read key by key; leftover keys are errors."""

    def __init__(self, data: Any, where: str, file: Path) -> None:
        self.file = file
        self.where = where
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.fail("", "a mapping", data)
        self.data = dict(data)

    def fail(self, key: str, expected: str, got: Any) -> None:
        name = f"{self.where}.{key}" if self.where and key else (key or self.where or "top level")
        raise ConfigError(f"{self.file}: {name}: expected {expected}, got {_show(got)}")

    def get(self, key: str, kind: type[T], expected: str, default: Any = _REQUIRED) -> T:
        if key not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.file}: {self._name(key)}: required key is missing")
            return default
        value = self.data.pop(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(key, expected, value)
        return value

    def str(self, key: str, default: Any = _REQUIRED) -> str:
        value = self.get(key, str, "a string", default)
        if isinstance(value, str) and not value.strip():
            self.fail(key, "a non-empty string", value)
        return value

    def int(self, key: str, default: Any = _REQUIRED, minimum: int = 0) -> int:
        value = self.get(key, int, "an integer", default)
        if value is not None and value < minimum:
            self.fail(key, f"an integer >= {minimum}", value)
        return value

    def number(self, key: str, default: Any = _REQUIRED) -> float:
        value = self.get(key, float, "a number", default)
        if value is not None and value < 0:
            self.fail(key, "a number >= 0", value)
        return value

    def bool(self, key: str, default: Any = _REQUIRED) -> bool:
        return self.get(key, bool, "true or false", default)

    def path(self, key: str, base: Path, default: Any = _REQUIRED, *, resolve: bool = True) -> Path:
        value = self.str(key, default)
        if value is None or isinstance(value, Path):
            return value
        path = base / os.path.expanduser(value)
        # A path that must not follow symlinks (a log that rotation may move) keeps its last part.
        return path.resolve() if resolve else Path(os.path.normpath(path.absolute()))

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _REQUIRED) -> str:
        value = self.str(key, default)
        if value not in choices:
            self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def strings(self, key: str, default: Any = _REQUIRED) -> tuple[str, ...]:
        value = self.get(key, list, "a list of strings", default)
        if value is default:
            return value
        if not all(isinstance(item, str) and item for item in value):
            self.fail(key, "a list of non-empty strings", value)
        return tuple(value)

    def section(self, key: str) -> _Section | None:
        if key not in self.data or self.data[key] is None:
            self.data.pop(key, None)
            return None
        return _Section(self.data.pop(key), self._name(key), self.file)

    def items(self, key: str, read: Callable[[_Section], T]) -> tuple[T, ...]:
        value = self.get(key, list, "a list", [])
        return tuple(
            read(_Section(item, f"{self._name(key)}[{i}]", self.file))
            for i, item in enumerate(value)
        )

    def done(self) -> None:
        if self.data:
            key = sorted(self.data, key=str)[0]
            raise ConfigError(f"{self.file}: {self._name(key)}: unknown key")

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


def _limit(section: _Section | None, default: Limit | None) -> Limit | None:
    if section is None:
        return default
    warn = section.number("warn", default.warn if default else _REQUIRED)
    fail = section.number("fail", default.fail if default else _REQUIRED)
    section.done()
    if fail < warn:
        raise ConfigError(
            f"{section.file}: {section.where}: expected fail ({fail}) >= warn ({warn})"
        )
    return Limit(warn, fail)


def _thresholds(section: _Section | None) -> Thresholds:
    base = Thresholds()
    if section is None:
        return base
    values = {
        name: _limit(section.section(name), getattr(base, name))
        for name in Thresholds.__dataclass_fields__
    }
    section.done()
    return Thresholds(**values)


def _service(s: _Section) -> Service:
    name = s.str("name")
    kind = s.choice("kind", SERVICE_KINDS)
    service = Service(
        name=name,
        kind=kind,
        url=s.str("url", None),
        expect_status=s.int("expect_status", 200, minimum=100),
        host=s.str("host", None),
        port=s.int("port", None, minimum=1),
        process=s.str("process", None),
        timeout_s=s.number("timeout_s", 5.0),
    )
    s.done()
    needs = {"http": ("url",), "tcp": ("host", "port"), "process": ("process",)}[kind]
    for key in needs:
        if getattr(service, key) is None:
            raise ConfigError(f"{s.file}: {s.where}.{key}: required for a service of kind {kind}")
    if kind == "http" and not re.match(r"^https?://", service.url or ""):
        s.fail("url", "an http:// or https:// URL", service.url)
    return service


def _log(s: _Section, base: Path) -> LogSource:
    defaults = LogSource(name="", path=Path())
    log = LogSource(
        name=s.str("name"),
        path=s.path("path", base, resolve=False),
        error_patterns=s.strings("error_patterns", defaults.error_patterns),
        warn_patterns=s.strings("warn_patterns", defaults.warn_patterns),
        errors=_limit(s.section("errors"), None),
        rotate=_rotation(s.section("rotate"), base),
    )
    s.done()
    for pattern in log.error_patterns + log.warn_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"{s.file}: {s.where}: pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from None
    return log


def _rotation(s: _Section | None, base: Path) -> LogRotation | None:
    if s is None:
        return None
    rotation = LogRotation(
        max_bytes=s.int("max_bytes", None, minimum=1),
        max_age_days=s.number("max_age_days", None),
        keep=s.int("keep", 7, minimum=1),
        compress=s.bool("compress", True),
        method=s.choice("method", ROTATION_METHODS, "rename"),
        pid_file=s.path("pid_file", base, None),
        signal=s.str("signal", "SIGHUP"),
        period=s.choice("period", ROTATION_PERIODS, "daily"),
        max_copy_age_days=s.number("max_copy_age_days", None),
    )
    s.done()
    if rotation.max_bytes is None and rotation.max_age_days is None:
        raise ConfigError(
            f"{s.file}: {s.where}: expected max_bytes, max_age_days or both (when to rotate)"
        )
    if rotation.signal not in signal_module.Signals.__members__:
        s.fail("signal", "a signal name such as SIGHUP or SIGUSR1", rotation.signal)
    return rotation


def _mount(s: _Section, base: Path) -> Mount:
    mount = Mount(path=s.path("path", base), limit=_limit(s.section("limit"), None))
    s.done()
    return mount


def _database(s: _Section, base: Path) -> Database:
    engine = s.choice("engine", DATABASE_ENGINES)
    db = Database(
        name=s.str("name"),
        engine=engine,
        path=s.path("path", base, None),
        host=s.str("host", "localhost"),
        port=s.int("port", 5432, minimum=1),
        dbname=s.str("dbname", None),
        user=s.str("user", None),
        password=s.str("password", None),
    )
    s.done()
    if engine == "sqlite" and db.path is None:
        raise ConfigError(f"{s.file}: {s.where}.path: required for a sqlite database")
    if engine == "postgresql" and db.dbname is None:
        raise ConfigError(f"{s.file}: {s.where}.dbname: required for a postgresql database")
    if db.password is not None and not SECRET_REFERENCE.match(db.password):
        s.fail(
            "password",
            "a secret reference (env:NAME or file:/path), never the password",
            "a literal value",
        )
    return db


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config file; `path` defaults to $UPKEEP_CONFIG, then ./upkeep.yml."""
    path = Path(path or os.environ.get("UPKEEP_CONFIG") or DEFAULT_CONFIG_NAME).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config or create it)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return _config(_Section(data, "", path), path)


def _config(top: _Section, path: Path) -> Config:
    base = path.parent
    version = top.int("version", 1)
    if version != 1:
        top.fail("version", "1", version)
    timezone = top.str("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        top.fail("timezone", "an IANA time zone such as UTC or Europe/Berlin", timezone)
    defaults = top.section("defaults") or _Section({}, "defaults", path)
    timeout_s = defaults.int("timeout_s", 900, minimum=1)
    jobs = defaults.int("jobs", None, minimum=1)
    defaults.done()
    demo_section = top.section("demo")
    demo = None
    if demo_section is not None:
        demo = DemoSettings(
            root=demo_section.path("root", base),
            http_port=demo_section.int("http_port", 8765, minimum=1),
        )
        demo_section.done()
    config = Config(
        path=path,
        root=base,
        timezone=timezone,
        evidence_dir=top.path("evidence_dir", base, base / "evidence"),
        state_dir=top.path("state_dir", base, base / "var" / "state"),
        runbooks_dir=top.path("runbooks_dir", base, base / "runbooks"),
        timeout_s=timeout_s,
        jobs=jobs,
        demo=demo,
        services=top.items("services", _service),
        logs=top.items("logs", lambda s: _log(s, base)),
        mounts=top.items("mounts", lambda s: _mount(s, base)),
        databases=top.items("databases", lambda s: _database(s, base)),
        thresholds=_thresholds(top.section("thresholds")),
        backup=_backup(top.section("backup"), base),
    )
    config = replace(config, cleanup=_cleanup(top.section("cleanup"), config))
    top.done()
    _unique(path, "services", [s.name for s in config.services])
    _unique(path, "logs", [log.name for log in config.logs])
    _unique(path, "databases", [d.name for d in config.databases])
    return config


def _unique(path: Path, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{path}: {key}: name {name!r} is used twice; names must be unique")
        seen.add(name)


def _cleanup_root(s: _Section, config: Config) -> CleanupRoot:
    raw = s.str("path")
    root = CleanupRoot(
        path=(config.root / os.path.expanduser(raw)).absolute(),
        max_age_days=s.number("max_age_days", 7.0),
        max_bytes=s.int("max_bytes", None, minimum=1),
    )
    s.done()
    if root.path.is_symlink():
        raise ConfigError(
            f"{s.file}: {s.where}.path: {root.path} is a symlink; name the real "
            "directory (cleaning never follows symlinks)"
        )
    resolved = root.path.resolve()
    for guarded, what in _guarded_dirs(config):
        if resolved == guarded or guarded.is_relative_to(resolved):
            raise ConfigError(
                f"{s.file}: {s.where}.path: {resolved} is or contains {what}; "
                "expected a dedicated temp or cache directory"
            )
    return replace(root, path=resolved)


def _guarded_dirs(config: Config) -> list[tuple[Path, str]]:
    """Directories that no cleaning root may be, or contain."""
    guarded = [
        (Path("/"), "the filesystem root"),
        (Path("/home"), "/home"),
        (Path.home().resolve(), "the user's home directory"),
        (config.root.resolve(), "the project (where upkeep.yml lives)"),
        (config.evidence_dir.resolve(), "the evidence directory"),
        (config.state_dir.resolve(), "upkeep's state directory"),
        (config.runbooks_dir.resolve(), "the runbooks"),
    ]
    if config.backup.dir is not None:
        guarded.append((config.backup.dir.resolve(), "the backup store"))
    return guarded


def _cleanup(s: _Section | None, config: Config) -> Cleanup:
    if s is None:
        return Cleanup()
    cleanup = Cleanup(
        temp_roots=s.items("temp_roots", lambda r: _cleanup_root(r, config)),
        cache_roots=s.items("cache_roots", lambda r: _cleanup_root(r, config)),
        protect=s.strings("protect", ()),
        dry_run=s.bool("dry_run", False),
    )
    s.done()
    return cleanup


def _backup(s: _Section | None, base: Path) -> BackupPolicy:
    if s is None:
        return BackupPolicy()
    policy = BackupPolicy(
        dir=s.path("dir", base, None),
        mode=s.choice("mode", ("full", "incremental"), "full"),
        full_every=s.int("full_every", 7, minimum=1),
        keep_daily=s.int("keep_daily", 7),
        keep_weekly=s.int("keep_weekly", 4),
        keep_monthly=s.int("keep_monthly", 12),
        max_full_age_days=s.number("max_full_age_days", 8.0),
        compression_level=s.int("compression_level", 1, minimum=1),
        shrink_warn_percent=s.number("shrink_warn_percent", 50.0),
    )
    s.done()
    return policy
