"""Responsible for minor patching of one virtualenv: its patch and minor updates installed from
the configured index, its smoke command run, and every package put back at its exact previous
version when the install or the smoke command fails (and that checked)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from upkeep.config.updates import PythonTarget
from upkeep.updates.model import Update, UpdateKind

__all__ = [
    "PatchOutcome",
    "apply_patch_updates",
    "apply_updates",
    "installed_versions",
    "patchable",
    "restore_versions",
]

_TAIL = 800


@dataclass(frozen=True)
class PatchOutcome:
    """What patching one virtualenv did. `kept`: the updates are installed and the smoke
    command passed. Otherwise `rolled_back` says whether every package is back at its previous
    version, and `problem` what went wrong."""

    target: str
    applied: tuple[Update, ...] = ()
    kept: bool = False
    rolled_back: bool = False
    problem: str | None = None
    smoke_output: str = ""


def patchable(updates: Iterable[Update]) -> list[Update]:
    """The updates weekly patching applies: patch and minor ones (majors wait for a person)."""
    return [u for u in updates if u.kind in (UpdateKind.PATCH, UpdateKind.MINOR)]


def apply_patch_updates(
    target: PythonTarget, updates: Iterable[Update], index_url: str, timeout_s: float = 600
) -> PatchOutcome:
    """Install the patch and minor `updates` into `target`'s virtualenv, run its smoke command,
    and roll back to the exact previous versions when either fails."""
    return apply_updates(target, patchable(updates), index_url, timeout_s)


def apply_updates(
    target: PythonTarget, updates: Iterable[Update], index_url: str, timeout_s: float = 600
) -> PatchOutcome:
    """Install exactly `updates` (each at its `latest` version, whatever its kind) into
    `target`'s virtualenv, run its smoke command, and roll back to the exact previous versions
    when either fails."""
    assert target.venv is not None and target.smoke_command is not None
    chosen = tuple(updates)
    if not chosen:
        return PatchOutcome(target.name, kept=True)
    before = installed_versions(target.venv)
    pins = [f"{u.package}=={u.latest}" for u in chosen]
    installed = _pip(target.venv, ["install", *pins], timeout_s, index_url)
    if installed.returncode != 0:
        problem = f"pip install {' '.join(pins)} failed: {_tail(installed)}"
        return _roll_back(target, chosen, before, index_url, timeout_s, problem, "")
    smoke = _smoke(target, timeout_s)
    output = _tail(smoke)
    if smoke.returncode == 0:
        return PatchOutcome(target.name, chosen, kept=True, smoke_output=output)
    problem = f"the smoke command `{target.smoke_command}` failed (exit {smoke.returncode})"
    return _roll_back(target, chosen, before, index_url, timeout_s, problem, output)


def installed_versions(venv: Path) -> dict[str, str]:
    """Every package installed in `venv`, by name, with its version."""
    done = _pip(venv, ["list", "--format", "json"], 120)
    if done.returncode != 0:
        raise RuntimeError(f"{venv}: pip list failed: {_tail(done)}")
    return {
        str(canonicalize_name(item["name"])): item["version"] for item in json.loads(done.stdout)
    }


def _roll_back(
    target: PythonTarget,
    chosen: tuple[Update, ...],
    before: dict[str, str],
    index_url: str,
    timeout_s: float,
    problem: str,
    output: str,
) -> PatchOutcome:
    assert target.venv is not None
    differ = restore_versions(target.venv, before, index_url, timeout_s)
    if differ:
        problem += "; the rollback did not restore " + ", ".join(differ)
    return PatchOutcome(target.name, chosen, False, not differ, problem, output)


def restore_versions(
    venv: Path, before: dict[str, str], index_url: str, timeout_s: float = 600
) -> list[str]:
    """Put every package of `venv` back at its version in `before` (what `installed_versions`
    said then), removing packages added since; return what still differs (empty: restored)."""
    after = installed_versions(venv)
    added = sorted(set(after) - set(before))
    changed = [f"{name}=={old}" for name, old in sorted(before.items()) if after.get(name) != old]
    if added:
        _pip(venv, ["uninstall", "--yes", *added], timeout_s)
    if changed:
        _pip(venv, ["install", "--no-deps", *changed], timeout_s, index_url)
    now = installed_versions(venv)
    return sorted(
        f"{name} {now.get(name, 'missing')} (was {before.get(name, 'absent')})"
        for name in set(now) | set(before)
        if now.get(name) != before.get(name)
    )


def _pip(
    venv: Path, args: list[str], timeout_s: float, index_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`pip ARGS` in `venv`, never with the machine's pip.conf (its indexes are not ours).
    `index_url`: a folder of wheels is a --find-links wheelhouse; a folder of package folders,
    or a URL, is the index, handed over in PIP_INDEX_URL so that credentials in it stay off
    the command line."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    if index_url is not None:
        folder = _folder(index_url)
        if folder is not None and (any(folder.glob("*.whl")) or any(folder.glob("*.tar.gz"))):
            args = [args[0], "--no-index", "--find-links", str(folder), *args[1:]]
        else:
            env["PIP_INDEX_URL"] = index_url
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=env,
    )


def _folder(index_url: str) -> Path | None:
    if not index_url.startswith("file://"):
        return None
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(index_url).path))


def _smoke(target: PythonTarget, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """The smoke command, run by the shell with the virtualenv first on PATH."""
    assert target.venv is not None and target.smoke_command is not None
    bin_dir = str(target.venv / "bin")
    env = {**os.environ, "VIRTUAL_ENV": str(target.venv)}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    try:
        return subprocess.run(
            target.smoke_command,
            shell=True,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, "", f"timed out after {timeout_s} s")


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout + done.stderr).strip()[-_TAIL:]
