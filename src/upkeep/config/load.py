"""Responsible for loading `upkeep.yml`: the file read, every section turned into the typed
objects of `upkeep.config.model`, and anything unexpected refused with one `ConfigError`: a file
that is empty, not UTF-8 or not YAML, a key given twice, a value of the wrong type or range, an
evidence or state directory that is a file or a system directory. Relative paths are resolved
against the directory holding the config file.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from upkeep.config.alerts import AlertSettings, read_alerts
from upkeep.config.backup import read_backup
from upkeep.config.backup_verification import BackupVerification, read_backup_verification
from upkeep.config.cleanup import read_cleanup
from upkeep.config.compliance import Compliance, read_compliance
from upkeep.config.database_review import DatabaseReview, read_database_review
from upkeep.config.disaster_drill import DisasterDrill, read_disaster_drill
from upkeep.config.escalation import Escalation, read_escalation
from upkeep.config.evidence_git import EvidenceGit, read_evidence_git
from upkeep.config.host_id import host_id_problem
from upkeep.config.limits import read_limit, read_thresholds
from upkeep.config.log_backup import LogBackup, read_log_backup
from upkeep.config.logs import read_log
from upkeep.config.maintenance_review import MaintenanceReview, read_maintenance_review
from upkeep.config.metrics import MetricsSettings, read_metrics
from upkeep.config.model import (
    DATABASE_ENGINES,
    DEFAULT_MAX_OUTPUT_BYTES,
    MAX_MAX_OUTPUT_BYTES,
    MIN_MAX_OUTPUT_BYTES,
    SERVICE_TYPES,
    SHIPPED_RUNBOOKS,
    BackupPolicy,
    Cleanup,
    Config,
    Database,
    DemoSettings,
    HttpService,
    Mount,
    ProcessService,
    RunbookFolders,
    Service,
    SiteSettings,
    TcpService,
    Thresholds,
)
from upkeep.config.oncall import OnCall, read_oncall_setting
from upkeep.config.quarterly_review import QuarterlyReview, read_quarterly_review
from upkeep.config.reader import Problems, Section, parse_document, resolved
from upkeep.config.risk_register import RiskRegister, read_risk_register
from upkeep.config.schedule_export import ScheduleExport, read_schedule_export
from upkeep.config.security import SecurityReview, read_security
from upkeep.config.status import StatusSettings, read_status
from upkeep.config.support import Support, read_support
from upkeep.config.system_paths import system_directory
from upkeep.config.system_updates import SystemUpdates, read_system_updates
from upkeep.config.updates import UpdatesSettings, read_updates
from upkeep.config.windows import read_windows
from upkeep.errors import ConfigError
from upkeep.package_files import SHIPPED_RUNBOOKS_DIR
from upkeep.plain_text import is_utf8
from upkeep.regular_file import read_regular
from upkeep.secrets import REFERENCE

DEFAULT_CONFIG_NAME = "upkeep.yml"


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config file; `path` defaults to $UPKEEP_CONFIG, then ./upkeep.yml."""
    config, problems = read_config(path)
    problems.raise_any()
    assert config is not None
    return config


def read_config(path: Path | str | None = None) -> tuple[Config | None, Problems]:
    """The config as far as it can be read, and every problem found on the way (`upkeep
    check`). ConfigError when the file cannot be read or parsed as YAML; the config is None
    when the document is not a mapping."""
    written = Path(path or os.environ.get("UPKEEP_CONFIG") or DEFAULT_CONFIG_NAME)
    path = resolved(written, "config file")
    if not is_utf8(str(path)):
        # Every path in the project is written into evidence, reports and the site as UTF-8:
        # a run failed in its kernel, and the site build with a traceback.
        shown_path = os.fsencode(path).decode("utf-8", errors="backslashreplace")
        raise ConfigError(
            f"{shown_path}: the project's path is not UTF-8; expected a path in UTF-8 (rename "
            "the folder)"
        )
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (pass --config or create it)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    data = parse_document(raw, path)
    if data is None:
        raise ConfigError(
            f"{path}: the config file is empty (or only comments); expected at least "
            "`version: 1` and the sections describing the system (see the shipped upkeep.yml)"
        )
    problems = Problems(path)
    return problems.read(lambda: _config(Section(data, "", path), path, problems), None), problems


