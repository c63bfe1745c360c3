"""Wheels and virtualenvs a test makes itself: a minimal pure-Python wheel written with zipfile
(a module that says its version, optional requirements), a wheelhouse of them, and a virtualenv
to install them into, so that patching is tested without any index on the internet."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path


def build_wheel(
    into: Path, name: str, version: str, *, requires: tuple[str, ...] = (), body: str = ""
) -> Path:
    """`<name>-<version>-py3-none-any.whl` in `into`: module `name` with `VERSION` and `body`."""
    into.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}.py": f"VERSION = {version!r}\n{body}",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record_lines = [
        f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()
    ]
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record_lines) + "\n"
    wheel = into / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(text: str) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_venv(path: Path) -> Path:
    """A virtualenv with pip at `path` (its own, from ensurepip: no index needed)."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path


def pip_install(venv: Path, wheelhouse: Path, *requirements: str) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index"]
        + ["--find-links", str(wheelhouse), *requirements],
        check=True,
        timeout=300,
        capture_output=True,
    )


def installed(venv: Path) -> dict[str, str]:
    """Every package of `venv` but pip and setuptools, by name, with its version."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format", "freeze"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    pairs = dict(line.split("==", 1) for line in out.split())
    named = {name.lower().replace("_", "-"): version for name, version in pairs.items()}
    return {name: version for name, version in named.items() if name not in ("pip", "setuptools")}
