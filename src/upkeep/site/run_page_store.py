"""Responsible for keeping each run's site files between builds, under state_dir, and putting
them into the built site: a run's files are made again only when what they come from changed (its
ledger facts, the identity of its run.json and report.html, what verify said, whether its runbook
is known, the time zone, or upkeep's templates and version), and each reaches the site by a hard
link, or a copy when the site is on another filesystem. A store that cannot be read is remade.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from upkeep import __version__, atomic
from upkeep.evidence.layout import is_regular

STORE_DIR = "site/run-pages"  # under state_dir: never in the evidence, never published
MANIFEST = "site/run-pages.lines"
MANIFEST_FORMAT = 2
OLD_MANIFEST = "site/run-pages.json"  # format 1, one JSON object: removed when a new one is saved
RACY_NS = 100_000_000  # more than a filesystem's clock tick (timestamps are 1-10 ms coarse)


@dataclass
class Placed:
    """What putting the run pages into a site did."""

    rendered: int = 0  # runs whose pages were rendered (new or changed)
    rendered_bytes: int = 0
    kept: int = 0  # runs whose folder of the last build was moved back as it was
    linked: int = 0  # files put into the site by a hard link
    copied: int = 0  # files copied (another filesystem)
    copied_bytes: int = 0


def templates_key() -> str:
    """upkeep's version and the bytes of every template: a new one renders every page again."""
    digest = hashlib.sha256(__version__.encode())
    folder = files("upkeep.rendering").joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()


def place_file(source: str | Path, target: Path, placed: Placed) -> None:
    """Put `source` at `target` by a hard link, else by a copy; a missing source, or one that is
    not a regular file (a symlink is never followed, nor linked into the site), puts nothing."""
    if not is_regular(source):
        return
    try:
        _link_replacing(source, target)
        if not is_regular(target):  # swapped for a link after the check: never publish it
            target.unlink()
            return
        placed.linked += 1
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # another filesystem, or links not allowed there: a copy is the same bytes
    try:
        shutil.copyfile(source, target, follow_symlinks=False)
        if not is_regular(target):
            target.unlink()
            return
    except OSError:
        return
    placed.copied += 1
    placed.copied_bytes += target.stat().st_size


def _link_replacing(source: str | Path, target: Path) -> None:
    # mkdocs has just cleaned the site: the target is there only in a dirty build or a rerun.
    # follow_symlinks=False: a source swapped for a link after it was checked is linked as the
    # link itself (which the site build never follows), not as what it points at.
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        target.unlink()
        os.link(source, target, follow_symlinks=False)


