"""Responsible for reading one line of an `authorized_keys` file as the inventory shows it: the
key's type and fingerprint, and its options and comment with what may be a credential taken out.
A forced command (`command="backup-push --token=..."`) and `environment="NAME=value"` often
carry tokens and passwords, and the inventory becomes evidence, state and the published site:
an option's value keeps its shape with its credentials masked, an environment value is dropped
(its name stays)."""

from __future__ import annotations

import base64
import hashlib

from upkeep.masking import marker, mask_credentials

__all__ = ["KEY_TYPES", "describe_key", "key_line"]

KEY_TYPES = ("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-")
_DROPPED = marker("value")


def key_line(line: str) -> tuple[str, str, str] | None:
    """(type, SHA256 fingerprint as `ssh-keygen -lf` shows it, options and comment described)
    of one authorized_keys line; None when it holds no key."""
    options, rest = _split_options(line.strip())
    words = rest.split()
    if len(words) < 2 or not words[0].startswith(KEY_TYPES):
        return None
    try:
        blob = base64.b64decode(words[1], validate=True)
    except ValueError:
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return words[0], f"SHA256:{digest}", describe_key(" ".join([options, *words[2:]]).strip())


def describe_key(text: str) -> str:
    """Options and comment (`command="..." alice@laptop`) with each option value's credentials
    masked and environment values dropped. Applied to what a baseline holds too: the same for
    text already described."""
    options, comment = _split_options(text.strip())
    shown = ",".join(_described(option) for option in _split_quoted(options, ","))
    return " ".join(part for part in (shown, mask_credentials(comment)) if part)


def _described(option: str) -> str:
    name, equals, value = option.partition("=")
    if not equals:
        return option
    quoted = len(value) >= 2 and value.startswith('"') and value.endswith('"')
    inner = value[1:-1] if quoted else value
    if name.lower() == "environment":
        inner = f"{inner.partition('=')[0]}={_DROPPED}"
    else:
        inner = mask_credentials(inner)
    return f'{name}="{inner}"' if quoted else f"{name}={inner}"


def _split_options(line: str) -> tuple[str, str]:
    """The options field that starts `line` (none when it starts with a key type) and the rest:
    the options end at the first blank outside double quotes."""
    if line.startswith(KEY_TYPES):
        return "", line
    end = _split_quoted(line, " \t", first=True)
    options = end[0] if end else ""
    return options, line[len(options) :].strip()


def _split_quoted(text: str, separators: str, *, first: bool = False) -> list[str]:
    """`text` cut at each separator outside double quotes (a backslash escapes a quote inside),
    or only at the first one (`first`)."""
    parts: list[str] = []
    start, quoted, index = 0, False, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quoted:
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in separators and not quoted:
            parts.append(text[start:index])
            if first:
                return parts
            start = index + 1
        index += 1
    parts.append(text[start:])
    return [part for part in parts if part]
