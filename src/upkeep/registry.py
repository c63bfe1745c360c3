"""Responsible for discovering runbooks and reading their metadata and parameters.

A runbook is `runbooks/<cadence>/<name>.ipynb`: notebook metadata `upkeep` describes it, and the
cell tagged `parameters` declares its parameters in papermill's inspectable form
(`name: type = default  # help`), read with papermill's own translator.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upkeep import schedule
from upkeep.errors import RunbookError
from upkeep.secrets import is_reference

NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PARAM_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
_METADATA_KEYS = {
    "title",
    "summary",
    "cadence",
    "category",
    "owner",
    "references",
    "timeout_s",
    "destructive",
    "parameters",
}
_CONSTRAINT_KEYS = {"choices", "min", "max", "secret"}


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its type, default, help text and constraints."""

    name: str
    type: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False

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
        return "; ".join(parts)


@dataclass(frozen=True)
class Runbook:
    """A maintenance procedure: a notebook plus what its metadata says about it."""

    name: str
    path: Path
    relpath: str
    title: str
    summary: str
    cadence: str
    category: str
    owner: str
    references: tuple[str, ...]
    timeout_s: int | None
    destructive: bool
    params: tuple[ParamSpec, ...]
    sha256: str

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.relpath,
            "title": self.title,
            "summary": self.summary,
            "cadence": self.cadence,
            "category": self.category,
            "owner": self.owner,
            "references": list(self.references),
            "timeout_s": self.timeout_s,
            "destructive": self.destructive,
            "sha256": self.sha256,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type,
                    "default": p.default,
                    "help": p.help,
                    "choices": None if p.choices is None else list(p.choices),
                    "min": p.minimum,
                    "max": p.maximum,
                    "secret": p.secret,
                }
                for p in self.params
            ],
        }


class Registry(Mapping[str, Runbook]):
    """The runbooks found under a directory, by name."""

    def __init__(self, runbooks: dict[str, Runbook]) -> None:
        self._runbooks = dict(sorted(runbooks.items()))

    def __getitem__(self, name: str) -> Runbook:
        return self._runbooks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runbooks)

    def __len__(self) -> int:
        return len(self._runbooks)

    def require(self, name: str) -> Runbook:
        try:
            return self._runbooks[name]
        except KeyError:
            known = ", ".join(self._runbooks) or "none"
            raise RunbookError(f"no runbook named {name!r} (known runbooks: {known})") from None


