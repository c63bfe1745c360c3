"""Responsible for writing files so that a crash or kill leaves either the old content or the new,
with the one mode everything upkeep writes into evidence and state gets.

Content goes to a temporary name in the same directory, is fsynced, renamed over the target,
and the directory is fsynced so the rename itself survives a power cut. A write or fsync that
fails (a full disk) raises an OSError naming the file, as opening it would. A file is written
0600 unless the caller names a mode; evidence and state name `file_mode()`, the one policy for
what upkeep writes there: `FILE_MODE` for files and `DIR_MODE` for folders less the process's
umask, as any Unix tool creates them (0644 and 0755 under the usual umask 022, 0600 and 0700
under 077).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FILE_MODE = 0o666  # less the umask
DIR_MODE = 0o777  # less the umask
PRIVATE_MODE = 0o600  # what a write gets when its caller names no mode


def umask() -> int:
    """The process's umask, read without changing it: setting it to read it back would, for a
    moment, apply to files other threads create."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # no /proc: a moment of the most private mask, never a looser one
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode of a file upkeep creates in evidence or state."""
    return FILE_MODE & ~umask()


def dir_mode() -> int:
    """The mode of a folder upkeep creates in evidence or state."""
    return DIR_MODE & ~umask()


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Raise an OSError that names no file (a failed write or fsync) again, naming `path`, so
    that what the user reads says where the disk was full."""
    try:
        yield
    except OSError as err:
        if err.filename is not None or err.errno is None:
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with naming(directory):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes, *, mode: int = PRIVATE_MODE) -> None:
    """Replace `path` with `data` atomically; the file gets exactly `mode`."""
    write_chunks(path, (data,), mode=mode)


def write_chunks(path: Path, chunks: Iterable[bytes], *, mode: int = PRIVATE_MODE) -> None:
    """Replace `path` atomically with the bytes of `chunks`, in order, written as they come (a
    large file never held whole); the file gets exactly `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with naming(path), os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str, *, mode: int = PRIVATE_MODE) -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode)


def write_json(path: Path, value: Any, *, mode: int = PRIVATE_MODE) -> None:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_text(path, text, mode=mode)
