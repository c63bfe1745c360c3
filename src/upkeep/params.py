"""Responsible for validating parameters against a runbook's declared ParamSpecs, before any kernel.

Values arrive as text from `-p KEY=VALUE`; each is converted to the declared type and checked
against `choices`, `min` and `max`. A secret parameter takes only a reference (env:NAME or
file:/path), never the secret itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import yaml

from upkeep.errors import ParameterError
from upkeep.redact import MIN_SECRET_LENGTH
from upkeep.registry import ParamSpec, Runbook
from upkeep.secrets import SecretError, is_reference, resolve

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_assignments(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Split `KEY=VALUE` strings; a missing `=` or an empty key is a ParameterError."""
    parsed: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # The argument is not echoed: a mistyped `-p token:...` may hold a secret.
            raise ParameterError("-p: expected KEY=VALUE, got an argument without a key and '='")
        parsed[key.strip()] = value
    return parsed


def validate(
    runbook: Runbook, given: Mapping[str, Any], *, require_secrets: bool = True
) -> dict[str, Any]:
    """Return the full parameter set (defaults overlaid with `given`), every value checked;
    with `require_secrets`, every secret reference must also resolve, here and now."""
    values: dict[str, Any] = {}
    for name in given:
        if runbook.param(name) is None:
            known = ", ".join(p.name for p in runbook.params) or "none"
            raise ParameterError(
                f"runbook {runbook.name}: unknown parameter {name!r} (its parameters: {known})"
            )
    for spec in runbook.params:
        if spec.name in given:
            value = convert(spec, given[spec.name], runbook.name)
        else:
            value = spec.default
        check(spec, value, runbook.name, require_secrets=require_secrets)
        values[spec.name] = value
    return values


def convert(spec: ParamSpec, raw: Any, runbook: str) -> Any:
    """Convert a command-line string to the parameter's declared type."""
    if not isinstance(raw, str):
        return raw
    where = f"runbook {runbook}: parameter {spec.name}"
    text = raw.strip()
    try:
        if spec.type == "str":
            return raw
        if spec.type == "int":
            return int(text)
        if spec.type == "float":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if spec.type == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        value = yaml.safe_load(text)
        if not _plain(value):
            raise ValueError
    except (ValueError, yaml.YAMLError):
        raise ParameterError(f"{where}: expected {_expected(spec)}, got {raw!r}") from None
    return value


def check(spec: ParamSpec, value: Any, runbook: str, *, require_secrets: bool = True) -> None:
    """Raise ParameterError when `value` does not fit the spec's type and constraints."""
    where = f"runbook {runbook}: parameter {spec.name}"
    if not _is_type(spec.type, value) or not _plain(value):
        raise ParameterError(f"{where}: expected {_expected(spec)}, got {_show(value)}")
    if spec.secret:
        if value not in ("", None) and not is_reference(value):
            raise ParameterError(
                f"{where}: is secret, so it takes a reference (env:NAME or "
                "file:/absolute/path), never the secret value itself"
            )
        if value and require_secrets:
            _check_resolves(value, where)
        return
    if spec.choices is not None and value not in spec.choices:
        raise ParameterError(
            f"{where}: expected one of {', '.join(map(str, spec.choices))}, got {_show(value)}"
        )
    if spec.minimum is not None and value < spec.minimum:
        raise ParameterError(f"{where}: expected a value >= {spec.minimum:g}, got {_show(value)}")
    if spec.maximum is not None and value > spec.maximum:
        raise ParameterError(f"{where}: expected a value <= {spec.maximum:g}, got {_show(value)}")


def _check_resolves(reference: str, where: str) -> None:
    """A reference that cannot be resolved now would only fail inside the kernel, later."""
    try:
        secret = resolve(reference)
    except SecretError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    if len(secret) < MIN_SECRET_LENGTH:
        raise ParameterError(
            f"{where}: the secret behind {reference} is shorter than {MIN_SECRET_LENGTH} "
            "characters, too short to scrub reliably from the evidence"
        )


def _plain(value: Any) -> bool:
    """JSON's values only: YAML would also hand over dates, NaN and infinities."""
    if isinstance(value, float):
        return math.isfinite(value)
    if value is None or isinstance(value, str | int | bool):
        return True
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _is_type(type_name: str, value: Any) -> bool:
    if type_name == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "str":
        return isinstance(value, str) or value is None
    return isinstance(value, {"bool": bool, "list": list, "dict": dict}[type_name])


def _expected(spec: ParamSpec) -> str:
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a finite number",
        "bool": "true or false",
        "list": "a list of plain values (strings, finite numbers, true/false), e.g. [a, b]",
        "dict": "a mapping of plain values, e.g. {a: 1}",
    }[spec.type]


def _show(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