def discover(runbooks_dir: Path, root: Path | None = None) -> Registry:
    """Load every `*.ipynb` under `runbooks_dir`; raise RunbookError listing every bad runbook."""
    root = root or runbooks_dir.parent
    found: dict[str, Runbook] = {}
    problems: list[str] = []
    paths = sorted(p for p in runbooks_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    for path in paths:
        try:
            runbook = load_runbook(path, root)
        except RunbookError as exc:
            problems.append(str(exc))
            continue
        if runbook.name in found:
            problems.append(
                f"runbook {runbook.name}: defined twice ({found[runbook.name].relpath} "
                f"and {runbook.relpath}); names must be unique"
            )
            continue
        found[runbook.name] = runbook
    if problems:
        raise RunbookError("invalid runbooks:\n  " + "\n  ".join(problems))
    return Registry(found)


def load_runbook(path: Path, root: Path) -> Runbook:
    """Read one notebook file into a Runbook, validating its metadata and parameters."""
    name = path.stem
    try:
        relpath = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        relpath = str(path)
    where = f"runbook {name} ({relpath})"
    if not NAME.match(name):
        raise RunbookError(f"{where}: file name must be kebab-case (e.g. health-check.ipynb)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunbookError(f"{where}: cannot read the notebook: {exc.strerror}") from None
    try:
        nb = json.loads(raw)
    except ValueError as exc:
        raise RunbookError(f"{where}: not a valid notebook (JSON error: {exc})") from None
    meta = nb.get("metadata", {}).get("upkeep") if isinstance(nb, dict) else None
    if not isinstance(meta, dict):
        raise RunbookError(f"{where}: notebook metadata has no 'upkeep' mapping")
    fields = _metadata(meta, where)
    params = _params(nb, meta.get("parameters") or {}, where)
    return Runbook(
        name=name,
        path=path.resolve(),
        relpath=relpath,
        params=params,
        sha256=hashlib.sha256(raw).hexdigest(),
        **fields,
    )


def _metadata(meta: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(meta) - _METADATA_KEYS)
    if unknown:
        raise RunbookError(
            f"{where}: metadata.upkeep.{unknown[0]}: unknown key "
            f"(known: {', '.join(sorted(_METADATA_KEYS))})"
        )

    def text(key: str, default: str | None = None) -> str:
        value = meta.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise RunbookError(
                f"{where}: metadata.upkeep.{key}: expected a non-empty string, got {value!r}"
            )
        return value

    cadence = text("cadence")
    try:
        schedule.cron_for(cadence)
    except ValueError as exc:
        raise RunbookError(f"{where}: metadata.upkeep.cadence: {exc}") from None
    references = meta.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise RunbookError(f"{where}: metadata.upkeep.references: expected a list of strings")
    timeout_s = meta.get("timeout_s")
    if timeout_s is not None and (type(timeout_s) is not int or timeout_s < 1):
        raise RunbookError(
            f"{where}: metadata.upkeep.timeout_s: expected a positive integer, got {timeout_s!r}"
        )
    destructive = meta.get("destructive", False)
    if not isinstance(destructive, bool):
        raise RunbookError(f"{where}: metadata.upkeep.destructive: expected true or false")
    return {
        "title": text("title"),
        "summary": text("summary"),
        "cadence": cadence,
        "category": text("category"),
        "owner": text("owner"),
        "references": tuple(references),
        "timeout_s": timeout_s,
        "destructive": destructive,
    }


def _parameters_cell(nb: dict[str, Any]) -> dict[str, Any] | None:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            return cell
    return None


def _params(nb: dict[str, Any], constraints: Any, where: str) -> tuple[ParamSpec, ...]:
    from nbformat import from_dict
    from papermill.translators import PythonTranslator

    if not isinstance(constraints, dict):
        raise RunbookError(f"{where}: metadata.upkeep.parameters: expected a mapping")
    cell = _parameters_cell(nb)
    if cell is not None and isinstance(cell.get("source"), list):
        cell = {**cell, "source": "".join(cell["source"])}  # Jupyter saves sources as lines
    declared = PythonTranslator.inspect(from_dict(cell)) if cell else []
    specs = {}
    for declared_param in declared:
        specs[declared_param.name] = _spec(
            declared_param, constraints.get(declared_param.name), where
        )
    for name in constraints:
        if name not in specs:
            raise RunbookError(
                f"{where}: metadata.upkeep.parameters.{name}: no such parameter in "
                "the cell tagged 'parameters'"
            )
    return tuple(specs.values())


def _spec(declared: Any, constraint: Any, where: str) -> ParamSpec:
    name = declared.name
    here = f"{where}: parameter {name}"
    try:
        default = ast.literal_eval(declared.default)
    except (ValueError, SyntaxError):
        raise RunbookError(f"{here}: default {declared.default!r} must be a literal") from None
    type_name = _type_name(declared.inferred_type_name, default, here)
    constraint = constraint or {}
    if not isinstance(constraint, dict) or set(constraint) - _CONSTRAINT_KEYS:
        raise RunbookError(
            f"{here}: constraints must be a mapping with keys {', '.join(sorted(_CONSTRAINT_KEYS))}"
        )
    choices = constraint.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise RunbookError(f"{here}: choices must be a list")
    for bound in ("min", "max"):
        value = constraint.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RunbookError(f"{here}: {bound} must be a number")
    spec = ParamSpec(
        name=name,
        type=type_name,
        default=default,
        help=(declared.help or "").strip(),
        choices=None if choices is None else tuple(choices),
        minimum=constraint.get("min"),
        maximum=constraint.get("max"),
        secret=bool(constraint.get("secret", False)),
    )
    if spec.secret and (spec.type != "str" or not (default in ("", None) or is_reference(default))):
        raise RunbookError(
            f"{here}: a secret parameter must be a str whose default is empty or a "
            "reference (env:NAME or file:/path)"
        )
    bounded = spec.minimum is not None or spec.maximum is not None
    if bounded and spec.type not in ("int", "float"):
        raise RunbookError(
            f"{here}: min and max apply to int and float parameters, not {spec.type}"
        )
    return spec


def _type_name(annotation: str | None, default: Any, here: str) -> str:
    text = (annotation or "None").strip().lower()
    text = re.sub(r"^(typing\.)?(optional)\[(.*)\]$", r"\3", text)
    for name in PARAM_TYPES:
        if text == name or text.startswith(name + "["):
            return name
    if text == "none":
        for name, kind in PARAM_TYPES.items():
            if type(default) is kind:
                return name
    raise RunbookError(
        f"{here}: type {annotation!r} is not supported (use one of {', '.join(PARAM_TYPES)})"
    )