def _apart(config: Config) -> None:
    """The evidence and the state are folders apart: the evidence holds only run folders and
    the ledger (`upkeep verify` names anything else), the state what runbooks keep."""
    evidence, state = config.evidence_dir.resolve(), config.state_dir.resolve()
    if evidence == state or evidence.is_relative_to(state) or state.is_relative_to(evidence):
        raise ConfigError(
            f"{config.path}: state_dir ({config.state_dir}) and evidence_dir "
            f"({config.evidence_dir}) overlap; expected two folders apart, such as var/state "
            "and evidence beside upkeep.yml"
        )


def _config(top: Section, path: Path, problems: Problems) -> Config:
    """The config of the document `top`, read part by part; each part's problem in `problems`."""
    base = path.parent
    problems.read(lambda: _version(top), None)
    timezone = problems.read(lambda: _timezone(top), "UTC")
    timeout_s, jobs, max_output = problems.read(
        lambda: _defaults(top, path), (900, None, DEFAULT_MAX_OUTPUT_BYTES)
    )
    config = Config(
        path=path,
        root=base,
        timezone=timezone,
        host_id=problems.read(lambda: _host_id(top), None),
        evidence_dir=problems.read(
            lambda: _own_directory(top, "evidence_dir", base / "evidence"), base / "evidence"
        ),
        state_dir=problems.read(
            lambda: _own_directory(top, "state_dir", base / "var" / "state"),
            base / "var" / "state",
        ),
        runbooks_dir=problems.read(
            lambda: _runbook_folders(top, base), RunbookFolders((base / "runbooks",))
        ),
        timeout_s=timeout_s,
        jobs=jobs,
        max_output_bytes=max_output,
        demo=problems.read(lambda: _demo(top.section("demo"), base), None),
        services=problems.items(top, "services", _service),
        logs=problems.items(top, "logs", lambda s: read_log(s, base)),
        mounts=problems.items(top, "mounts", lambda s: _mount(s, base)),
        databases=problems.items(top, "databases", lambda s: _database(s, base)),
        thresholds=problems.read(lambda: read_thresholds(top.section("thresholds")), Thresholds()),
        backup=problems.read(lambda: read_backup(top.section("backup"), base), BackupPolicy()),
        backup_verification=problems.read(
            lambda: read_backup_verification(top.section("backup_verification")),
            BackupVerification(),
        ),
        site=problems.read(lambda: _site(top.section("site"), base), SiteSettings()),
        updates=problems.read(
            lambda: read_updates(top.section("updates"), base), UpdatesSettings()
        ),
        system_updates=problems.read(
            lambda: read_system_updates(top.section("system_updates")), SystemUpdates()
        ),
        metrics=problems.read(
            lambda: read_metrics(top.section("metrics"), base), MetricsSettings()
        ),
        evidence_git=problems.read(
            lambda: read_evidence_git(top.section("evidence_git"), base), EvidenceGit()
        ),
        schedule=problems.read(
            lambda: read_schedule_export(top.section("schedule")), ScheduleExport()
        ),
        extra=problems.read(lambda: _extra(top), MappingProxyType({})),
        status=problems.read(lambda: read_status(top.section("status")), StatusSettings()),
        maintenance_review=problems.read(
            lambda: read_maintenance_review(top.section("maintenance_review")),
            MaintenanceReview(),
        ),
        quarterly_review=problems.read(
            lambda: read_quarterly_review(top.section("quarterly_review")), QuarterlyReview()
        ),
    )
    log_backup = problems.read(
        lambda: read_log_backup(
            top.section("log_backup"), base, [log.name for log in config.logs], config.backup.dir
        ),
        LogBackup(),
    )
    config = replace(config, log_backup=log_backup)
    problems.read(lambda: _apart(config), None)
    register = problems.read(
        lambda: read_risk_register(config.updates.risk_register), RiskRegister()
    )
    review = problems.read(
        lambda: read_database_review(
            top.section("database_review"), base, [d.name for d in config.databases]
        ),
        DatabaseReview(),
    )
    security = problems.read(
        lambda: read_security(top.section("security"), base, [d.name for d in config.databases]),
        SecurityReview(),
    )
    read_before = len(problems.messages)
    oncall = problems.read(lambda: read_oncall_setting(top, base, config.timezone), OnCall())
    # None when oncall.yml has a problem of its own: its schedules are unknown, not missing.
    names = tuple(schedule.name for schedule in oncall.schedules)
    schedules = names if len(problems.messages) == read_before else None
    alerts = problems.read(
        lambda: read_alerts(top.section("alerts"), base, schedules), AlertSettings()
    )
    target_names = tuple(target.name for target in alerts.targets)
    escalation = problems.read(
        lambda: read_escalation(top.section("escalation"), target_names, schedules), Escalation()
    )
    drill = problems.read(
        lambda: read_disaster_drill(
            top.section("disaster_drill"),
            [d.name for d in config.databases],
            [s.name for s in config.services],
        ),
        DisasterDrill(),
    )
    compliance = problems.read(
        lambda: read_compliance(
            top.section("compliance"), path, [d.name for d in config.databases]
        ),
        Compliance(),
    )
    windows = problems.read(lambda: read_windows(top, config.timezone), ())
    config = replace(
        config,
        maintenance_windows=windows,
        risk_register=register,
        database_review=review,
        security=security,
        oncall=oncall,
        alerts=alerts,
        escalation=escalation,
        disaster_drill=drill,
        compliance=compliance,
        support=problems.read(
            lambda: read_support(top.section("support"), config.timezone, schedules), Support()
        ),
    )
    # Last: cleaning roots must stay clear of everything else upkeep.yml names.
    cleanup = problems.read(lambda: read_cleanup(top.section("cleanup"), config), Cleanup())
    config = replace(config, cleanup=cleanup)
    problems.read(top.done, None)
    problems.read(lambda: _unique(path, "services", [s.name for s in config.services]), None)
    problems.read(lambda: _unique(path, "logs", [log.name for log in config.logs]), None)
    problems.read(lambda: _unique(path, "databases", [d.name for d in config.databases]), None)
    return config


