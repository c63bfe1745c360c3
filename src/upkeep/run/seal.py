"""Responsible for sealing a run before it is published: secrets scrubbed from the executed
notebook, the run record and the kernel's log, then the notebook and its report written into
the run's staging folder. (The evidence store hashes every file as it publishes the folder.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upkeep.atomic import dir_mode, file_mode, write_text
from upkeep.masking import mask_credentials
from upkeep.plain_text import cut, is_utf8, shown
from upkeep.records import Check, RunRecord, Status
from upkeep.redact import Scrubber
from upkeep.registry import Runbook
from upkeep.regular_file import file_kind
from upkeep.run.credentials import mask_notebook, mask_record
from upkeep.secrets import SecretError
from upkeep.secrets import resolve as resolve_secret
from upkeep.units import human_size

if TYPE_CHECKING:
    from upkeep.config import Config

NOTEBOOK = "notebook.ipynb"
REPORT = "report.html"
KERNEL_LOG = "kernel.log"
# The kernel's connection file, written in the staging folder so that a run killed before its
# kernel was shut down leaves it where the next run's recovery removes it: never sealed.
KERNEL_CONNECTION = ".kernel-connection.json"
# What a run's own code and inputs produced, and so what may carry a secret value; the fields
# upkeep itself owns (ids, times, hashes) stay exact.
# What upkeep itself writes into run.json, which must stay exact (a secret such as a year also
# occurs in run ids and times). Everything else the run produced, or may produce in a later
# version, is scrubbed: a list of what to scrub had missed the summary and cleared findings.
ENGINE_FIELDS = frozenset(
    {
        "schema",
        "run_id",
        "runbook",
        "secret_parameters",
        "trigger",
        "as_of",
        "started_at",
        "ended_at",
        "duration_s",
        "status",
        "dry_run",
        "host",
        "versions",
        "artifacts",
    }
)
UNKEPT_CHECK = "artifacts:not-regular"
UNKEPT_MESSAGE_CHARS = 2000
_KERNEL_NOISE = re.compile(rb"^.*Kernel is running over TCP without encryption.*\n?", re.M)


class Renderer:
    """The report renderer, imported and warmed up on a thread while the first kernels start
    (nbconvert's import is the slow part); pygments' lazy loading is not safe to race, so every
    render waits for the warm-up."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._warm_up = threading.Thread(target=self._warm, daemon=True)
        self._warm_up.start()

    def _warm(self) -> None:
        with contextlib.suppress(Exception):  # only a head start; a real render reports failures
            _render_module().warm_up(self.tz)

    def wait_until_warm(self) -> None:
        """Return once the warm-up is done (before a run that must have the machine quiet)."""
        self._warm_up.join()

    def render(self, nb: Any, record: RunRecord) -> str:
        self._warm_up.join()
        return _render_module().render_report(nb, record, self.tz)


def _render_module() -> Any:
    from upkeep.rendering import report

    return report


def secret_values(
    runbook: Runbook, params: dict[str, Any], config: Config | None = None
) -> dict[str, str]:
    """reference -> value for every secret the run could reach that resolves here: its secret
    parameters, and the secrets upkeep.yml names (a runbook reads the config, so a database
    password it resolves may end up in what it prints)."""
    references = [params.get(spec.name) for spec in runbook.params if spec.secret]
    if config is not None:
        references += [reference for _, reference in config.secret_references()]
    values = {}
    for reference in references:
        if reference and reference not in values:
            try:
                values[reference] = resolve_secret(reference)
            except SecretError:
                continue  # unresolvable: the kernel could not read it either, nothing to scrub
    return values


def seal(
    staging: Path,
    nb: Any,
    record: RunRecord,
    secrets: dict[str, str] | list[tuple[str, str]],
    renderer: Renderer,
    log_limit: int | None = None,
    log_dropped: int = 0,
) -> RunRecord:
    """Scrub and write the run's artifacts into `staging`; return the scrubbed record. Of the
    kernel's own output, the first `log_limit` bytes are kept (all when None); `log_dropped`
    bytes past them were cut from its log while the run went on (`output_limit.KernelLogTrim`).
    """
    (staging / KERNEL_CONNECTION).unlink(missing_ok=True)  # removed at shutdown, unless it failed
    scrubber = Scrubber(secrets)
    if nb is not None:
        nb = scrubber.notebook(nb)
        mask_notebook(nb)  # credentials nobody declared secret: masked by their form
    record = mask_record(scrub_record(record, scrubber))
    _keep_kernel_log(staging / KERNEL_LOG, scrubber, log_limit, log_dropped)
    if nb is not None:
        _write_notebook(staging / NOTEBOOK, nb)
    write_text(staging / REPORT, renderer.render(nb, record), mode=file_mode())
    return record


FOLDER_CHECK = "artifacts:folder-gone"
SECRET_CHECK = "artifacts:secret"
# A file of the run's own that holds a secret is scrubbed in place when it is UTF-8 text of at
# most this size; otherwise (a binary, a huge file) it is removed.
SCRUB_IN_PLACE_BYTES = 16 * 1024 * 1024
_SCAN_CHUNK = 1024 * 1024
# What upkeep writes into the folder and scrubs itself (`seal`), or never keeps.
_OWN_FILES = frozenset({NOTEBOOK, REPORT, KERNEL_LOG, KERNEL_CONNECTION, "run.json"})


def scrub_artifacts(staging: Path, scrubber: Scrubber) -> Check | None:
    """Find the run's secrets in the files its code wrote into its folder (an artifact, a
    dump): scrub a text file in place, remove any other, and say which in a warning; None when
    no file held one. Only regular files are read, never through a link."""
    forms = scrubber.byte_forms()
    if not forms:
        return None
    pattern = re.compile(b"|".join(re.escape(form) for form in forms))
    overlap = len(forms[0]) - 1
    scrubbed: list[str] = []
    removed: list[str] = []
    for dirpath, _, filenames, folder in os.fwalk(staging, follow_symlinks=False):
        where = Path(dirpath).relative_to(staging)
        for name in sorted(filenames):
            if where == Path(".") and name in _OWN_FILES:
                continue
            text = _text_holding(name, folder, pattern, overlap)
            if text is None:
                continue
            shown = _shown_name(where / name)
            cleaned = scrubber.text(text) if isinstance(text, str) else None
            if cleaned is not None and pattern.search(cleaned.encode("utf-8")) is None:
                write_text(staging / where / name, cleaned, mode=file_mode())
                scrubbed.append(shown)
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=folder)
            removed.append(shown)
    if not scrubbed and not removed:
        return None
    done = []
    if scrubbed:
        done.append(f"scrubbed in place: {', '.join(scrubbed)}")
    if removed:
        done.append(f"removed (not text, or over 16 MiB): {', '.join(removed)}")
    return Check(
        SECRET_CHECK,
        Status.WARN,
        value=float(len(scrubbed) + len(removed)),
        message=cut(
            "the run wrote a secret's value into files of its own, which would have kept it; "
            + "; ".join(done),
            UNKEPT_MESSAGE_CHARS,
        ),
    )


