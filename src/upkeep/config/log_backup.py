"""Responsible for the `log_backup:` section of `upkeep.yml`: the folder log archives go to (never
inside the database backup store, which reads every folder in it as a backup), how long an
archive of a log without `retention_days` is kept (`keep_days`), which logs are archived (all by
default, else the names listed) and how long an uncompressed rotated copy must have been left
alone before it is archived (`settle_s`: a writer told to reopen may still be appending to it)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.reader import Section
from upkeep.errors import ConfigError

__all__ = ["LogBackup", "read_log_backup"]


@dataclass(frozen=True)
class LogBackup:
    """Where log archives go and how long they are kept; `dir` None: log backups are not
    configured (and cleaning deletes rotated copies as their rotation says)."""

    dir: Path | None = None
    keep_days: int = 365
    logs: tuple[str, ...] | None = None  # None: every configured log
    settle_s: float = 60.0

    @property
    def configured(self) -> bool:
        return self.dir is not None

    def covers(self, log_name: str) -> bool:
        """Whether the log called `log_name` (a wildcard log's `<name>:<file>` included) is
        archived."""
        if self.dir is None:
            return False
        return self.logs is None or log_name.split(":", 1)[0] in self.logs


def read_log_backup(
    s: Section | None, base: Path, logs: Collection[str], backup_dir: Path | None
) -> LogBackup:
    if s is None:
        return LogBackup()
    settings = LogBackup(
        dir=s.folder("dir", base, "a folder for the log archives (made on the first archive)"),
        keep_days=s.int("keep_days", 365, minimum=1),
        logs=s.strings("logs", None),
        settle_s=s.number("settle_s", 60.0),
    )
    s.done()
    for name in settings.logs or ():
        if name not in logs:
            names = ", ".join(sorted(logs)) or "(none configured)"
            s.fail("logs", f"names of logs under logs: ({names})", name)
    assert settings.dir is not None
    if backup_dir is not None and settings.dir.is_relative_to(backup_dir.resolve()):
        raise ConfigError(
            f"{s.file}: {s.where}.dir: {settings.dir} is inside backup.dir {backup_dir}, where "
            "every folder is read as a database backup; expected a folder outside it, such as "
            f"{backup_dir.parent / 'log-backups'}"
        )
    if backup_dir is not None and backup_dir.resolve().is_relative_to(settings.dir):
        raise ConfigError(
            f"{s.file}: {s.where}.dir: {settings.dir} holds backup.dir {backup_dir}; expected a "
            "folder of its own"
        )
    return settings
