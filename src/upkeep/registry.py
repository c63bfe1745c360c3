"""Responsible for discovering runbooks and reading their parameters (their metadata is read by
`upkeep.runbook_metadata`).

A runbook is `runbooks/<cadence>/<name>.ipynb`: notebook metadata `upkeep` describes it, and the
cell tagged `parameters` declares its parameters in papermill's inspectable form
(`name: type = default  # help`), read as papermill's inspection reads it. A runbook that cannot
be used is kept aside with the reason, and refused by name: it never hides the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from upkeep.config.model import SHIPPED_RUNBOOKS
from upkeep.docs_review.interval import format_review_every
from upkeep.errors import ParameterError, RunbookError
from upkeep.package_files import SHIPPED_RUNBOOKS_DIR
from upkeep.parameters_cell import DeclaredParam, read_parameters_cell
from upkeep.params import ParamSpec, check, read_default, resolve_type
from upkeep.regular_file import read_regular
from upkeep.runbook_metadata import DEFAULT_RETRIES, NAME, runbook_metadata
from upkeep.secrets import is_reference

__all__ = ["InvalidRunbook", "ParamSpec", "Registry", "Runbook", "discover", "load_runbook"]

# Names whose pages would stand where the site's own are (runbooks/index.md).
RESERVED_NAMES = frozenset({"index"})


def reserved_name_problem(name: str) -> str:
    return (
        f"the name {name!r} is reserved (its site page would replace the site's own"
        f" runbooks/{name}.md); expected another name"
    )


_CONSTRAINT_KEYS = {"choices", "min", "max", "secret", "names", "folder", "holds"}
_NAMED_SECTIONS = ("databases",)  # the sections of upkeep.yml a `names` parameter can name


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
    param_notes: tuple[str, ...] = ()
    # How many times `run --due` runs it again in one period after runs that ended in error.
    retries: int = DEFAULT_RETRIES
    # Whether it must run with no other upkeep run beside it (it measures the machine).
    runs_alone: bool = False
    # How long its page may go without a review (`review_every`, "<N>d"); None when not said.
    review_every: timedelta | None = None
    # Whether it runs only inside a maintenance window (`window: required`); skipped outside.
    window_required: bool = False
    # The runbooks it starts after when one `upkeep run` runs both (`after`: backup verification
    # after the backup); only the order, whatever their outcome.
    after: tuple[str, ...] = ()
    # How many bytes of output its runs keep (`max_output_bytes`); None: the config's default.
    max_output_bytes: int | None = None

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
            "max_output_bytes": self.max_output_bytes,
            "destructive": self.destructive,
            "retries": self.retries,
            "runs_alone": self.runs_alone,
            "after": list(self.after),
            "window_required": self.window_required,
            "review_every": None
            if self.review_every is None
            else format_review_every(self.review_every),
            "sha256": self.sha256,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type_label,
                    "default": p.default,
                    "default_expression": p.default_expression,
                    "help": p.help,
                    "choices": None if p.choices is None else list(p.choices),
                    "min": p.minimum,
                    "max": p.maximum,
                    "secret": p.secret,
                    "names": p.names_of,
                    "folder": p.folder,
                    "holds": p.holds,
                }
                for p in self.params
            ],
            "parameter_notes": list(self.param_notes),
        }


@dataclass(frozen=True)
class InvalidRunbook:
    """A notebook under the runbooks folder that cannot be run, and why (one message that names
    the runbook, what was wrong and what was expected)."""

    name: str
    relpath: str
    message: str


class Registry(Mapping[str, Runbook]):
    """The runbooks found under a directory that can run, by name; `invalid` holds, by name,
    the ones that cannot, each with the reason."""

    def __init__(
        self, runbooks: dict[str, Runbook], invalid: Mapping[str, InvalidRunbook] | None = None
    ) -> None:
        self._runbooks = dict(sorted(runbooks.items()))
        self.invalid = dict(sorted((invalid or {}).items()))

    def __getitem__(self, name: str) -> Runbook:
        return self._runbooks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runbooks)

    def __len__(self) -> int:
        return len(self._runbooks)

    def require(self, name: str) -> Runbook:
        """The runbook called `name`; RunbookError saying why when it is invalid or unknown."""
        if name in self.invalid:
            raise RunbookError(self.invalid[name].message)
        try:
            return self._runbooks[name]
        except KeyError:
            known = ", ".join(self._runbooks) or "none"
            raise RunbookError(f"no runbook named {name!r} (known runbooks: {known})") from None


def discover(folders: Path | Iterable[Path], root: Path | None = None) -> Registry:
    """Load every `*.ipynb` under the runbooks folders (`config.runbooks_dir`, or one folder):
    the runbooks that can run, and beside them each one that cannot, with the reason (a name two
    notebooks share, in one folder or two, is one of those). Paths are shown relative to `root`
    (the config's folder; by default the first folder's parent)."""
    folders = [folders] if isinstance(folders, Path) else list(folders)
    root = root or (folders[0].parent if folders else Path.cwd())
    by_name: dict[str, list[Runbook | InvalidRunbook]] = {}
    for path in _notebooks(folders):
        try:
            loaded: Runbook | InvalidRunbook = load_runbook(path, root)
        except RunbookError as exc:
            loaded = InvalidRunbook(path.stem, _relpath(path, root), str(exc))
        by_name.setdefault(loaded.name, []).append(loaded)
    found: dict[str, Runbook] = {}
    invalid: dict[str, InvalidRunbook] = {}
    for name, loaded_ones in by_name.items():
        if len(loaded_ones) > 1:
            paths_text = " and ".join(item.relpath for item in loaded_ones)
            message = f"runbook {name}: defined twice ({paths_text}); names must be unique"
            invalid[name] = InvalidRunbook(name, loaded_ones[0].relpath, message)
        elif isinstance(loaded_ones[0], InvalidRunbook):
            invalid[name] = loaded_ones[0]
        else:
            found[name] = loaded_ones[0]
    for name, cycle in _after_cycles(found).items():
        runbook = found.pop(name)
        message = (
            f"runbook {name} ({runbook.relpath}): metadata.upkeep.after: runs after itself"
            f" ({' -> '.join(cycle)}); expected an order with no cycle"
        )
        invalid[name] = InvalidRunbook(name, runbook.relpath, message)
    return Registry(found, invalid)


def _after_cycles(runbooks: Mapping[str, Runbook]) -> dict[str, list[str]]:
    """Each runbook whose `after` leads back to itself, with one such path. Names of runbooks
    that are not there are left out: `after` orders runs, it does not require them."""
    cycles: dict[str, list[str]] = {}
    for start in runbooks:
        path, seen = [start], {start}
        stack = [(start, iter(runbooks[start].after))]
        while stack:
            _, names = stack[-1]
            step = next(names, None)
            if step is None:
                stack.pop()
                path.pop()
            elif step == start:
                cycles[start] = [*path, start]
                break
            elif step in runbooks and step not in seen:
                seen.add(step)
                path.append(step)
                stack.append((step, iter(runbooks[step].after)))
    return cycles


def notebook_names(folders: Path | Iterable[Path]) -> set[str]:
    """The name of every notebook under the runbooks folders, none of them read (valid or not):
    which runbooks the plan still has, at the cost of listing the folders."""
    folders = [folders] if isinstance(folders, Path) else list(folders)
    return {path.stem for path in _notebooks(folders)}


def _notebooks(folders: list[Path]) -> list[Path]:
    """Every notebook under the folders, folder by folder (a folder listed inside another is
    read once), Jupyter's checkpoints left out."""
    seen: set[Path] = set()
    paths = []
    for folder in folders:
        for path in sorted(folder.rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts and path.resolve() not in seen:
                seen.add(path.resolve())
                paths.append(path)
    return paths


def _relpath(path: Path, root: Path) -> str:
    """`path` as the evidence and the pages name it: relative to `root` when inside it, as
    `upkeep:shipped/...` when it is a shipped runbook, else absolute."""
    resolved = path.resolve()
    if resolved.is_relative_to(root.resolve()):
        return resolved.relative_to(root.resolve()).as_posix()
    if resolved.is_relative_to(SHIPPED_RUNBOOKS_DIR.resolve()):
        inside = resolved.relative_to(SHIPPED_RUNBOOKS_DIR.resolve()).as_posix()
        return f"{SHIPPED_RUNBOOKS}/{inside}"
    return str(path)


def load_runbook(path: Path, root: Path) -> Runbook:
    """Read one notebook file into a Runbook, validating its metadata and parameters."""
    name = path.stem
    relpath = _relpath(path, root)
    where = f"runbook {name} ({relpath})"
    if not NAME.fullmatch(name):
        raise RunbookError(f"{where}: file name must be kebab-case (e.g. health-check.ipynb)")
    if name in RESERVED_NAMES:
        raise RunbookError(f"{where}: {reserved_name_problem(name)}")
    try:
        raw = read_regular(path)  # a FIFO named *.ipynb would wait for a writer, for good
    except OSError as exc:
        raise RunbookError(f"{where}: cannot read the notebook: {exc.strerror}") from None
    try:
        nb = json.loads(raw)
    except ValueError as exc:
        raise RunbookError(f"{where}: not a valid notebook (JSON error: {exc})") from None
    _check_shape(nb, where)
    meta = nb["metadata"].get("upkeep")
    if not isinstance(meta, dict):
        raise RunbookError(f"{where}: notebook metadata has no 'upkeep' mapping")
    fields = runbook_metadata(meta, where)
    language = _language(nb)
    if language.lower() != "python":
        raise RunbookError(
            f"{where}: the notebook's kernel runs {language} (metadata.kernelspec); "
            "upkeep runs Python runbooks only"
        )
    if name in fields["after"]:
        raise RunbookError(f"{where}: metadata.upkeep.after: names the runbook itself")
    params, notes = _params(nb, meta.get("parameters") or {}, where)
    return Runbook(
        name=name,
        path=path.resolve(),
        relpath=relpath,
        params=params,
        sha256=hashlib.sha256(raw).hexdigest(),
        param_notes=notes,
        **fields,
    )


CELL_TYPES = ("code", "markdown", "raw")


def _check_shape(nb: Any, where: str) -> None:
    """RunbookError unless `nb` has the shape of a version-4 notebook where upkeep and
    papermill read it: a metadata mapping, a list of cells, each with a type, a text source
    and a metadata mapping whose tags are a list of text; and no text anywhere that is not
    text (a lone surrogate, written as an escape in the JSON, cannot be written back out)."""
    if not isinstance(nb, dict):
        raise RunbookError(f"{where}: not a notebook (expected a JSON object)")
    version = nb.get("nbformat")
    if type(version) is not int or version != 4:
        raise RunbookError(f"{where}: nbformat is {version!r}; expected 4 (Jupyter's notebook)")
    if not isinstance(nb.get("metadata"), dict):
        raise RunbookError(f"{where}: the notebook's metadata is not a mapping")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise RunbookError(f"{where}: the notebook's cells are not a list")
    for number, cell in enumerate(cells, 1):
        here = f"{where}: cell {number}"
        if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
            raise RunbookError(f"{here}: expected a cell with cell_type {', '.join(CELL_TYPES)}")
        source = cell.get("source", "")
        if not (
            isinstance(source, str)
            or (isinstance(source, list) and all(isinstance(line, str) for line in source))
        ):
            raise RunbookError(f"{here}: its source is not text or a list of lines")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise RunbookError(f"{here}: its metadata is not a mapping")
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise RunbookError(f"{here}: metadata.tags is not a list of text")
    try:
        json.dumps(nb, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RunbookError(
            f"{where}: holds a lone surrogate (an escape such as \\ud800 that is no character)"
        ) from None


def _language(nb: dict[str, Any]) -> str:
    """The notebook's language, as its kernelspec (else its language_info) says; Python when
    neither does."""
    metadata = nb.get("metadata", {})
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str) and section[field]:
            return section[field]
    return "python"


def _parameters_source(nb: dict[str, Any]) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell.get("source", "")
            # Jupyter saves sources as lines
            return "".join(source) if isinstance(source, list) else str(source)
    return ""


def _params(
    nb: dict[str, Any], constraints: Any, where: str
) -> tuple[tuple[ParamSpec, ...], tuple[str, ...]]:
    """Each parameter's spec, its default checked against it, and papermill's notes on lines of
    the cell that declare no parameter."""
    if not isinstance(constraints, dict):
        raise RunbookError(f"{where}: metadata.upkeep.parameters: expected a mapping")
    declared, notes = read_parameters_cell(_parameters_source(nb))
    specs = {}
    for declared_param in declared:
        spec = _spec(declared_param, constraints.get(declared_param.name), where)
        if spec.default_expression is None:
            try:
                check(spec, spec.default, where.removeprefix("runbook "), require_secrets=False)
            except ParameterError as exc:
                raise RunbookError(f"{exc} (its default in the cell tagged 'parameters')") from None
        specs[declared_param.name] = spec
    for constrained in constraints:
        if constrained not in specs:
            raise RunbookError(
                f"{where}: metadata.upkeep.parameters.{constrained}: no such parameter in "
                "the cell tagged 'parameters'"
            )
    return tuple(specs.values()), notes


def _spec(declared: DeclaredParam, constraint: Any, where: str) -> ParamSpec:
    here = f"{where}: parameter {declared.name}"
    default, expression = read_default(declared.default_source)
    kind, optional = resolve_type(declared.annotation, default, expression)
    constraint = constraint or {}
    if not isinstance(constraint, dict) or set(constraint) - _CONSTRAINT_KEYS:
        raise RunbookError(
            f"{here}: constraints must be a mapping with keys {', '.join(sorted(_CONSTRAINT_KEYS))}"
        )
    choices = constraint.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise RunbookError(f"{here}: choices must be a list")
    names_of = constraint.get("names")
    if names_of is not None and names_of not in _NAMED_SECTIONS:
        raise RunbookError(f"{here}: names must be one of {', '.join(_NAMED_SECTIONS)}")
    for bound in ("min", "max"):
        value = constraint.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RunbookError(f"{here}: {bound} must be a number")
    spec = ParamSpec(
        name=declared.name,
        type=kind,
        default=default,
        help=declared.help,
        choices=None if choices is None else tuple(choices),
        minimum=constraint.get("min"),
        maximum=constraint.get("max"),
        secret=bool(constraint.get("secret", False)),
        optional=optional,
        default_expression=expression,
        names_of=names_of,
        folder=constraint.get("folder") is True,
        holds=constraint.get("holds"),
    )
    if names_of is not None and spec.type != "str":
        raise RunbookError(f"{here}: names applies to str parameters, not {spec.type_label}")
    if constraint.get("folder") not in (None, True, False):
        raise RunbookError(f"{here}: folder must be true or false")
    if spec.folder and spec.type != "str":
        raise RunbookError(f"{here}: folder applies to str parameters, not {spec.type_label}")
    holds = spec.holds
    if holds is not None and (
        not spec.folder or not isinstance(holds, str) or holds in ("", ".", "..") or "/" in holds
    ):
        raise RunbookError(
            f"{here}: holds must be a file name (such as index.html), beside folder: true"
        )
    plain_reference = expression is None and (default in ("", None) or is_reference(default))
    if spec.secret and (spec.type != "str" or not plain_reference):
        raise RunbookError(
            f"{here}: a secret parameter must be a str whose default is empty or a "
            "reference (env:NAME or file:/path)"
        )
    bounded = spec.minimum is not None or spec.maximum is not None
    if bounded and spec.type not in ("int", "float"):
        raise RunbookError(
            f"{here}: min and max apply to int and float parameters, not {spec.type_label}"
        )
    return spec
