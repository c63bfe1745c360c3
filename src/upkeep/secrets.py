"""Responsible for secret references: `env:NAME` or `file:/path`, never a literal secret.

A parameter marked `secret` carries only a reference; the runbook resolves it inside the kernel
with `resolve`, and the runner resolves it too, only to scrub the value from every artifact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REFERENCE = re.compile(r"^(?:env:(?P<env>[A-Za-z_][A-Za-z0-9_]*)|file:(?P<file>/.+))$")

__all__ = ["REFERENCE", "SecretError", "is_reference", "resolve"]


class SecretError(LookupError):
    """A secret reference could not be resolved."""


def is_reference(value: object) -> bool:
    return isinstance(value, str) and REFERENCE.match(value) is not None


def resolve(reference: str) -> str:
    """Return the secret a reference points to; raise SecretError naming the reference."""
    match = REFERENCE.match(reference or "")
    if match is None:
        raise SecretError(
            f"{reference!r} is not a secret reference; expected env:NAME or file:/absolute/path"
        )
    if match["env"]:
        try:
            return os.environ[match["env"]]
        except KeyError:
            raise SecretError(f"{reference}: environment variable is not set") from None
    try:
        return Path(match["file"]).read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise SecretError(f"{reference}: cannot read secret file: {exc.strerror}") from None
