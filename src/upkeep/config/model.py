"""Responsible for what `upkeep.yml` describes, as typed, frozen objects: the maintained system's
services, logs, mounts and databases, the thresholds, the cleanup roots and the backup policy,
the folders runbooks are found in, the site's own settings, and the sections a user's runbooks
read (`extra:`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from upkeep.config.alerts import AlertSettings
from upkeep.config.backup_verification import BackupVerification
from upkeep.config.compliance import Compliance
from upkeep.config.database_review import DatabaseReview, LogicalRelation  # noqa: F401
from upkeep.config.disaster_drill import DisasterDrill
from upkeep.config.escalation import Escalation
from upkeep.config.evidence_git import EvidenceGit
from upkeep.config.log_backup import LogBackup
from upkeep.config.maintenance_review import MaintenanceReview
from upkeep.config.metrics import MetricsSettings
from upkeep.config.oncall import OnCall
from upkeep.config.quarterly_review import QuarterlyReview
from upkeep.config.risk_register import RiskRegister
from upkeep.config.schedule_export import ScheduleExport
from upkeep.config.security import SecurityReview
from upkeep.config.status import StatusSettings
from upkeep.config.support import Support
from upkeep.config.system_updates import SystemUpdates
from upkeep.config.updates import UpdatesSettings
from upkeep.config.windows import MaintenanceWindow
from upkeep.errors import ConfigError
from upkeep.records import Status


@dataclass(frozen=True)
class Limit:
    """A warn/fail pair: a value at or above `warn` warns, at or above `fail` fails."""

    warn: float
    fail: float

    def grade(self, value: float) -> Status:
        if value >= self.fail:
            return Status.FAIL
        if value >= self.warn:
            return Status.WARN
        return Status.OK


@dataclass(frozen=True)
class Thresholds:
    cpu_percent: Limit = Limit(85, 95)
    memory_percent: Limit = Limit(85, 95)
    load_per_cpu: Limit = Limit(1.5, 3.0)
    disk_percent: Limit = Limit(80, 90)
    log_errors: Limit = Limit(1, 50)
    http_latency_ms: Limit = Limit(500, 2000)


# --- services the health check probes, one type per kind of probe --------------------------


@dataclass(frozen=True)
class HttpService:
    """A service answering HTTP: GET `url` must answer `expect_status` (redirects not followed)."""

    kind: ClassVar[str] = "http"
    name: str
    url: str
    expect_status: int = 200
    timeout_s: float = 5.0


@dataclass(frozen=True)
class TcpService:
    """A service accepting TCP connections on `host:port`."""

    kind: ClassVar[str] = "tcp"
    name: str
    host: str
    port: int
    timeout_s: float = 5.0


@dataclass(frozen=True)
class ProcessService:
    """A service that is up while one of its processes runs: a process of `user` (by default
    the account upkeep runs as) whose command line contains `process`, or whose name is exactly
    `command`, or the live process whose pid `pid_file` holds. Given together, every one given
    must hold for the same process; never any process on the host that mentions the text."""

    kind: ClassVar[str] = "process"
    name: str
    process: str | None = None
    timeout_s: float = 5.0
    user: str | None = None
    command: str | None = None
    pid_file: Path | None = None


Service = HttpService | TcpService | ProcessService
SERVICE_TYPES: dict[str, type[HttpService] | type[TcpService] | type[ProcessService]] = {
    kind.kind: kind for kind in (HttpService, TcpService, ProcessService)
}

# --- logs ----------------------------------------------------------------------------------

ROTATION_METHODS = ("rename", "copytruncate")
ROTATION_PERIODS = ("hourly", "daily", "weekly", "monthly")


@dataclass(frozen=True)
class LogCreate:
    """The file a `rename` rotation creates in the log's place: its permission bits, owner and
    group (a name or a numeric id); each one left None is the old log's."""

    mode: int | None = None
    owner: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class LogRotation:
    """When and how daily cleaning rotates one log file.

    A log is rotated when it is larger than `max_bytes` or its last rotation is older than
    `max_age_days`, but never twice within one `period`. `rename` moves the file aside, creates
    a new one (as `create` says) and then tells the writer to reopen it: the process named by
    `pid_file` gets `signal`, and/or the `postrotate` shell command runs (so `load_config`
    requires one of them with it); `copytruncate` copies and truncates in place, losing
    whatever the writer appends between the copy and the truncate (`postrotate` runs after it
    too, when set).
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
    create: LogCreate = LogCreate()
    postrotate: str | None = None


@dataclass(frozen=True)
class LogSource:
    """A log file scanned for lines matching error and warning patterns since the last scan.

    `path` may hold wildcards in its file name (`/var/log/nginx/*.log`): each file it matches
    is a log of its own (`logs.layout.matching_logs`). A log seen for the first time is read
    from `first_scan_window` before its end: zero (the default) reads only what is written
    from then on, None the whole file. What its lines show in evidence has secrets and
    personal data masked; IP addresses too when `mask_ip_addresses` is set. `retention_days`,
    when set, is how long the log's lines may be kept (often a legal rule): the compliance audit
    reports copies older than it, and log backups keep archives that long.
    """

    name: str
    path: Path
    error_patterns: tuple[str, ...] = (r"\bERROR\b", r"\bCRITICAL\b", r"\bFATAL\b")
    warn_patterns: tuple[str, ...] = (r"\bWARN(?:ING)?\b",)
    errors: Limit | None = None
    rotate: LogRotation | None = None
    mask_ip_addresses: bool = False
    first_scan_window: timedelta | None = timedelta(0)
    retention_days: int | None = None


# --- disks and databases -------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    path: Path
    limit: Limit | None = None


DATABASE_ENGINES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Database:
    """A database to back up: a SQLite file (`path`) or a PostgreSQL database (the rest).

    `restore_owner` (PostgreSQL): restores give every object its owner and privileges as in the
    source, which needs a superuser; false restores them as the restoring role's own, which is
    what a least-privilege backup role (`pg_read_all_data`, `CREATEDB`) can do.
    """

    name: str
    engine: str
    path: Path | None = None
    host: str = "localhost"
    port: int = 5432
    dbname: str | None = None
    user: str | None = None
    password: str | None = None  # a secret reference (env:NAME or file:/path), never the value
    restore_owner: bool = True


# --- cleaning and backups ------------------------------------------------------------------


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


BACKUP_MODES = ("full", "incremental")


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


# --- the whole system ----------------------------------------------------------------------


# What a run's output may take in its evidence (`upkeep.run.output_limit`): 8 MiB unless set.
DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024
MIN_MAX_OUTPUT_BYTES = 1024
MAX_MAX_OUTPUT_BYTES = 1024 * 1024 * 1024
SHIPPED_RUNBOOKS = "upkeep:shipped"  # in `runbooks_dir`: the runbooks that come with upkeep


class RunbookFolders(tuple[Path, ...]):
    """The folders `runbooks_dir` lists, in order (the shipped runbooks' folder among them when
    it names `upkeep:shipped`); shown as the paths, comma-separated."""

    def __str__(self) -> str:
        return ", ".join(str(folder) for folder in self)


@dataclass(frozen=True)
class SiteSettings:
    """The `site:` section: the site's title, a folder of the user's own pages (each replaces
    the shipped page of the same path, or is added), and where the site is built."""

    name: str | None = None
    docs_dir: Path | None = None
    site_dir: Path | None = None


@dataclass(frozen=True)
class DemoSettings:
    """Where the embedded demo system lives and the port its health service listens on."""

    root: Path
    http_port: int = 8765


@dataclass(frozen=True)
class Config:
    """The maintained system, as `upkeep.yml` describes it."""

    path: Path
    root: Path
    timezone: str = "UTC"
    # This host's id in a fleet (`host_id:`): written into every run's run.json.
    host_id: str | None = None
    evidence_dir: Path = Path("evidence")
    state_dir: Path = Path("var/state")
    runbooks_dir: RunbookFolders = RunbookFolders((Path("runbooks"),))
    timeout_s: int = 900
    jobs: int | None = None
    # How many bytes of output a run keeps (`defaults.max_output_bytes`); a runbook may set its own.
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    demo: DemoSettings | None = None
    services: tuple[Service, ...] = ()
    logs: tuple[LogSource, ...] = ()
    mounts: tuple[Mount, ...] = ()
    databases: tuple[Database, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    cleanup: Cleanup = field(default_factory=Cleanup)
    backup: BackupPolicy = field(default_factory=BackupPolicy)
    backup_verification: BackupVerification = field(default_factory=BackupVerification)
    log_backup: LogBackup = field(default_factory=LogBackup)
    site: SiteSettings = field(default_factory=SiteSettings)
    updates: UpdatesSettings = field(default_factory=UpdatesSettings)
    system_updates: SystemUpdates = field(default_factory=SystemUpdates)
    risk_register: RiskRegister = field(default_factory=RiskRegister)
    database_review: DatabaseReview = field(default_factory=DatabaseReview)
    security: SecurityReview = field(default_factory=SecurityReview)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    evidence_git: EvidenceGit = field(default_factory=EvidenceGit)
    schedule: ScheduleExport = field(default_factory=ScheduleExport)
    status: StatusSettings = field(default_factory=StatusSettings)
    maintenance_review: MaintenanceReview = field(default_factory=MaintenanceReview)
    oncall: OnCall = field(default_factory=OnCall)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    escalation: Escalation = field(default_factory=Escalation)
    disaster_drill: DisasterDrill = field(default_factory=DisasterDrill)
    quarterly_review: QuarterlyReview = field(default_factory=QuarterlyReview)
    compliance: Compliance = field(default_factory=Compliance)
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    support: Support = field(default_factory=Support)
    # The `extra:` section, as written: settings of the user's own runbooks, never read by
    # upkeep itself (by convention one key per runbook: `config.extra.get("disk-report", {})`).
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def secret_references(self) -> list[tuple[str, str]]:
        """(where in upkeep.yml, reference) of every secret the config names: the databases'
        passwords and the alert targets' URLs (an apprise URL carries its token)."""
        named = [
            (f"databases[{i}].password", database.password)
            for i, database in enumerate(self.databases)
        ] + [
            (f"alerts.targets[{i}].url", target.url) for i, target in enumerate(self.alerts.targets)
        ]
        return [(where, reference) for where, reference in named if reference is not None]

    def database(self, name: str) -> Database:
        """The configured database called `name`; ConfigError naming the ones there are."""
        for database in self.databases:
            if database.name == name:
                return database
        names = ", ".join(d.name for d in self.databases) or "(none configured)"
        raise ConfigError(f"{self.path}: no database named {name!r}; expected one of {names}")
