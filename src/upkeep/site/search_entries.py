"""Responsible for indexing for search only the pages that changed since the last build.

Material's search plugin parses the HTML of every page on every build; on years of history most
of that is the month pages' run tables, and a nightly build changes one month. The entries it
made for a page are kept under state_dir, keyed on everything they are made from (the page's
address, title, metadata, HTML and table of contents, Material's version and the search
settings), and reused only when all of it is the same; any other page is indexed by Material
itself. The index written is the one Material writes without this (a test compares them byte
for byte). When the search plugin is not there, or not the one this was written for, nothing is
changed. A cache that cannot be read costs time, nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from upkeep import atomic
from upkeep.site.run_page_store import compact_json, read_runs_cache

CACHE = "site/search-entries.json"  # under state_dir: never published
CACHE_FORMAT = 1
_PLUGIN_NAMES = ("material/search", "search")


class SearchEntries:
    """The search entries of this build's pages, reused from the last build's where a page is
    the same (`reused`) and made by Material otherwise (`indexed`)."""

    def __init__(self, cache: Path, settings: str) -> None:
        self.cache = cache
        self.settings = settings  # Material's version and search settings, in every page key
        self.known = read_runs_cache(cache, CACHE_FORMAT)  # by page URL: [key, entries]
        self.fresh: dict[str, list[Any]] = {}
        self.reused = 0
        self.indexed = 0

    def add_page(self, page: Any, entries: list[Any], index_page: Callable[[Any], None]) -> None:
        """Append `page`'s entries to `entries`: the kept ones when its key still holds, else
        the ones `index_page` (Material's own) appends, kept for the next build."""
        key = self._key(page)
        kept = self.known.get(page.url)
        if isinstance(kept, list) and len(kept) == 2 and kept[0] == key and _entries(kept[1]):
            entries.extend(kept[1])
            self.fresh[page.url] = kept
            self.reused += 1
            return
        start = len(entries)
        index_page(page)
        self.fresh[page.url] = [key, _plain(entries[start:])]
        self.indexed += 1

    def save(self) -> None:
        """Keep this build's entries (only its pages': a page gone is forgotten)."""
        if self.fresh.keys() == self.known.keys() and all(
            self.fresh[url] is self.known[url] for url in self.fresh
        ):
            return
        with contextlib.suppress(OSError):
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(
                self.cache, compact_json({"format": CACHE_FORMAT, "runs": self.fresh})
            )

    def _key(self, page: Any) -> str:
        meta = {name: page.meta.get(name) for name in ("title", "tags", "search")}
        head = json.dumps(
            [self.settings, page.url, str(page.title), meta, _toc(page.toc)],
            sort_keys=True,
            default=str,
        )
        digest = hashlib.sha256(head.encode())
        digest.update(b"\0")
        digest.update((page.content or "").encode("utf-8", "surrogatepass"))
        return digest.hexdigest()


def attach(plugins: Any, state_dir: Path) -> SearchEntries | None:
    """Put the kept entries in front of the search plugin's indexing of each page, for this
    build; None (nothing changed) when there is no search plugin of the kind this knows."""
    plugin = next((plugins[name] for name in _PLUGIN_NAMES if name in plugins), None)
    index = getattr(plugin, "search_index", None)
    index_page = getattr(index, "add_entry_from_context", None)
    entries = getattr(index, "entries", None)
    if not callable(index_page) or not isinstance(entries, list):
        return None
    module = sys.modules.get(type(index).__module__)
    settings = json.dumps(
        [
            _version("mkdocs-material"),
            type(index).__module__,
            getattr(index, "config", None),
            getattr(module, "jieba", None) is not None,  # Chinese segmentation changes text
        ],
        sort_keys=True,
        default=str,
    )
    kept = SearchEntries(state_dir / CACHE, settings)

    def add_entry_from_context(page: Any) -> None:
        kept.add_page(page, index.entries, index_page)

    index.add_entry_from_context = add_entry_from_context
    return kept


def _toc(items: Any) -> list[Any]:
    return [
        [
            getattr(i, "id", None),
            getattr(i, "url", None),
            str(getattr(i, "title", "")),
            _toc(getattr(i, "children", ())),
        ]
        for i in items or ()
    ]


def _entries(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(entry, dict) for entry in value)


def _plain(entries: list[Any]) -> list[Any]:
    """The entries as JSON gives them back (Material writes them with `default=str`)."""
    return json.loads(json.dumps(entries, default=str))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""
