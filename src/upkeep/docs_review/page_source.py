"""Responsible for reading a docs page's source as MkDocs reads it, within bounds: a regular file
(a FIFO would hold the read, and MkDocs' build, for good) of at most `MAX_PAGE_BYTES`, in UTF-8,
whose front matter's aliases expand to at most `MAX_FRONT_MATTER_VALUES` values (a "billion
laughs" that MkDocs' plugins expand until memory runs out). A page outside these bounds is
`Unbuildable`: its message says what it is and what was expected."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import yaml

from upkeep.regular_file import file_kind, read_regular

__all__ = [
    "MAX_FRONT_MATTER_VALUES",
    "MAX_PAGE_BYTES",
    "Unbuildable",
    "front_matter",
    "read_page",
]

MAX_PAGE_BYTES = 8 * 1024 * 1024
# Scalars, lists and mappings one page's front matter may stand for once its aliases are
# expanded: far above any owner, interval and list of documented paths.
MAX_FRONT_MATTER_VALUES = 10_000
# MkDocs' own pattern (mkdocs.utils.meta.YAML_RE), so that the YAML bounded here is the YAML
# MkDocs reads: a `---` line, the YAML, then a `---` or `...` line.
_FRONT_MATTER = re.compile(r"-{3}[ \t]*\n(.*?\n)(?:\.{3}|-{3})[ \t]*\n", re.DOTALL)
_OPENING = re.compile(r"-{3}[ \t]*\n")
_EMPTY = re.compile(r"-{3}[ \t]*\n(?:\.{3}|-{3})[ \t]*\n")


class Unbuildable(ValueError):
    """A page MkDocs cannot build a site from, or not without running out of memory."""


def read_page(path: Path) -> str:
    """The text of the page at `path`; Unbuildable when it is no regular file (a symlink to one
    is fine), cannot be read, is larger than `MAX_PAGE_BYTES` or is not UTF-8."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise Unbuildable(f"{file_kind(mode)}, not a regular file; expected a Markdown file")
        data = read_regular(path, MAX_PAGE_BYTES + 1)
    except OSError as exc:
        raise Unbuildable(
            f"cannot be read ({exc.strerror}); expected a Markdown file upkeep and MkDocs may read"
        ) from None
    if len(data) > MAX_PAGE_BYTES:
        raise Unbuildable(
            f"larger than {MAX_PAGE_BYTES // 2**20} MiB; expected a Markdown page of at most that"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unbuildable(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); expected UTF-8 "
            "text, the only encoding MkDocs reads"
        ) from None


def front_matter(text: str) -> dict[str, object]:
    """The YAML between a leading `---` line and the next `---` or `...` line; {} without one;
    ValueError when it is not a YAML mapping, Unbuildable when its aliases expand past the
    bound. A byte-order mark and CRLF line ends are read as MkDocs reads them."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not _OPENING.match(text) or _EMPTY.match(text):
        return {}
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise ValueError("front matter opened with --- is never closed")
    data = _bounded_yaml(match[1])
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("front matter is not a mapping")
    return data


def _bounded_yaml(text: str) -> object:
    """The YAML document in `text`, built only once its expanded size is known to be bounded:
    composing keeps an alias as one shared node, building a value from it is what expands."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_FRONT_MATTER_VALUES:
            raise Unbuildable(
                f"front matter: its aliases expand to more than {MAX_FRONT_MATTER_VALUES} "
                "values (or never end); expected front matter without aliases nested in aliases"
            )
        return loader.construct_document(node)
    except RecursionError:
        raise ValueError("front matter: nested too deeply") from None
    finally:
        loader.dispose()


def _expanded_size(root: yaml.Node) -> int:
    """How many values `root` stands for with every alias expanded, counted up to one past the
    bound; a node that holds an alias to itself never ends, and counts as past it."""
    past = MAX_FRONT_MATTER_VALUES + 1
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = past  # while it is counted: an alias back to it is endless
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total >= past:
                break
        sizes[id(node)] = min(total, past)
        return sizes[id(node)]

    return size(root)
