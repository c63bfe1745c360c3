"""Errors a user can cause, each turned into one message and an exit code at the CLI edge."""

from __future__ import annotations


class UpkeepError(Exception):
    """Base of every error upkeep reports to a user without a traceback."""

    exit_code = 2


class ConfigError(UpkeepError):
    """`upkeep.yml` is missing, unreadable, or has a wrong key, type or value."""


class RunbookError(UpkeepError):
    """A runbook is missing, or its metadata or parameters cell is invalid."""


class ParameterError(UpkeepError):
    """A parameter given on the command line is unknown, of the wrong type, or out of range."""


class EvidenceError(UpkeepError):
    """The evidence directory cannot be used (not a verification failure: see `verify`)."""

    exit_code = 3
