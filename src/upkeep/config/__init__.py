"""Responsible for the maintained system's config, `upkeep.yml`: `load_config` reads it
(`load`, `reader`, `cleanup`) into the typed, frozen objects of `model` (`read_config` also
gives back every problem found, for `upkeep check`); `lookup` names one value by its key.
"""

from __future__ import annotations

from upkeep.config.backup_verification import BackupVerification
from upkeep.config.load import DEFAULT_CONFIG_NAME, load_config, read_config
from upkeep.config.model import (
    DATABASE_ENGINES,
    SERVICE_TYPES,
    SHIPPED_RUNBOOKS,
    BackupPolicy,
    Cleanup,
    CleanupRoot,
    Config,
    Database,
    DemoSettings,
    HttpService,
    Limit,
    LogCreate,
    LogRotation,
    LogSource,
    Mount,
    ProcessService,
    RunbookFolders,
    Service,
    SiteSettings,
    TcpService,
    Thresholds,
)

__all__ = [
    "DATABASE_ENGINES",
    "DEFAULT_CONFIG_NAME",
    "SERVICE_TYPES",
    "SHIPPED_RUNBOOKS",
    "BackupPolicy",
    "BackupVerification",
    "Cleanup",
    "CleanupRoot",
    "Config",
    "Database",
    "DemoSettings",
    "HttpService",
    "Limit",
    "LogCreate",
    "LogRotation",
    "LogSource",
    "Mount",
    "ProcessService",
    "RunbookFolders",
    "Service",
    "SiteSettings",
    "TcpService",
    "Thresholds",
    "load_config",
    "read_config",
]