def _version(top: Section) -> None:
    # Read apart from timezone: a refused version left timezone unread, then "unknown key".
    version = top.int("version", 1)
    if version != 1:
        top.fail("version", "1", version)


def _timezone(top: Section) -> str:
    timezone = top.str("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        top.fail("timezone", "an IANA time zone such as UTC or Europe/Berlin", timezone)
    return timezone


def _host_id(top: Section) -> str | None:
    host_id = top.str("host_id", None)
    if host_id is not None and (problem := host_id_problem(host_id)) is not None:
        raise ConfigError(f"{top.file}: host_id: {problem}")
    return host_id


def _defaults(top: Section, path: Path) -> tuple[int, int | None, int]:
    defaults = top.section("defaults") or Section({}, "defaults", path)
    timeout_s = defaults.int("timeout_s", 900, minimum=1)
    jobs = defaults.int("jobs", None, minimum=1)
    max_output = defaults.int(
        "max_output_bytes",
        DEFAULT_MAX_OUTPUT_BYTES,
        minimum=MIN_MAX_OUTPUT_BYTES,
        maximum=MAX_MAX_OUTPUT_BYTES,
    )
    defaults.done()
    return timeout_s, jobs, max_output


def _runbook_folders(top: Section, base: Path) -> RunbookFolders:
    """The folders `runbooks_dir` names (one, or a list), `upkeep:shipped` being the runbooks
    that come with upkeep."""
    folders = []
    for written in top.one_or_more("runbooks_dir", ("runbooks",)):
        folder = (
            SHIPPED_RUNBOOKS_DIR
            if written == SHIPPED_RUNBOOKS
            else resolved(base / os.path.expanduser(written), f"{top.file}: runbooks_dir")
        )
        if folder in folders:
            raise ConfigError(
                f"{top.file}: runbooks_dir: {written!r} is listed twice; expected each folder once"
            )
        folders.append(folder)
    return RunbookFolders(folders)


def _site(s: Section | None, base: Path) -> SiteSettings:
    if s is None:
        return SiteSettings()
    settings = SiteSettings(
        name=s.name("name", None),
        docs_dir=s.path("docs_dir", base, None),
        site_dir=s.folder("site_dir", base, "a folder for the built site", None),
    )
    s.done()
    if settings.docs_dir is not None and not settings.docs_dir.is_dir():
        raise ConfigError(
            f"{s.file}: site.docs_dir: {settings.docs_dir} is not a directory; expected a folder "
            "of your own pages (Markdown), beside the shipped ones"
        )
    if settings.site_dir is not None:
        # Building empties the site folder first: never one of the system's, or the project.
        why = _not_own(settings.site_dir, base)
        if (
            why is None
            and settings.docs_dir is not None
            and (
                settings.docs_dir.is_relative_to(settings.site_dir)
                or settings.site_dir.is_relative_to(settings.docs_dir)
            )
        ):
            why = f"{settings.site_dir} and the pages folder {settings.docs_dir} overlap"
        if why is not None:
            raise ConfigError(
                f"{s.file}: site.site_dir: {why}; expected a folder of the site's own, such as "
                "site beside upkeep.yml (a build replaces what it holds)"
            )
    return settings


def _extra(top: Section) -> MappingProxyType[str, Any]:
    """The `extra:` section as written: upkeep reads none of it, a user's runbooks do."""
    return MappingProxyType(top.get("extra", dict, "a mapping", {}))


def _own_directory(top: Section, key: str, default: Path) -> Path:
    """A directory upkeep writes into (and cleans up after crashed runs): never a file, a system
    directory, the home directory itself, or the project itself."""
    base = top.file.parent
    directory = top.folder(key, base, "a folder of upkeep's own (made on the first run)", default)
    why = _not_own(directory, base)
    if why is not None:
        raise ConfigError(
            f"{top.file}: {key}: {why}; expected a directory of upkeep's own, such as "
            f"{default.relative_to(base)} beside upkeep.yml"
        )
    return directory


def _not_own(directory: Path, base: Path) -> str | None:
    """Why `directory` cannot be one upkeep writes into and empties, or None."""
    why = system_directory(directory)
    if why is None and directory == Path.home().resolve():
        why = f"{directory} is the home directory"
    if why is None and directory == base:
        why = f"{directory} is the project itself (where upkeep.yml lives)"
    return why


def _unique(path: Path, key: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{path}: {key}: name {name!r} is used twice; names must be unique")
        seen.add(name)


def _demo(s: Section | None, base: Path) -> DemoSettings | None:
    if s is None:
        return None
    demo = DemoSettings(root=s.path("root", base), http_port=s.port("http_port", 8765))
    s.done()
    return demo


def _service(s: Section) -> Service:
    name = s.name("name")
    kind = s.choice("kind", tuple(SERVICE_TYPES))
    timeout_s = s.number("timeout_s", 5.0)
    service: Service
    if kind == HttpService.kind:
        service = HttpService(
            name, _required(s, "url", kind), s.int("expect_status", 200, minimum=100), timeout_s
        )
        if not re.match(r"^https?://", service.url):
            s.fail("url", "an http:// or https:// URL", service.url)
    elif kind == TcpService.kind:
        host = _required(s, "host", kind)
        port = s.port("port", None)
        if port is None:
            raise ConfigError(f"{s.file}: {s.where}.port: required for a service of kind {kind}")
        service = TcpService(name, host, port, timeout_s)
    else:
        service = _process_service(s, name, timeout_s)
    s.done()
    return service


def _process_service(s: Section, name: str, timeout_s: float) -> ProcessService:
    service = ProcessService(
        name,
        process=s.str("process", None),
        timeout_s=timeout_s,
        user=s.str("user", None),
        command=s.str("command", None),
        pid_file=s.path("pid_file", s.file.parent, None, resolve=False),
    )
    if service.process is None and service.command is None and service.pid_file is None:
        raise ConfigError(
            f"{s.file}: {s.where}: a process service needs process (text its command line "
            "contains), command (its exact process name, as `pgrep -x` matches it) or pid_file"
        )
    if service.command is not None and "/" in service.command:
        s.fail("command", "a process name such as nginx (not a path)", service.command)
    return service


def _required(s: Section, key: str, kind: str) -> str:
    value = s.str(key, None)
    if value is None:
        raise ConfigError(f"{s.file}: {s.where}.{key}: required for a service of kind {kind}")
    return value


def _mount(s: Section, base: Path) -> Mount:
    mount = Mount(path=s.path("path", base), limit=read_limit(s.section("limit"), None))
    s.done()
    return mount


MAX_DATABASE_NAME = 100
_DATABASE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_DATABASE_NAME - 1}}}")
_CONNINFO_URIS = ("postgresql://", "postgres://")  # what libpq reads as a URI, not a name


