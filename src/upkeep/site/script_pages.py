"""Responsible for the site's pages of the SQL scripts upkeep ships (`scripts/**/*.sql`, one page
each at `scripts/<path>.md`: what its header says and the whole file), and for the section of a
runbook page that links the scripts the runbook runs: those of each `scripts/<folder>/` its
Markdown names (the database review names `scripts/db-health/<engine>/`)."""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import PurePosixPath

from upkeep.site.markup import frontmatter

__all__ = ["script_pages", "scripts_section", "shipped_scripts"]

_FOLDER_NAMED = re.compile(r"\bscripts/(?P<folder>[a-z0-9][a-z0-9_-]*)/")


def shipped_scripts() -> dict[str, str]:
    """Every shipped SQL script's text, by its path under `scripts/`, sorted."""
    found: dict[str, str] = {}
    _walk(files("upkeep").joinpath("scripts"), PurePosixPath(), found)
    return dict(sorted(found.items()))


def _walk(folder: Traversable, where: PurePosixPath, found: dict[str, str]) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir():
            _walk(entry, where / entry.name, found)
        elif entry.name.endswith(".sql"):
            found[str(where / entry.name)] = entry.read_text(encoding="utf-8")


def script_pages() -> list[tuple[str, str]]:
    """(`scripts/<path>.md`, its Markdown) for every shipped script."""
    return [
        (f"scripts/{name.removesuffix('.sql')}.md", _page(name, text))
        for name, text in shipped_scripts().items()
    ]


def _page(name: str, text: str) -> str:
    header = [line[2:].strip() for line in text.splitlines() if line.startswith("--")]
    title = header[0].rstrip(".:") if header else name
    fence = "````" if "```" in text else "```"
    return (
        frontmatter(f"{name}: {title}")
        + f"# `scripts/{name}`\n\n{_escape(header[0]) if header else ''}\n\n"
        + "The whole file as upkeep ships it: the header says what it checks, why, its limits "
        + "and how its result is graded; the query follows.\n\n"
        + f"{fence}sql\n{text.rstrip()}\n{fence}\n"
    )


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def scripts_section(markdown: str, to_root: str) -> str:
    """The Markdown section linking the scripts of every `scripts/<folder>/` that `markdown`
    names, each relative to a page `to_root` below the site's root; "" when it names none."""
    folders = sorted(set(_FOLDER_NAMED.findall(markdown)))
    scripts = [name for name in shipped_scripts() if any(name.startswith(f"{f}/") for f in folders)]
    if not scripts:
        return ""
    lines = ["## SQL scripts it runs\n", "Each links to its page: its header and its query.\n"]
    for name in scripts:
        lines.append(f"- [`scripts/{name}`]({to_root}scripts/{name.removesuffix('.sql')}.md)")
    return "\n".join(lines) + "\n"
