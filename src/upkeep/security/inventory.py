"""Responsible for taking the permission inventory of a host, as the security review's settings
describe it: accounts and groups, admin group members, sudoers entries, authorized SSH keys,
SUID/SGID files, world-writable files outside temp, listening sockets and their processes, and
the modes and owners of configured paths. Each part is a mapping of a stable key to a short
description; nothing volatile (times, sizes, pids) goes in, so an unchanged host gives the same
inventory twice. A file it needs and cannot read (not a regular file, too large, missing) is
`Unread`: its parts are incomplete, never empty."""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.security import SecurityReview
from upkeep.regular_file import file_kind, read_regular
from upkeep.security.authorized_keys import key_line
from upkeep.units import counted

__all__ = ["READ_LIMIT", "Inventory", "Unread", "host_inventory", "shown_path"]

Inventory = dict[str, dict[str, str]]  # part -> key -> description

_TCP_LISTEN = "0A"  # the state column of a listening socket in /proc/net/tcp
READ_LIMIT = 16 * 2**20  # an account, sudoers or authorized_keys file larger is not read


def shown_path(path: Path, base: Path) -> str:
    """`path` relative to `base` (the config's folder) when inside it, so that a baseline of
    a system kept beside `upkeep.yml` reads the same in every clone; absolute otherwise."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def host_inventory(
    settings: SecurityReview, base: Path
) -> tuple[Inventory, list[str], list[Unread]]:
    """Every part of the host inventory, notes on what could not be read completely, and the
    files it needed and could not read at all (their parts are incomplete)."""
    notes: list[str] = []
    unread: list[Unread] = []
    passwd = _lines(settings.passwd, ("users",), unread, empty_ok=False)
    group = _lines(settings.group, ("groups", "admin_members"), unread, empty_ok=False)
    inventory: Inventory = {
        "users": users(passwd),
        "groups": groups(group),
        "admin_members": admin_members(group, settings.admin_groups),
        "sudoers": sudoers_entries(settings.sudoers, base, unread),
        "authorized_keys": authorized_keys(settings.home_roots, base, notes, unread),
        "suid_sgid": special_files(settings, base, notes, suid=True),
        "world_writable": special_files(settings, base, notes, suid=False),
        "paths": path_modes(settings.paths, base, settings.owners),
    }
    if settings.listening:
        inventory["listening"] = listening_sockets(notes)
    return inventory, notes, unread


@dataclass(frozen=True)
class Unread:
    """A file the inventory needed and could not read: the parts it leaves incomplete (compared
    with nothing rather than shown as everything removed), and why."""

    parts: tuple[str, ...]
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason} ({', '.join(self.parts)} not compared)"


def _lines(
    path: Path,
    parts: tuple[str, ...],
    unread: list[Unread],
    *,
    empty_ok: bool = True,
    missing_ok: bool = False,
) -> list[str]:
    """The rule lines of a regular file of at most READ_LIMIT bytes; a file that is missing
    (unless `missing_ok`: a sudoers file where sudo is not installed holds no rule), not a
    regular file (a FIFO would hold the read for good, /dev/zero never ends), larger, or empty
    when it must hold something (an account file) is Unread, and no lines."""
    try:
        raw = read_regular(path, READ_LIMIT + 1)
    except FileNotFoundError:
        if not missing_ok:
            unread.append(Unread(parts, path, _why_unread(path, FileNotFoundError())))
        return []
    except OSError as exc:
        unread.append(Unread(parts, path, _why_unread(path, exc)))
        return []
    if len(raw) > READ_LIMIT:
        unread.append(Unread(parts, path, f"larger than {READ_LIMIT // 2**20} MiB: not read"))
        return []
    if not raw.strip() and not empty_ok:
        unread.append(Unread(parts, path, "empty: an account file holds at least root"))
        return []
    text = raw.decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _why_unread(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "does not exist (check its path)"
    try:
        kind = file_kind(path.stat().st_mode)
    except OSError:
        kind = "a regular file"
    if kind != "a regular file":
        return f"{kind}, not a regular file: not read"
    return f"cannot be read: {exc.strerror}"


def users(passwd: list[str]) -> dict[str, str]:
    """Local users (uid, gid, home, shell), from the lines of the passwd file."""
    found: dict[str, str] = {}
    for line in passwd:
        fields = line.split(":")
        if len(fields) >= 7:
            found[fields[0]] = f"uid={fields[2]} gid={fields[3]} home={fields[5]} shell={fields[6]}"
    return found


def groups(group: list[str]) -> dict[str, str]:
    """Local groups (gid, members), from the lines of the group file."""
    found: dict[str, str] = {}
    for line in group:
        fields = line.split(":")
        if len(fields) >= 4:
            members = ",".join(sorted(m for m in fields[3].split(",") if m))
            found[fields[0]] = f"gid={fields[2]} members={members}"
    return found


def admin_members(group: list[str], admin_groups: tuple[str, ...]) -> dict[str, str]:
    """`sudo:alice`: each member of an admin group (sudo, wheel, ...), one key each."""
    members: dict[str, str] = {}
    for line in group:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] in admin_groups:
            for member in fields[3].split(","):
                if member:
                    members[f"{fields[0]}:{member}"] = "member"
    return members


def sudoers_entries(paths: tuple[Path, ...], base: Path, unread: list[Unread]) -> dict[str, str]:
    """Every rule line of the sudoers files (a folder: its files, as sudo's includedir reads
    them), whitespace collapsed; `Defaults` lines are entries too."""
    entries: dict[str, str] = {}
    for path in paths:
        try:
            files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        except OSError as exc:
            unread.append(Unread(("sudoers",), path, f"cannot be listed: {exc.strerror}"))
            continue
        for file in files:
            if file.name.endswith("~") or "." in file.name and path.is_dir():
                continue  # sudo's includedir skips these too
            for line in _lines(file, ("sudoers",), unread, missing_ok=True):
                rule = " ".join(line.split())
                if rule.startswith(("@include", "#include")):
                    continue
                entries[rule] = shown_path(file, base)
    return entries


def _homes(roots: tuple[Path, ...], notes: list[str]) -> Iterator[Path]:
    for root in roots:
        if (root / ".ssh").is_dir():
            yield root  # the root is a home itself (/root)
        elif root.is_dir():
            try:
                homes = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError as exc:
                notes.append(f"cannot list {root}: {exc.strerror}")
                continue
            yield from homes


def authorized_keys(
    roots: tuple[Path, ...], base: Path, notes: list[str], unread: list[Unread]
) -> dict[str, str]:
    """`alice:ssh-ed25519:SHA256:...`: each key of every home's authorized_keys, by the key's
    own fingerprint (as `ssh-keygen -lf` shows it), with its options and comment as the value,
    credentials masked (`authorized_keys.describe_key`)."""
    keys: dict[str, str] = {}
    for home in _homes(roots, notes):
        for name in ("authorized_keys", "authorized_keys2"):
            path = home / ".ssh" / name
            if path.is_symlink() or not path.is_file():
                continue
            for line in _lines(path, ("authorized_keys",), unread):
                parsed = key_line(line)
                if parsed is None:
                    notes.append(f"{shown_path(path, base)}: a line that is not a key")
                    continue
                kind, fingerprint, described = parsed
                keys[f"{home.name}:{kind}:{fingerprint}"] = described or "(no comment)"
    return keys


def _owner(info: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"{user}:{group}"


def _walk(root: Path, limit: int, notes: list[str]) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry under `root`, symlinks not followed, other filesystems not entered, at most
    `limit` of them."""
    try:
        device = root.lstat().st_dev
    except OSError:
        return
    seen = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                notes.append(f"{root}: stopped after {limit} entries (security.max_files)")
                return
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            yield path, info
            if stat.S_ISDIR(info.st_mode) and info.st_dev == device:
                stack.append(path)