class RunPageStore:
    """The rendered pages of every run, kept under `state_dir`, with what each was rendered from.

    The manifest is one line per run, `relpath<TAB>entry`, after a header line; each entry (its
    fingerprint, its files' identities, its folders' identity in the site) stays the JSON text it
    was read as until its run is reached: years of runs are then a few MiB held, not ten."""

    def __init__(self, state_dir: Path, key: str) -> None:
        self.root = state_dir / STORE_DIR
        self._root = os.fspath(self.root)  # joined as a string for each of thousands of runs
        self.manifest_path = state_dir / MANIFEST
        self.old_manifest_path = state_dir / OLD_MANIFEST
        self.key = key
        self.saved_at = 0  # when the manifest read was written (time_ns), 0 when not known
        self.known = self._read_manifest()  # relpath -> entry (JSON text), as read
        self.fresh: dict[str, str] = {}  # relpath -> entry (JSON text), as this build leaves it
        self._open: tuple[str, dict[str, Any]] = ("", {})  # the run at hand, its entry parsed
        self._device: int | None = None  # the store's filesystem, once a run's files are in it
        self._mode = atomic.file_mode()  # read once: /proc, for each of thousands of files

    def _read_manifest(self) -> dict[str, str]:
        try:
            lines = self.manifest_path.read_text(encoding="utf-8").split("\n")
            header = json.loads(lines[0])
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(header, dict)
            or header.get("format") != MANIFEST_FORMAT
            or header.get("key") != self.key
        ):
            return {}
        saved_at = header.get("saved_at")
        self.saved_at = saved_at if isinstance(saved_at, int) else 0
        known = {}
        for line in lines[1:]:
            relpath, tab, entry = line.partition("\t")
            if tab:
                known[relpath] = entry  # parsed (and checked) only when its run is reached
        return known

    def pages(
        self, relpath: str, fingerprint: str, render: Callable[[], dict[str, bytes]], placed: Placed
    ) -> dict[str, str]:
        """The paths of the stored files of one run, by name under its folder; `render` is
        called only when the stored ones were rendered from something else, or changed since."""
        folder = f"{self._root}/{relpath}"
        text = self.known.get(relpath)
        entry = _entry(text)
        if entry is not None and entry.get("fingerprint") == fingerprint:
            stored = entry.get("files")
            if isinstance(stored, dict) and all(
                isinstance(name, str) and _identity(f"{folder}/{name}") == identity
                for name, identity in stored.items()
            ):
                self.fresh[relpath] = text  # type: ignore[assignment]  # entry is not None
                self._open = (relpath, entry)
                return {name: f"{folder}/{name}" for name in stored}
        shutil.rmtree(folder, ignore_errors=True)
        made = render()
        for parent in {os.path.dirname(f"{folder}/{name}") for name in made}:
            os.makedirs(parent, exist_ok=True)
        identities = {}
        for name, data in made.items():
            identities[name] = _write_new(f"{folder}/{name}", data, self._mode)
            placed.rendered_bytes += len(data)
        placed.rendered += 1
        self._keep(relpath, {"fingerprint": fingerprint, "files": identities})
        return {name: f"{folder}/{name}" for name in identities}

    def inodes(self, relpath: str) -> dict[str, tuple[int, int]]:
        """The device and inode of each stored file of the run `pages` has just given, as
        `pages` found or wrote them (no stat again)."""
        if self._device is None:
            self._device = os.lstat(self.root).st_dev
        files = self._entry_at_hand(relpath)["files"]
        return {name: (self._device, identity[2]) for name, identity in files.items()}

    def placed_as(self, relpath: str) -> Any:
        """What `placed` recorded for the run's folder in the site by the last build, when its
        stored files are still the ones placed then; else None."""
        text = self.known.get(relpath)
        if text is None or self.fresh.get(relpath) is not text:
            return None
        site = self._entry_at_hand(relpath).get("site")
        # A folder changed in the same clock tick as it was recorded keeps its times: one
        # recorded less than RACY_NS before the manifest was written is listed again.
        if not isinstance(site, list) or not all(
            isinstance(folder, list)
            and len(folder) == 3
            and isinstance(folder[2], int)
            and folder[2] < self.saved_at - RACY_NS
            for folder in site
        ):
            return None
        return site

    def placed(self, relpath: str, identity: Any) -> None:
        """Record the identity of the run's folder in the site (`kept_runs.folder_identity`),
        as this build placed it."""
        entry = self._entry_at_hand(relpath)
        if entry.get("site") != identity:
            self._keep(relpath, {**entry, "site": identity})

    def _keep(self, relpath: str, entry: dict[str, Any]) -> None:
        self.fresh[relpath] = json.dumps(entry, separators=(",", ":"))
        self._open = (relpath, entry)

    def _entry_at_hand(self, relpath: str) -> dict[str, Any]:
        """The fresh entry of `relpath`, parsed: the run `pages` has just given."""
        at_hand, entry = self._open
        return entry if at_hand == relpath else json.loads(self.fresh[relpath])

    def save(self) -> None:
        """Drop the pages of runs no longer shown; write the manifest when anything changed."""
        for relpath in set(self.known) - set(self.fresh):
            shutil.rmtree(self.root / relpath, ignore_errors=True)
        if self.fresh == self.known:
            return
        header = {"format": MANIFEST_FORMAT, "key": self.key, "saved_at": time.time_ns()}
        # Written line by line: no second copy of the whole manifest in memory.
        lines = itertools.chain(
            [compact_json(header)],
            (
                f"\n{relpath}\t{entry}".encode()
                for relpath, entry in self.fresh.items()
                if "\n" not in relpath and "\t" not in relpath  # such a run is rendered again
            ),
        )
        # One that cannot be written: the next build renders again what it cannot trust.
        with contextlib.suppress(OSError):
            atomic.write_chunks(self.manifest_path, lines)
            self.old_manifest_path.unlink(missing_ok=True)


def _entry(text: str | None) -> dict[str, Any] | None:
    """A manifest entry parsed; None when there is none, or it is not JSON of the right shape
    (that run is rendered again)."""
    if text is None:
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def compact_json(value: Any) -> bytes:
    """`value` as JSON without indentation: the json module's C encoder then does all the work
    (a cache of thousands of runs, written on every build that saw a new one)."""
    return json.dumps(value, separators=(",", ":")).encode()


def read_runs_cache(cache: Path, format_: int) -> dict[str, Any]:
    """The `runs` of a cache written as `compact_json({"format": format_, "runs": {...}})`;
    empty when it is missing, unreadable, of another format or not of that shape (never trusted
    beyond its shape: each entry's key is checked by its reader)."""
    try:
        value = json.loads(cache.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(value, dict) or value.get("format") != format_:
        return {}
    runs = value.get("runs")
    return runs if isinstance(runs, dict) else {}


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def file_identity(path: str | Path) -> list[int] | None:
    """(size, mtime_ns, inode, ctime_ns) of a file, None when it is not there."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def _identity(path: str) -> list[int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    # Not ctime: linking the file into a site, and the site's clean-up, change it on every build.
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def _write_new(path: str, data: bytes, mode: int) -> list[int]:
    """Write a file into a folder just emptied; its identity. No temporary name and no fsync:
    a store file is a cache, and the manifest (written and synced after every page) holds each
    file's size and mtime, so one cut short by a crash no longer matches and is made again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        info = os.fstat(handle.fileno())
    return [info.st_size, info.st_mtime_ns, info.st_ino]
