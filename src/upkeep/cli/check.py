"""Responsible for `upkeep check`: the config and every runbook validated, and every problem
reported at once — the config's (each section and list item), a runbooks folder that is not
there, each runbook that cannot run, a `status.runbooks` entry that names no runbook, a
`{{ key }}` in a runbook's Markdown that names nothing upkeep.yml can hold, a reference to a page
the site does not have. Nothing is run; exit 2 when there is a problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_err, print_out
from upkeep.cli.options import GlobalOptions
from upkeep.errors import ConfigError

if TYPE_CHECKING:
    from upkeep.config import Config
    from upkeep.registry import Registry, Runbook


@click.command("check")
@click.pass_obj
def check_command(options: GlobalOptions) -> int:
    """Validate the config and every runbook; report every problem (nothing runs)."""
    return check(options.config_path)


def check(config_path: str | None) -> int:
    """Print every problem of the config and the runbooks; exit code 0, or 2 when there is one."""
    from upkeep.config import read_config

    config, problems = read_config(config_path)
    messages = list(problems.messages)
    runbooks = 0
    if config is not None:
        messages += secret_file_problems(config)
        found, runbook_problems = runbook_problems_of(config)
        messages += runbook_problems
        runbooks = len(found) + len(found.invalid)
    for message in messages:
        print_err(f"upkeep: error: {message}")
    if config is not None:
        # Not errors (the runbook runs), but what `show` notes: a line of the parameters cell
        # papermill does not read as a parameter (a help text with `=` in it, say).
        for runbook in found.values():
            for note in (*runbook.param_notes, *outside_notes(runbook)):
                print_err(f"upkeep: note: runbook {runbook.name} ({runbook.relpath}): {note}")
    where = config.path if config is not None else config_path or "upkeep.yml"
    if messages:
        count = len(messages)
        print_err(f"upkeep: {count} problem{'s' if count != 1 else ''} in {where} and its runbooks")
        return ConfigError.exit_code
    print_out(f"{where} and its {runbooks} runbooks: no problems")
    return 0


_MERMAID = re.compile(r"(?m)^\s*```\s*mermaid|class\s*=\s*[\"']?mermaid", re.I)
# What in a runbook's Markdown cells makes its site page load something from outside (the site
# is meant to work offline) or run script: an image or a script from a URL, a Mermaid diagram
# (Material fetches Mermaid from a CDN), raw HTML with an event handler.
_OUTSIDE = (
    (re.compile(r"!\[[^\]]*\]\(\s*(?:https?:)?//", re.I), "an image from the network"),
    (
        re.compile(
            r"<(?:img|script|iframe|link)\b[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I
        ),
        "an element that loads from the network",
    ),
    (_MERMAID, "a Mermaid diagram (the theme loads Mermaid from a CDN)"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "raw HTML with an event handler"),
    (re.compile(r"<script\b", re.I), "a script"),
)


_FENCED_CODE = re.compile(r"```[^\n]*\n.*?```", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def outside_notes(runbook: Runbook) -> list[str]:
    """What the runbook's Markdown cells would load from outside or run on its site page."""
    try:
        cells = json.loads(runbook.path.read_bytes()).get("cells", [])
    except (OSError, ValueError):
        return []
    notes = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        # Code is shown, not run: `<script>` inside backticks is text; a Mermaid fence is drawn.
        prose = _INLINE_CODE.sub("", _FENCED_CODE.sub("", text))
        for pattern, what in _OUTSIDE:
            if pattern.search(text if pattern is _MERMAID else prose):
                notes.append(
                    f"markdown cell {index} holds {what}: the site shows raw HTML as text and"
                    " loads no image from the network (it is built to work offline and to run"
                    " no script of its pages' content)"
                )
    return notes


def secret_file_problems(config: Config) -> list[str]:
    """Each `file:` secret reference of the config whose file is not there (or not a file):
    every run that needs it would fail. Nothing is read, nor shown. One the file exists but this
    user may not read (it is the service's), and an `env:` one (set where the runs are, maybe
    not here), are left to the run that resolves them."""
    messages = []
    for where, reference in config.secret_references():
        if not reference.startswith("file:"):
            continue
        path = Path(reference.removeprefix("file:"))
        try:
            what = (
                "is a directory" if path.is_dir() else None if path.exists() else "does not exist"
            )
        except OSError:  # a folder on the way this user may not search: left to the run
            continue
        if what is not None:
            messages.append(
                f"{config.path}: {where}: the secret file {path} {what}; expected the file"
                " holding the secret"
            )
    return messages


def runbook_problems_of(config: Config) -> tuple[Registry, list[str]]:
    """The runbooks of `config`, and every problem of them and of their folders."""
    from upkeep import registry

    messages = [
        f"{config.path}: runbooks_dir: {folder} is not a folder"
        for folder in config.runbooks_dir
        if not folder.is_dir()
    ]
    found = registry.discover(config.runbooks_dir, config.root)
    messages += [item.message for item in found.invalid.values()]
    try:
        config.status.check_names([*found, *found.invalid], config.path)
    except ConfigError as exc:
        messages.append(str(exc))
    pages = _reference_pages(config)
    for runbook in found.values():
        messages += _page_problems(runbook, pages)
    return found, messages


def _page_problems(runbook: Runbook, pages: set[str] | None) -> list[str]:
    """What would show wrong on the runbook's page: an unknown `{{ key }}`, a missing page."""
    from upkeep.config.lookup import UnknownKey, check_key
    from upkeep.site.runbook_pages import placeholders

    where = f"runbook {runbook.name} ({runbook.relpath})"
    messages = []
    for key in dict.fromkeys(placeholders(json.loads(runbook.path.read_bytes()))):
        try:
            check_key(key)
        except UnknownKey as exc:
            messages.append(
                f"{where}: {{{{ {key} }}}} names no value of upkeep.yml ({exc}); expected a key "
                "such as logs.NAME.path or cleanup.temp_roots.0.path"
            )
    for reference in runbook.references if pages is not None else ():
        if reference not in pages:
            messages.append(
                f"{where}: metadata.upkeep.references: {reference!r} is not a page of the site's "
                "reference/ folder; expected one of " + (", ".join(sorted(pages)) or "(none)")
            )
    return messages


def _reference_pages(config: Config) -> set[str] | None:
    """The pages under `reference/` in the site's pages and the user's own; None when the site
    has no sources to look in."""
    from upkeep.errors import UpkeepError
    from upkeep.site.build import docs_folders

    try:
        folders = docs_folders(config)
    except UpkeepError:
        return None
    return {
        path.relative_to(folder / "reference").as_posix()
        for folder in folders
        for path in (folder / "reference").rglob("*.md")
    }
