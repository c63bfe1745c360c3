"""Responsible for asking pip-audit about one Python dependency set: its command line for a
virtualenv (`--path` its site-packages) or a pinned requirements / lock file (`-r`, resolved
from the pins alone), run against the configured advisory source, and its JSON output read into
packages, vulnerabilities and skipped packages. pip-audit's command line is its stable
interface: its Python API is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.updates import PythonTarget, UpdatesSettings
from upkeep.masking import mask_sensitive
from upkeep.updates.model import Package, Vulnerability
from upkeep.updates.osv_folder import AdvisoryFolder, AdvisoryFolderError, serve_advisories

__all__ = [
    "AuditError",
    "AuditResult",
    "audit",
    "audit_command",
    "audit_environment",
    "parse_audit_json",
]

# What pip-audit's traceback or message says when its advisory service did not answer.
_UNREACHABLE = (
    "ConnectionError",
    "Could not connect",
    "Max retries exceeded",
    "ConnectTimeout",
    "ReadTimeout",
    "ServiceError",
    "NameResolutionError",
)
_STDERR_TAIL = 600
_PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


class AuditError(Exception):
    """pip-audit gave no audit. `unreachable`: its advisory source did not answer."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True)
class AuditResult:
    """What pip-audit audited (name and version of each package), what it found, and the
    packages it could not audit (name, why: an editable install, a package not on PyPI)."""

    packages: tuple[Package, ...]
    vulnerabilities: tuple[Vulnerability, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def audit(target: PythonTarget, settings: UpdatesSettings) -> AuditResult:
    """Run pip-audit on `target` against the advisory source `settings` names."""
    with _advisory_url(settings) as osv_url, tempfile.TemporaryDirectory() as cache:
        command = audit_command(target, osv_url, Path(cache))
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=settings.timeout_s,
                check=False,
                env=audit_environment(osv_url),
            )
        except subprocess.TimeoutExpired:
            raise AuditError(
                f"pip-audit did not finish within {settings.timeout_s} s on {target.source} "
                f"(advisory source: {settings.advisory_source})",
                unreachable=True,
            ) from None
    try:
        return parse_audit_json(done.stdout)
    except ValueError:
        tail = _unquoted(done.stderr).strip()[-_STDERR_TAIL:]
        unreachable = any(word in done.stderr for word in _UNREACHABLE)
        what = (
            f"could not reach {settings.advisory_source}"
            if unreachable
            else f"failed on {target.source}"
        )
        raise AuditError(
            f"pip-audit {what} (exit {done.returncode}): {tail}", unreachable=unreachable
        ) from None


def _unquoted(stderr: str) -> str:
    """pip-audit's messages without the lines it quotes (indented under the message: the line
    of the requirements file it could not parse, a traceback's source) and with the secrets
    they name masked: `requirements` may be any file, and a line of it may hold a token."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line[0].isspace()]
    return mask_sensitive("\n".join(lines))


@contextmanager
def _advisory_url(settings: UpdatesSettings) -> Iterator[str | None]:
    """The OSV query URL pip-audit is given: the advisory folder served on loopback while the
    block runs, the configured OSV service, or None (pip-audit's default service)."""
    if settings.advisory_dir is None:
        yield settings.osv_url
        return
    try:
        folder = AdvisoryFolder.read(settings.advisory_dir)
    except AdvisoryFolderError as exc:
        raise AuditError(str(exc), unreachable=True) from None
    with serve_advisories(folder) as url:
        yield url


def audit_command(target: PythonTarget, osv_url: str | None, cache_dir: Path) -> list[str]:
    """pip-audit's command line for `target`, JSON on stdout."""
    command = [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off"]
    command += ["--cache-dir", str(cache_dir), "--desc", "on", "--aliases", "on"]
    if osv_url is not None:
        command += ["-s", "osv"]  # its URL in the environment (audit_environment)
    if target.requirements is not None:
        # Pins only: no resolver and no index, so a lock file is audited as it is, offline.
        return [*command, "-r", str(target.requirements), "--no-deps", "--disable-pip"]
    assert target.venv is not None
    return [*command, "--path", str(site_packages(target.venv))]


def audit_environment(osv_url: str | None) -> dict[str, str]:
    """pip-audit's environment: the OSV URL in PIP_AUDIT_OSV_URL (which pip-audit reads as
    --osv-url's default), not on the command line, where any user of the host could read the
    credentials a mirror's URL may carry."""
    env = dict(os.environ)
    if osv_url is not None:
        env["PIP_AUDIT_OSV_URL"] = osv_url
    return env


def site_packages(venv: Path) -> Path:
    """The folder a virtualenv's packages are installed in, as its own Python says."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _PURELIB],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise AuditError(f"{venv}/bin/python does not run: {done.stderr.strip()[-_STDERR_TAIL:]}")
    return Path(done.stdout.strip())


def parse_audit_json(text: str) -> AuditResult:
    """pip-audit's `-f json` output read; ValueError when `text` is not that."""
    document = json.loads(text)
    if not isinstance(document, dict) or not isinstance(document.get("dependencies"), list):
        raise ValueError("not pip-audit's JSON output: no `dependencies` list")
    packages: list[Package] = []
    vulnerabilities: list[Vulnerability] = []
    skipped: list[tuple[str, str]] = []
    for dependency in document["dependencies"]:
        name = dependency["name"]
        if "skip_reason" in dependency:
            skipped.append((name, dependency["skip_reason"]))
            continue
        packages.append(Package(name, dependency["version"]))
        for vuln in dependency.get("vulns", ()):
            vulnerabilities.append(
                Vulnerability(
                    package=name,
                    version=dependency["version"],
                    id=vuln["id"],
                    aliases=tuple(vuln.get("aliases", ())),
                    fix_versions=tuple(vuln.get("fix_versions", ())),
                    description=" ".join(str(vuln.get("description") or "").split()),
                )
            )
    return AuditResult(tuple(packages), tuple(vulnerabilities), tuple(skipped))