def special_files(
    settings: SecurityReview, base: Path, notes: list[str], *, suid: bool
) -> dict[str, str]:
    """SUID/SGID files under `suid_roots` (`suid`), or world-writable files and folders under
    `world_writable_roots` outside `temp_paths`: path -> mode and owner."""
    roots = settings.suid_roots if suid else settings.world_writable_roots
    found: dict[str, str] = {}
    for root in roots:
        for path, info in _walk(root, settings.max_files, notes):
            mode = info.st_mode
            if stat.S_ISLNK(mode):
                continue
            if suid:
                hit = stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID)
            else:
                hit = mode & stat.S_IWOTH and not any(
                    path == t or t in path.parents for t in settings.temp_paths
                )
            if hit:
                owner = f" owner={_owner(info)}" if settings.owners else ""
                found[shown_path(path, base)] = f"mode={stat.S_IMODE(mode):04o}{owner}"
    return found


def path_modes(paths: tuple[Path, ...], base: Path, owners: bool) -> dict[str, str]:
    """Mode and owner of each configured path (`missing` when it does not exist)."""
    modes: dict[str, str] = {}
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            modes[shown_path(path, base)] = "missing"
            continue
        owner = f" owner={_owner(info)}" if owners else ""
        modes[shown_path(path, base)] = f"mode={stat.S_IMODE(info.st_mode):04o}{owner}"
    return modes


