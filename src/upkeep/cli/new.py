"""Responsible for `upkeep new NAME --cadence weekly`: a new runbook scaffolded into the first
runbooks folder of the user's own (`runbooks_dir`, the shipped runbooks aside), or with `--dir`
into one of them or a folder inside one, under its cadence's folder, ready for `upkeep check` and
`upkeep run`. A name that is not kebab-case, too long or already taken, a cadence that is not
one, or a folder that is no runbooks folder of one's own is refused (exit 2), and nothing is
written.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from upkeep.cli.console import print_out
from upkeep.cli.options import GlobalOptions, NonEmptyPath
from upkeep.errors import RunbookError

if TYPE_CHECKING:
    from upkeep.config import Config

# A runbook's name is in the file name of its notebook and of each run's folder, page and id
# (20261207T030000Z-NAME-1a2b): well inside the 255 bytes a file name may have.
MAX_NAME_LENGTH = 64


@click.command("new")
@click.argument("name")
@click.option(
    "--cadence",
    default="weekly",
    show_default=True,
    help="daily, weekly, monthly, quarterly, yearly or a 5-field cron expression.",
)
@click.option("--title", help="The runbook's title [default: from NAME].")
@click.option("--category", default="Other", show_default=True, help="The plan's task category.")
@click.option("--owner", help="Who answers for it [default: you].")
@click.option(
    "--dir",
    "folder",
    type=NonEmptyPath(file_okay=False, path_type=Path),
    help="The runbooks folder to write into: one of runbooks_dir of your own, or a folder inside "
    "one [default: the first of them].",
)
@click.pass_obj
def new_command(
    options: GlobalOptions,
    name: str,
    cadence: str,
    title: str | None,
    category: str,
    owner: str | None,
    folder: Path | None,
) -> int:
    """Scaffold a new runbook NAME (kebab-case) that passes `upkeep check`."""
    config = options.load_config()
    path = new_runbook_file(
        config,
        name,
        cadence,
        title=title or name.replace("-", " ").capitalize(),
        category=category,
        owner=owner or getpass.getuser(),
        folder=folder,
    )
    print_out(f"created {path}")
    print_out(f"next: edit it, then `upkeep check` and `upkeep run {name}`")
    return 0


def new_runbook_file(
    config: Config,
    name: str,
    cadence: str,
    *,
    title: str,
    category: str,
    owner: str,
    folder: Path | None = None,
) -> Path:
    """Write the scaffolded runbook `name`; its path. RunbookError, nothing written, when the
    name, the cadence or the folder cannot be used."""
    from upkeep import registry, schedule
    from upkeep.atomic import file_mode, write_bytes
    from upkeep.runbook_metadata import NAME, runbook_metadata
    from upkeep.scaffold import FOLDER_CADENCES, scaffold_runbook

    if not NAME.fullmatch(name):
        raise RunbookError(
            f"runbook name {name!r}: expected kebab-case, such as disk-report (lower-case "
            "letters and digits, words joined by -)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise RunbookError(
            f"runbook name {name[:20]}... ({len(name)} characters): expected at most "
            f"{MAX_NAME_LENGTH} characters"
        )
    if name in registry.RESERVED_NAMES:
        raise RunbookError(f"runbook name {name!r}: {registry.reserved_name_problem(name)}")
    try:
        schedule.cron_for(cadence)
    except ValueError as exc:
        raise RunbookError(f"--cadence: {exc}") from None
    existing = registry.discover(config.runbooks_dir, config.root)
    if name in existing or name in existing.invalid:
        known = existing.get(name) or existing.invalid[name]
        raise RunbookError(f"runbook {name} exists already ({known.relpath}); expected a new name")
    target = _own_folder(config) if folder is None else _folder_inside_own(config, folder)
    sub = cadence if cadence in FOLDER_CADENCES else "cron"
    path = target / sub / f"{name}.ipynb"
    if path.exists():
        raise RunbookError(f"{path} exists already; expected a new runbook")
    notebook = scaffold_runbook(name, cadence, title=title, owner=owner, category=category)
    try:  # the rules discovery applies: a runbook written here is never INVALID at once
        runbook_metadata(notebook["metadata"]["upkeep"], f"runbook {name}")
    except RunbookError as exc:
        raise RunbookError(str(exc).replace("metadata.upkeep.", "--")) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, (json.dumps(notebook, indent=1) + "\n").encode(), mode=file_mode())
    return path


def _own_folders(config: Config) -> list[Path]:
    """The folders of `runbooks_dir` that are not the shipped runbooks'."""
    from upkeep.package_files import SHIPPED_RUNBOOKS_DIR

    return [folder for folder in config.runbooks_dir if folder != SHIPPED_RUNBOOKS_DIR]


def _own_folder(config: Config) -> Path:
    """The first folder of `runbooks_dir` that is not the shipped runbooks'."""
    from upkeep.config import SHIPPED_RUNBOOKS

    for folder in _own_folders(config):
        return folder
    raise RunbookError(
        f"{config.path}: runbooks_dir lists only {SHIPPED_RUNBOOKS}; expected a folder of your "
        f"own beside it (runbooks_dir: [{SHIPPED_RUNBOOKS}, runbooks]), or pass --dir"
    )


def _folder_inside_own(config: Config, folder: Path) -> Path:
    """`--dir`, resolved, when it is a runbooks folder of one's own or inside one: a runbook
    written anywhere else is never discovered, so `upkeep run NAME` would not find it."""
    target = folder.resolve()
    own = [own.resolve() for own in _own_folders(config)]
    if any(target.is_relative_to(o) for o in own):
        return target
    listed = ", ".join(str(o) for o in own) or "none of your own"
    raise RunbookError(
        f"--dir {str(folder)!r}: expected one of the runbooks folders of runbooks_dir in "
        f"{config.path} (the shipped ones aside), or a folder inside one: {listed}"
    )
