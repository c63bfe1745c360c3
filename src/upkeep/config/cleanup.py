"""Responsible for the `cleanup:` section: the temp and cache roots daily cleaning may delete
from, each refused at load when it is not clearly disposable: a system directory (see
`system_paths`), a path through a symlink, a root that is or contains something upkeep or the
maintained system keeps (the project, evidence, state, runbooks, backups, a database file, a
log, a pid file), one inside upkeep's own directories, or a PostgreSQL data directory or git
work tree. What appears inside a root later is guarded by the scan (`upkeep.cleaning.scan`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from upkeep.config.model import Cleanup, CleanupRoot, Config
from upkeep.config.reader import Section, lexical
from upkeep.config.system_paths import GUARD_MARKERS, not_disposable, system_directory
from upkeep.errors import ConfigError

__all__ = [
    "guarded_dirs",
    "guarded_files",
    "holds_kept",
    "read_cleanup",
    "refusal",
    "replaces_kept",
]


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
    _refuse_overlaps(s, cleanup)
    return cleanup


def _refuse_overlaps(s: Section, cleanup: Cleanup) -> None:
    """A root inside another (or the same one twice) would be cleaned by the outer root's rules
    too: a cache kept ten years emptied by the temp root around it after seven days."""
    roots = [
        (f"{s.where}.{key}[{index}].path", root.path)
        for key, group in (("temp_roots", cleanup.temp_roots), ("cache_roots", cleanup.cache_roots))
        for index, root in enumerate(group)
    ]
    for at, (name, path) in enumerate(roots):
        for other, other_path in roots[at + 1 :]:
            if path == other_path:
                how = f"{name} and {other} are the same directory, {path}"
            elif path.is_relative_to(other_path):
                how = f"{name} ({path}) is inside {other} ({other_path})"
            elif other_path.is_relative_to(path):
                how = f"{other} ({other_path}) is inside {name} ({path})"
            else:
                continue
            raise ConfigError(
                f"{s.file}: {how}; expected cleaning roots that do not overlap (the outer "
                "root's age and size rules would clean the inner one too)"
            )


def _cleanup_root(s: Section, config: Config) -> CleanupRoot:
    raw = s.str("path")
    root = CleanupRoot(
        path=config.root / os.path.expanduser(raw),
        max_age_days=s.number("max_age_days", 7.0),
        max_bytes=s.int("max_bytes", None, minimum=1),
    )
    s.done()
    path = lexical(root.path)
    why = refusal(root.path, config)
    if why is not None:
        raise ConfigError(
            f"{s.file}: {s.where}.path: {why}; expected a dedicated temp or cache directory"
        )
    # Not resolved: cleaning opens the root from "/" one component at a time and must find
    # every one of them a real directory, as checked here.
    return replace(root, path=path)


def refusal(written: Path, config: Config) -> str | None:
    """Why the cleaning root `written` (absolute, as written, not yet normalised) must be
    refused, or None when it is clearly disposable."""
    why = holds_kept(lexical(written), config)
    link = _symlink_on_the_way(written) if why is None else None
    if link is not None:
        why = (
            f"{link} is a symlink (to {os.readlink(link)}); name the real directory "
            "(cleaning never follows symlinks)"
        )
    return why


def holds_kept(
    path: Path, config: Config, *, leave: Collection[str] = (), keeps_hidden: bool = False
) -> str | None:
    """Why emptying the folder `path` (absolute, normal) would lose something kept, or None: it
    is a system directory, is or holds the project, the home directory or one of upkeep's own
    folders, lies inside one of those, holds a file the maintained system keeps or upkeep.yml
    names (but those it names as `leave`), or is or lies in a git work tree or a PostgreSQL
    data directory. With `keeps_hidden` (a site build, which empties its folder but for hidden
    entries, and whose caller checks what else the folder holds): only the system's own folders
    themselves, not whatever lies in their trees, and a `.git` in it is kept."""
    for guarded, what in guarded_dirs(config):
        if path == guarded or guarded.is_relative_to(path):
            return f"{path} is or contains {what}"
    why = system_directory(path) if keeps_hidden else not_disposable(path)
    if why is not None:
        return why
    for inner, what in _upkeeps_own(config):
        if path.is_relative_to(inner):
            return f"{path} is inside {what}"
    for guarded, what in guarded_files(config, leave=leave):
        if guarded.is_relative_to(path):
            return f"{path} contains {what} ({guarded})"
    for marker, what in GUARD_MARKERS.items():
        if os.path.lexists(path / marker) and not (keeps_hidden and marker.startswith(".")):
            return f"{path} is {what}"
    for parent in path.parents:
        if os.path.lexists(parent / "PG_VERSION"):
            return f"{path} is inside {parent}, {GUARD_MARKERS['PG_VERSION']}"
    return None


def replaces_kept(path: Path, config: Config, *, leave: Collection[str] = ()) -> str | None:
    """Why writing the file `path` over what is there would lose something kept, or None: it is
    upkeep.yml, a file the maintained system keeps or upkeep.yml names (but those it names as
    `leave`), or lies in one of upkeep's own folders (the ledger, a run, state, a backup). As
    written and through its symlinks: an export's `--output`."""
    written = lexical(path.absolute())
    for form in dict.fromkeys((written, Path(os.path.realpath(written)))):
        for inner, what in _upkeeps_own(config):
            if form.is_relative_to(inner):
                return f"{form} is inside {what}"
        for guarded, what in guarded_files(config, leave=leave):
            if form == guarded:
                return f"{form} is {what}"
    return None


