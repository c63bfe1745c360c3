"""Responsible for the `cleanup:` section: the temp and cache roots daily cleaning may delete
from, each refused at load when it is, or contains, something that must never be deleted.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from upkeep.config.model import Cleanup, CleanupRoot, Config
from upkeep.config.reader import Section
from upkeep.errors import ConfigError


def read_cleanup(s: Section | None, config: Config) -> Cleanup:
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


def _cleanup_root(s: Section, config: Config) -> CleanupRoot:
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
    for guarded, what in guarded_dirs(config):
        if resolved == guarded or guarded.is_relative_to(resolved):
            raise ConfigError(
                f"{s.file}: {s.where}.path: {resolved} is or contains {what}; "
                "expected a dedicated temp or cache directory"
            )
    return replace(root, path=resolved)


def guarded_dirs(config: Config) -> list[tuple[Path, str]]:
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
