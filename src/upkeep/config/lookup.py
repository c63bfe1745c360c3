"""Responsible for naming a value of the config by where upkeep.yml holds it, `logs.app.path` or
`cleanup.temp_roots.0.max_age_days` (an item of a list by its `name` or its index), so that a
runbook's by-hand commands can say `{{ logs.app.path }}` and the site fill in this system's
value. `config_value` gives the value as text; a key upkeep.yml could hold but this config does
not set is `NotConfigured`, a key that names nothing upkeep.yml can hold is `UnknownKey`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from upkeep.config import model
from upkeep.config.model import Config

__all__ = ["KEY", "NotConfigured", "UnknownKey", "config_value", "check_key"]

# A key: dotted parts of letters, digits, `_` and `-` (runbook and item names are kebab-case).
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
# Keys of upkeep.yml that the Config object holds under another name.
_RENAMED = {"defaults": {"timeout_s": "timeout_s", "jobs": "jobs"}}
_CONFIG_FILE = "config_file"  # the path of upkeep.yml itself


class UnknownKey(LookupError):
    """The key names nothing upkeep.yml can hold."""


class NotConfigured(LookupError):
    """upkeep.yml could hold the key, but this config does not set it."""


def config_value(config: Config, key: str) -> str:
    """The value at `key` as text: a path as it was resolved, a whole number without `.0`, a
    list of strings space-separated; UnknownKey or NotConfigured when there is none."""
    check_key(key)
    parts = key.split(".")
    if parts == [_CONFIG_FILE]:
        return str(config.path)
    if parts[0] in _RENAMED:
        value: Any = getattr(config, _RENAMED[parts[0]][parts[1]])
        parts = parts[2:]
    else:
        value = config
    for part in parts:
        value = _step(value, part)
        if value is None:
            raise NotConfigured(key)
    return _text(value, key)


def check_key(key: str) -> None:
    """UnknownKey unless `key` names something upkeep.yml can hold (whether set or not)."""
    parts = key.split(".")
    if not KEY.fullmatch(key):
        raise UnknownKey(key)
    if parts == [_CONFIG_FILE]:
        return
    if parts[0] in _RENAMED:
        if len(parts) != 2 or parts[1] not in _RENAMED[parts[0]]:
            raise UnknownKey(key)
        return
    kind: Any = Config
    for part in parts:
        kind = _step_type(kind, part, key)
    if any(_is_section(option) for option in _options(kind)):
        raise UnknownKey(f"{key} is a section, not a value")


def _step(value: Any, part: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(part)
    if isinstance(value, tuple):
        if part.isdigit():
            index = int(part)
            return value[index] if index < len(value) else None
        return next((item for item in value if getattr(item, "name", None) == part), None)
    if dataclasses.is_dataclass(value):
        return getattr(value, part, None)
    return None


def _step_type(kind: Any, part: str, key: str) -> Any:
    """The type found at `part` of a value of type `kind`; UnknownKey when there is none."""
    found = []
    for option in _options(kind):
        origin = typing.get_origin(option) or option
        if option is Any or (isinstance(origin, type) and issubclass(origin, Mapping)):
            return Any  # free-form (extra:): any key may be there
        if isinstance(origin, type) and issubclass(origin, tuple):
            item = _item_type(option)
            named = any("name" in _fields(each) for each in _options(item) if _is_section(each))
            if part.isdigit() or named:
                found.append(item)
        elif _is_section(option) and part in _fields(option):
            found.append(_fields(option)[part])
    if not found:
        raise UnknownKey(key)
    return found[0] if len(found) == 1 else typing.Union[tuple(found)]  # noqa: UP007


def _is_section(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _options(kind: Any) -> tuple[Any, ...]:
    return typing.get_args(kind) if _is_union(kind) else (kind,)


def _is_union(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType)


def _item_type(kind: Any) -> Any:
    if kind is model.RunbookFolders:
        return Path
    args = typing.get_args(kind)
    return args[0] if args else Any


@functools.cache
def _fields(kind: type) -> dict[str, Any]:
    # A section's own module first: sections read in modules of their own define their types there.
    hints = typing.get_type_hints(kind, {**vars(model), **vars(sys.modules[kind.__module__])})
    return {field.name: hints[field.name] for field in dataclasses.fields(kind)}


def _text(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float | Path):
        return str(value)
    if isinstance(value, tuple | list) and all(isinstance(item, str | Path) for item in value):
        return " ".join(str(item) for item in value)
    raise UnknownKey(f"{key} is a section, not a value")