def _text_holding(name: str, folder: int, pattern: re.Pattern[bytes], overlap: int) -> Any:
    """None when the regular file `name` in `folder` holds no form of a secret; else its
    text, when it is UTF-8 of at most SCRUB_IN_PLACE_BYTES, or True (it holds one, and is
    not such text)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None
        tail = b""
        while chunk := file.read(_SCAN_CHUNK):
            if pattern.search(tail + chunk):
                break
            tail = chunk[-overlap:] if overlap else b""
        else:
            return None
        if status.st_size > SCRUB_IN_PLACE_BYTES:
            return True
        file.seek(0)
        try:
            return file.read().decode("utf-8")
        except UnicodeDecodeError:
            return True


def restore_folder(staging: Path) -> Check | None:
    """Make the run's folder again when its code removed it, renamed it, or put something
    else in its place (never followed), and say so in a warning: what it held is lost, and
    without a folder the run would leave no record at all. None when it is still there."""
    try:
        mode = staging.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        return None
    if mode is not None:
        staging.unlink()  # a link or a file in its place: removed, not followed
    staging.mkdir(mode=dir_mode())
    return Check(
        FOLDER_CHECK,
        Status.WARN,
        message=(
            "the run's folder was gone when the run ended (removed, renamed or replaced while "
            "it ran): what it held, the kernel's own output and any artifacts, is lost; this "
            "record and the executed notebook are what is left"
        ),
    )


def drop_unkept(staging: Path) -> Check | None:
    """Remove, unread, what a run left in its folder that cannot be evidence (a symlink, a FIFO,
    a socket, a device: only regular files are hashed and kept), rename what has a name the
    record cannot list (not UTF-8, or a backslash), and say so in a warning; None when
    there was nothing. Left as they were, either would lose the whole run.

    Walked by descriptor, never by path: a folder swapped for a link meanwhile (by a process
    the run left behind) is not entered. A folder the run made read-only or unreadable is
    given the evidence's mode first, so that its entries can be removed and later hashed."""
    unkept: list[str] = []
    renamed: list[str] = []
    folder_mode = dir_mode()
    for dirpath, dirnames, filenames, folder in os.fwalk(staging, follow_symlinks=False):
        with contextlib.suppress(OSError):
            os.fchmod(folder, folder_mode)
        where = Path(dirpath).relative_to(staging)
        for name in sorted(dirnames + filenames):
            try:
                mode = os.lstat(name, dir_fd=folder).st_mode
                if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                    if stat.S_ISDIR(mode):
                        _open_up(name, folder, folder_mode)  # before the walk enters it
                    if not _fits_record(name):
                        new = _rename_to_fit(name, folder)
                        if name in dirnames:
                            dirnames[dirnames.index(name)] = new  # the walk enters it so
                        renamed.append(f"{_shown_name(where / name)} as {new}")
                    continue
                os.unlink(name, dir_fd=folder)  # a symlink itself, never what it points at
            except OSError:  # gone already; or left, for the store to name and refuse
                continue
            unkept.append(f"{_shown_name(where / name)} ({file_kind(mode)})")
    if not unkept and not renamed:
        return None
    done = []
    if unkept:
        things = "entry" if len(unkept) == 1 else "entries"
        done.append(
            f"{len(unkept)} {things} that cannot be evidence (only regular files can), removed "
            f"unread: {', '.join(unkept)}"
        )
    if renamed:
        things = "name" if len(renamed) == 1 else "names"
        done.append(
            f"{len(renamed)} {things} a record cannot list (not UTF-8, or a backslash), "
            f"renamed: {', '.join(renamed)}"
        )
    return Check(
        UNKEPT_CHECK,
        Status.WARN,
        value=float(len(unkept) + len(renamed)),
        message=cut(
            f"the run left in its folder {'; and '.join(done)}; write an artifact with "
            "upkeep.run_artifacts.write_artifact",
            UNKEPT_MESSAGE_CHARS,
        ),
    )


