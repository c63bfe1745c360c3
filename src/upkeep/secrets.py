"""Responsible for secret references: `env:NAME` or `file:/path`, never a literal secret.

A parameter marked `secret` carries only a reference; the runbook resolves it inside the kernel
with `resolve`, and the runner resolves it too, only to scrub the value from every artifact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from upkeep.plain_text import is_utf8
from upkeep.regular_file import read_regular

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
            value = os.environ[match["env"]]
        except KeyError:
            raise SecretError(f"{reference}: environment variable is not set") from None
        if not is_utf8(value):  # bytes that are no UTF-8, kept by Python as lone surrogates
            raise SecretError(f"{reference}: the variable's value is not UTF-8 text")
        return value
    try:
        raw = read_regular(Path(match["file"]), SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretError(f"{reference}: cannot read secret file: {exc.strerror}") from None
    if len(raw) > SECRET_FILE_BYTES:
        raise SecretError(f"{reference}: the secret file is over {SECRET_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError:
        raise SecretError(f"{reference}: the secret file is not UTF-8 text") from None


SECRET_FILE_BYTES = 1024 * 1024  # a key, a token, a certificate: never a log's worth