def guarded_dirs(config: Config) -> list[tuple[Path, str]]:
    """Directories that no cleaning root may be, or contain."""
    return [
        (Path("/"), "the filesystem root"),
        (Path("/home"), "/home"),
        (Path.home().resolve(), "the user's home directory"),
        (config.root.resolve(), "the project (where upkeep.yml lives)"),
        *_upkeeps_own(config),
    ]


def _upkeeps_own(config: Config) -> list[tuple[Path, str]]:
    """upkeep's own directories: no cleaning root may be, contain or lie inside one."""
    own = [
        (config.evidence_dir.resolve(), "the evidence directory"),
        (config.state_dir.resolve(), "upkeep's state directory"),
        *((folder.resolve(), "the runbooks") for folder in config.runbooks_dir),
    ]
    if config.backup.dir is not None:
        own.append((config.backup.dir.resolve(), "the backup store"))
    if config.log_backup.dir is not None:
        own.append((config.log_backup.dir.resolve(), "the log archive store"))
    return own


# What upkeep.yml names as places to look at, not things kept: a cleaning root may hold them
# (the directories the security review scans, a mount whose use is measured).
_LOOKED_AT = frozenset(
    {
        "cleanup",
        "extra",
        "mounts",
        "security.home_roots",
        "security.suid_roots",
        "security.world_writable_roots",
        "security.temp_paths",
    }
)


def guarded_files(config: Config, *, leave: Collection[str] = ()) -> list[tuple[Path, str]]:
    """Files of the maintained system no cleaning root may contain: database files, logs (and
    so their rotated copies beside them), the pid files rotation signals through, and every
    other file or folder upkeep.yml names (the security baseline, the alert inbox, the metrics
    textfile, lock files, ...). Each as written, through its real folders, and where a symlink
    in its place leads: a log named through a symlinked folder is the file in the real one."""
    named: list[tuple[Path, str]] = []
    for database in config.databases:
        if database.path is not None:
            named.append((database.path, f"the database file of {database.name!r}"))
    for log in config.logs:
        named.append((log.path, f"the log {log.name!r}"))
        if log.rotate is not None and log.rotate.pid_file is not None:
            named.append((log.rotate.pid_file, f"the pid file of log {log.name!r}"))
    named.extend(
        (path, "upkeep.yml itself" if where == "path" else f"what upkeep.yml names as {where}")
        for where, path in _named(config)
        if where not in leave
    )
    files: dict[Path, str] = {}
    for path, what in named:
        written = lexical(config.root / path)
        for form in (
            written,
            Path(os.path.realpath(written.parent)) / written.name,
            Path(os.path.realpath(written)),
        ):
            files.setdefault(form, what)
    return list(files.items())


def _named(value: Any, where: str = "") -> Iterator[tuple[str, Path]]:
    """(where in upkeep.yml, path) of every path the config holds, outside `_LOOKED_AT`."""
    if where in _LOOKED_AT:
        return
    if isinstance(value, Path):
        yield where, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _named(getattr(value, field.name), f"{where}.{field.name}".lstrip("."))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _named(item, where)


def _symlink_on_the_way(path: Path) -> Path | None:
    """The first component of `path` (as written, `..` included) that is a symlink, if any:
    resolving the path would hide it from the descriptor walk that cleaning makes."""
    where = Path(path.anchor)
    for part in path.parts[1:]:
        where = where / part
        if where.is_symlink():
            return where
    return None