def _fits_record(name: str) -> bool:
    """Whether run.json can list a file name: UTF-8 text (bytes that are not are kept by
    Python as lone surrogates) with no backslash (`upkeep verify` reads one as a way out)."""
    return is_utf8(name) and "\\" not in name


def _rename_to_fit(name: str, folder: int) -> str:
    """Rename the entry `name` in `folder` to a name that fits a record, each byte that is not
    UTF-8 and each backslash written as %XX (and a number added, if that is taken); the new
    name."""
    base = "".join(
        f"%{ord(char) - 0xDC00:02X}"
        if "\udc80" <= char <= "\udcff"
        else "%5C"
        if char == "\\"
        else char
        for char in name
    )
    for number in range(1000):
        new = base if number == 0 else f"{base}-{number}"
        try:
            os.lstat(new, dir_fd=folder)
        except FileNotFoundError:
            os.rename(name, new, src_dir_fd=folder, dst_dir_fd=folder)
            return new
    raise OSError(errno.EEXIST, "no free name to rename to", name)


def _open_up(name: str, parent: int, mode: int) -> None:
    """Give the folder `name` in `parent` `mode`, through a descriptor of the folder itself (a
    link put in its place is not followed), where /proc lets a path name that descriptor."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(name, flags, dir_fd=parent)
    try:
        with contextlib.suppress(OSError):
            os.chmod(f"/proc/self/fd/{descriptor}", mode)
    finally:
        os.close(descriptor)


def _shown_name(relative: Path) -> str:
    """A name a runbook chose, as text that fits a record (any bytes, control characters)."""
    raw = os.fsencode(relative)
    return shown(raw.decode("utf-8", errors="replace"))


def scrub_record(record: RunRecord, scrubber: Scrubber) -> RunRecord:
    if not scrubber:
        return record
    data = record.to_json()
    for key in data.keys() - ENGINE_FIELDS:
        data[key] = scrubber.value(data[key])
    return RunRecord.from_json(data)


def _keep_kernel_log(path: Path, scrubber: Scrubber, limit: int | None, dropped: int) -> None:
    """Keep what the kernel process itself printed, scrubbed, only when it printed something:
    its first `limit` bytes in whole lines, and how much more there was (`dropped` bytes of it
    already cut from the file). Only the regular file the kernel wrote: a link a runbook put in
    its place is not followed into the evidence."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError:  # a link (ELOOP): not the kernel's log
        with contextlib.suppress(OSError):
            path.unlink()
        return
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            with contextlib.suppress(OSError):  # a directory stays; a FIFO goes
                path.unlink()
            return
        size = status.st_size
        data = file.read(limit if limit is not None else -1)
    more = 0
    if len(data) < size or dropped:
        data = data[: data.rfind(b"\n") + 1]
        more = size - len(data) + dropped
    data = _KERNEL_NOISE.sub(b"", data).strip()
    if not data and not more:
        path.unlink()
        return
    text = data.decode("utf-8", errors="replace")
    text = mask_credentials(scrubber.cut_text(text) if more else scrubber.text(text)) + "\n"
    if more:
        text += f"upkeep: {human_size(more)} more of this output was not kept (max_output_bytes)\n"
    write_text(path, text, mode=file_mode())


def _write_notebook(path: Path, nb: Any) -> None:
    import nbformat

    write_text(path, nbformat.writes(nb), mode=file_mode())