def listening_sockets(notes: list[str]) -> dict[str, str]:
    """`tcp:0.0.0.0:22` -> the processes holding the listening TCP socket (from /proc/net/tcp
    and tcp6, and each process's /proc/PID/fd); sockets of processes this account cannot see
    show `(unknown)`. UDP is left out: its client sockets come and go with random ports. So are
    the loopback sockets of Jupyter kernels (this run's own, among them): each kernel listens on
    five random ports, which would be new drift on every run."""
    sockets: dict[str, str] = {}
    inodes: dict[str, str] = {}
    for name in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError as exc:
            if name == "tcp":
                notes.append(f"cannot read /proc/net/tcp: {exc.strerror}")
            continue
        for row in rows:
            fields = row.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            inodes[fields[9]] = f"tcp:{_address(fields[1], name.endswith('6'))}"
    holders: dict[str, set[str]] = {key: set() for key in inodes.values()}
    kernels: dict[str, bool] = {}  # key -> every holder seen is a Jupyter kernel
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            kernel = None
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    key = inodes[target[8:-1]]
                    holders[key].add(comm)
                    if kernel is None:
                        kernel = _is_kernel(proc)
                    kernels[key] = kernels.get(key, True) and kernel
        except OSError:
            continue
    left_out = [key for key, only in kernels.items() if only and _loopback(key)]
    if left_out:
        notes.append(
            f"{counted(len(left_out), 'loopback socket')} of Jupyter kernels left out (random"
            " ports, this run's own among them)"
        )
    for key, names in holders.items():
        if key not in left_out:
            sockets[key] = ",".join(sorted(names)) or "(unknown)"
    return sockets


def _is_kernel(proc: Path) -> bool:
    """Whether the process is a Jupyter kernel: ipykernel's launcher, or upkeep's kernel
    template and the kernels it forks (which keep its command line)."""
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(
        arg in (b"ipykernel_launcher", b"upkeep.run.kernel_template")
        or arg.endswith(b"/ipykernel_launcher.py")
        for arg in argv
    )


def _loopback(key: str) -> bool:
    address = key.removeprefix("tcp:").rsplit(":", 1)[0].strip("[]")
    return ipaddress.ip_address(address).is_loopback


def _address(text: str, ipv6: bool) -> str:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    if ipv6:
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        shown = f"[{ipaddress.IPv6Address(b''.join(words))}]"
    else:
        shown = ".".join(str(b) for b in raw[::-1])
    return f"{shown}:{int(port, 16)}"
