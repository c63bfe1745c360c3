"""Responsible for the maintained system's config, `upkeep.yml`: `load_config` reads it
(`load`, `reader`, `cleanup`) into the typed, frozen objects of `model`.
"""

from __future__ import annotations

from upkeep.config.load import DEFAULT_CONFIG_NAME, load_config
from upkeep.config.model import (
    DATABASE_ENGINES,
    SERVICE_TYPES,
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
    Service,
    TcpService,
    Thresholds,
)

__all__ = [
    "DATABASE_ENGINES",
    "DEFAULT_CONFIG_NAME",
    "SERVICE_TYPES",
    "BackupPolicy",
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
    "Service",
    "TcpService",
    "Thresholds",
    "load_config",
]
