"""Responsible for what a parameter is and for validating values against it, before any kernel.

A `ParamSpec` is one declared parameter: the kind of value it takes (`str`, `int`, `float`,
`bool`, `list`, `dict`, or `any` where the declaration does not say), whether None is accepted too
(`Optional[int]`, or `n: int = None`), its default and its constraints. Values arrive as text
from `-p KEY=VALUE`; each is converted to the declared kind (a `bool` from the words
`upkeep.units` reads as yes and no) and checked against `choices`, `min` and `max`. A secret
parameter takes only a reference (env:NAME or file:/path), never the secret.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from upkeep.errors import ParameterError
from upkeep.plain_text import is_utf8
from upkeep.redact import MIN_SECRET_LENGTH
from upkeep.secrets import SecretError, is_reference, resolve
from upkeep.units import parse_bool

if TYPE_CHECKING:
    from upkeep.registry import Runbook

KINDS = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
ANY = "any"
_OPTIONAL = re.compile(r"^Optional\[(?P<inner>.*)\]$")
_UNION = re.compile(r"^Union\[(?P<members>.*)\]$")
_NONE_TYPES = {"None", "NoneType"}


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its kind, default, help text and constraints. `type` is the kind
    upkeep checks values against (`any` when the declaration does not say); `optional` when
    None is accepted too; `default_expression` is the default as written when it is no plain
    value (a call, a tuple): the runbook's own cell computes it, and upkeep never injects it."""

    name: str
    type: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    optional: bool = False
    default_expression: str | None = None
    names_of: str | None = None  # a section of upkeep.yml: the value names its entries
    folder: bool = False  # the value is empty or an existing folder inside the project
    holds: str | None = None  # a file such a folder must hold (index.html: a built site)

    @property
    def type_label(self) -> str:
        """The type as people read it: `int`, `Optional[int]`, `any`."""
        if self.optional and self.type != ANY:
            return f"Optional[{self.type}]"
        return self.type

    @property
    def default_label(self) -> str:
        """The default as the parameters cell gives it."""
        return self.default_expression or repr(self.default)

    def describe_constraints(self) -> str:
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.minimum is not None:
            parts.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        if self.secret:
            parts.append("secret: env:NAME or file:/path")
        if self.names_of is not None:
            parts.append(f"comma-separated names under {self.names_of}: in upkeep.yml")
        if self.folder:
            parts.append(_folder_expected(self))
        if self.default_expression is not None:
            parts.append("default computed by the runbook")
        return "; ".join(parts)


def read_default(source: str) -> tuple[Any, str | None]:
    """A default as written: (its value, None) when it is a plain value (text, a finite
    number, true/false, None, a list or mapping of those), else (None, the source)."""
    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, source.strip()
    if not _plain(value):
        return None, source.strip()  # a tuple, a set, bytes, nan: only Python can hold it
    return value, None


def resolve_type(annotation: str, default: Any, expression: str | None) -> tuple[str, bool]:
    """(kind, optional) from papermill's inferred type name and the default. Unknown names
    (`NoneType`, `datetime`, `Any`) are `any`; without an annotation the default's own type
    decides; a None default makes any kind optional."""
    text = annotation.strip().strip("\"'").strip()
    text = re.sub(r"\btyping\.", "", text)
    optional = default is None and expression is None
    match = _OPTIONAL.match(text)
    if match:
        text, optional = match["inner"].strip(), True
    match = _UNION.match(text)
    if match:
        members = [m.strip() for m in match["members"].split(",")]
        others = [m for m in members if m not in _NONE_TYPES]
        if len(others) == 1:
            text, optional = others[0], optional or len(others) < len(members)
    lowered = text.lower()
    for kind in KINDS:
        if lowered == kind or lowered.startswith(kind + "["):
            return kind, optional
    if text == "None" and expression is None:  # no annotation: the default's type decides
        for kind, python_type in KINDS.items():
            if type(default) is python_type:
                return kind, False
    return ANY, optional