def _database(s: Section, base: Path) -> Database:
    engine = s.choice("engine", DATABASE_ENGINES)
    restore_owner = s.bool("restore_owner", None)
    db = Database(
        name=s.str("name"),
        engine=engine,
        path=s.path("path", base, None),
        host=s.str("host", "localhost"),
        port=s.int("port", 5432, minimum=1),
        dbname=s.str("dbname", None),
        user=s.str("user", None),
        password=s.str("password", None),
        restore_owner=True if restore_owner is None else restore_owner,
    )
    s.done()
    if not _DATABASE_NAME.fullmatch(db.name) or ".." in db.name:
        # It names the database's backups (`<name>-<time>-<random>`), their folders and state.
        raise ConfigError(
            f"{s.file}: {s.where}.name: expected letters, digits, '.', '_' or '-' (first a"
            f" letter or digit, at most {MAX_DATABASE_NAME} characters), got {db.name!r}: it"
            " names the database's backups"
        )
    if engine == "sqlite" and db.path is None:
        raise ConfigError(f"{s.file}: {s.where}.path: required for a sqlite database")
    if restore_owner is not None and engine != "postgresql":
        raise ConfigError(
            f"{s.file}: {s.where}.restore_owner: only a postgresql database has this setting "
            f"(a restored {engine} database is a file owned by whoever restores it)"
        )
    if engine == "postgresql" and db.dbname is None:
        raise ConfigError(f"{s.file}: {s.where}.dbname: required for a postgresql database")
    if db.dbname is not None and ("=" in db.dbname or db.dbname.startswith(_CONNINFO_URIS)):
        # libpq reads such a dbname as connection settings, which could send the connection and
        # its password to another host. Not shown: a connection string may hold a password.
        raise ConfigError(
            f"{s.file}: {s.where}.dbname: expected the name of a database, got a connection "
            "string (an '=' or a postgresql:// URI); give host, port and user as keys of their own"
        )
    if db.password is not None and not REFERENCE.match(db.password):
        s.fail(
            "password",
            "a secret reference (env:NAME or file:/path), never the password",
            "a literal value",
        )
    return db