def parse_assignments(assignments: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Split `KEY=VALUE` strings; a missing `=`, an empty key or a key given twice is a
    ParameterError (the last one winning would let `-p dry_run=yes -p dry_run=no`, a line
    edited in a hurry, run a destructive runbook for real)."""
    parsed: dict[str, str] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # The argument is not echoed: a mistyped `-p token:...` may hold a secret.
            raise ParameterError("-p: expected KEY=VALUE, got an argument without a key and '='")
        if not is_utf8(item):  # bytes that are no UTF-8, kept by Python as lone surrogates
            shown = key.strip().encode("utf-8", "backslashreplace").decode("utf-8")
            raise ParameterError(
                f"-p: parameter {shown!r}: not UTF-8 text; expected a value in UTF-8"
            )
        if key.strip() in parsed:
            # Neither value is echoed either: either may be a secret.
            raise ParameterError(f"-p: parameter {key.strip()!r} is given twice; give it once")
        parsed[key.strip()] = value
    return parsed


def validate(
    runbook: Runbook,
    given: Mapping[str, Any],
    *,
    require_secrets: bool = True,
    refuse_short: bool = False,
    config_names: Mapping[str, Collection[str]] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """The parameters the run injects, every value checked: `given` overlaid on the defaults
    that are plain values (a default the runbook computes is left to its own cell); with
    `require_secrets`, every secret reference must also resolve, here and now; without it but
    with `refuse_short` (a run about to start, `run --due`), one that resolves must not be too
    short to scrub. Without either, no secret is read (discovering runbooks reads none). With
    `config_names` (each section's entry names, for a run about to start), a parameter that
    names entries of a section must name ones there are; with the project's `root`, a folder
    parameter must name a folder there is, inside the project, holding what it must hold."""
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
        elif spec.default_expression is None:
            value = spec.default
        else:
            continue
        check(spec, value, runbook.name, require_secrets=require_secrets, refuse_short=refuse_short)
        if config_names is not None and spec.names_of is not None:
            _check_names(spec, value, runbook.name, config_names.get(spec.names_of, ()))
        if root is not None and spec.folder and value:
            _check_folder(spec, value, runbook.name, root)
        values[spec.name] = value
    return values


SHOWN_CHARS = 80  # of a refused value, in its error message
# Numbers as written on a command line: ASCII digits, no underscores.
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def convert(spec: ParamSpec, raw: Any, runbook: str) -> Any:
    """Convert a command-line string to the parameter's declared type; `None` is None where
    the parameter is optional or of any type, as papermill's own `-p` reads it."""
    if not isinstance(raw, str):
        return raw
    where = f"runbook {runbook}: parameter {spec.name}"
    text = raw.strip()
    if text == "None" and (spec.optional or spec.type == ANY):
        return None
    try:
        return _converted(spec.type, raw, text)
    except (ValueError, yaml.YAMLError, RecursionError):
        shown = (
            repr(raw)
            if len(raw) <= SHOWN_CHARS
            else f"{raw[:SHOWN_CHARS]!r}… ({len(raw)} characters)"
        )
        why = (
            " (more digits than Python reads as a number)"
            if len(text) > 4300 and text.lstrip("+-").isdigit()
            else ""
        )
        raise ParameterError(f"{where}: expected {_expected(spec)}, got {shown}{why}") from None


def _converted(kind: str, raw: str, text: str) -> Any:
    if kind == "str":
        return raw
    if kind == "int":
        if not _INT.fullmatch(text):  # int() also reads "1_0" and other scripts' digits ("٥")
            raise ValueError
        return int(text)
    if kind == "float":
        if not _FLOAT.fullmatch(text):
            raise ValueError
        value = float(text)
        if not math.isfinite(value):
            raise ValueError
        return value
    if kind == "bool":
        return parse_bool(text)
    if kind == ANY:
        return _papermill_value(raw, text)
    value = yaml.safe_load(text)
    if not _plain(value):
        raise ValueError
    return value


def _papermill_value(raw: str, text: str) -> Any:
    """A value of any type as papermill's `-p` reads it: True, False, an integer, a finite
    number, else the text itself."""
    if text in ("True", "False"):
        return text == "True"
    for number in (int, float):
        try:
            value = number(text)
        except ValueError:
            continue
        if _plain(value):
            return value
    return raw


def check(
    spec: ParamSpec,
    value: Any,
    runbook: str,
    *,
    require_secrets: bool = True,
    refuse_short: bool = False,
) -> None:
    """Raise ParameterError when `value` does not fit the spec's type and constraints."""
    where = f"runbook {runbook}: parameter {spec.name}"
    if not _is_type(spec, value) or not _plain(value):
        raise ParameterError(f"{where}: expected {_expected(spec)}, got {_show(value)}")
    if spec.secret:
        if value not in ("", None) and not is_reference(value):
            raise ParameterError(
                f"{where}: is secret, so it takes a reference (env:NAME or "
                "file:/absolute/path), never the secret value itself"
            )
        if value and (require_secrets or refuse_short):
            _check_resolves(value, where, required=require_secrets)
        return
    if value is None:
        return  # an optional parameter left unset: no choice or bound applies
    if spec.choices is not None and value not in spec.choices:
        raise ParameterError(
            f"{where}: expected one of {', '.join(map(str, spec.choices))}, got {_show(value)}"
        )
    if spec.minimum is not None and value < spec.minimum:
        raise ParameterError(f"{where}: expected a value >= {spec.minimum:g}, got {_show(value)}")
    if spec.maximum is not None and value > spec.maximum:
        raise ParameterError(f"{where}: expected a value <= {spec.maximum:g}, got {_show(value)}")


def split_names(value: str) -> list[str]:
    """The names a comma-separated parameter value gives, in order, blanks left out."""
    return [name.strip() for name in value.split(",") if name.strip()]


def _check_names(spec: ParamSpec, value: Any, runbook: str, known: Collection[str]) -> None:
    """Each name the value gives must be an entry of its section in upkeep.yml, once: a
    mistyped database would otherwise start the kernel and end the run in error, and one given
    twice be reviewed twice."""
    where = f"runbook {runbook}: parameter {spec.name}"
    given = split_names(value or "")
    unknown = [name for name in given if name not in known]
    if not unknown:
        twice = next((name for name in given if given.count(name) > 1), None)
        if twice is not None:
            raise ParameterError(f"{where}: {twice!r} is named twice; name each entry once")
        return
    shown = repr(unknown[0][:SHOWN_CHARS]) + ("…" if len(unknown[0]) > SHOWN_CHARS else "")
    if not known:
        raise ParameterError(
            f"{where}: upkeep.yml has no {spec.names_of}: entries, so there is no {shown}; "
            "leave it empty"
        )
    raise ParameterError(
        f"{where}: no entry named {shown} under {spec.names_of}: in upkeep.yml; expected "
        f"comma-separated names of {', '.join(known)}, or empty for every one"
    )


def _check_folder(spec: ParamSpec, value: str, runbook: str, root: Path) -> None:
    """A folder parameter names a folder inside the project (as written: a symlink there is the
    project's own choice), holding `spec.holds` when it says: a folder elsewhere (`../../..`,
    `/etc`) would otherwise start the kernel and end the run in error."""
    where = f"runbook {runbook}: parameter {spec.name}"
    folder = Path(os.path.normpath(root / value))
    if not folder.is_relative_to(os.path.normpath(root)):
        why = f"{value[:SHOWN_CHARS]!r} is outside the project ({root})"
    elif not folder.is_dir():
        why = f"{folder} is not a folder"
    elif spec.holds is not None and not (folder / spec.holds).is_file():
        why = f"{folder} holds no {spec.holds}"
    else:
        return
    raise ParameterError(f"{where}: {why}; expected {_folder_expected(spec)}, or empty")


def _folder_expected(spec: ParamSpec) -> str:
    holding = f" holding {spec.holds}" if spec.holds is not None else ""
    return f"an existing folder inside the project (relative to it){holding}"


def _check_resolves(reference: str, where: str, *, required: bool = True) -> None:
    """A reference that cannot be resolved now would only fail inside the kernel, later (unless
    not `required`: `run --due` leaves that to the run). One that resolves to a value too short
    to scrub is refused either way: the run would print it unscrubbed."""
    try:
        secret = resolve(reference)
    except SecretError as exc:
        if not required:
            return
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


def _is_type(spec: ParamSpec, value: Any) -> bool:
    if value is None and spec.optional:
        return True
    if spec.type == ANY:
        return True
    if spec.type == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if spec.type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, KINDS[spec.type])


def _expected(spec: ParamSpec) -> str:
    expected = {
        "str": "a string",
        "int": "an integer",
        "float": "a finite number",
        "bool": "true or false",
        "list": "a list of plain values (strings, finite numbers, true/false), e.g. [a, b]",
        "dict": "a mapping of plain values, e.g. {a: 1}",
        ANY: "a plain value (text, a finite number, True/False, None, or a list or mapping "
        "of those)",
    }[spec.type]
    return f"{expected} or None" if spec.optional and spec.type != ANY else expected


def _show(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
