"""Search entries kept between builds: a page is indexed again whenever anything its entries are
made from changed, and the index written is byte for byte the one Material writes without them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers.site_history import daily_history, publish

from upkeep.site.search_entries import CACHE, SearchEntries


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    return daily_history(tmp_path)


def _page(url: str = "runs/2026/10/", content: str = "<h1>October</h1>", **changed: Any) -> Any:
    fields = {
        "url": url,
        "title": "October",
        "meta": {},
        "toc": [SimpleNamespace(id="october", url="#october", title="October", children=[])],
        "content": content,
    }
    return SimpleNamespace(**(fields | changed))


class _Material:
    """Stands in for Material's `add_entry_from_context`: counts the pages it indexed."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.indexed: list[str] = []

    def index(self, page: Any) -> None:
        self.indexed.append(page.url)
        self.entries.append({"location": page.url, "title": page.title, "text": page.content})


def _build(cache: Path, pages: list[Any], settings: str = "material 9") -> _Material:
    material = _Material()
    kept = SearchEntries(cache, settings)
    for page in pages:
        kept.add_page(page, material.entries, material.index)
    kept.save()
    return material


@pytest.mark.parametrize(
    "changed",
    [
        {"content": "<h1>October</h1><p>one more run</p>"},
        {"title": "October 2026"},
        {"meta": {"search": {"boost": 2}}},
        {"toc": [SimpleNamespace(id="oct", url="#oct", title="October", children=[])]},
        {"url": "runs/2026/11/"},
    ],
    ids=["content", "title", "metadata", "table of contents", "address"],
)
def test_a_page_is_indexed_again_when_anything_its_entries_come_from_changed(
    tmp_path: Path, changed: dict[str, Any]
) -> None:
    cache = tmp_path / "search.json"
    first = _build(cache, [_page(), _page(url="runs/2026/09/")])
    again = _build(cache, [_page(**changed), _page(url="runs/2026/09/")])
    assert again.indexed == [_page(**changed).url]  # the unchanged page is not parsed again
    assert again.entries[1] == first.entries[1]


def test_other_search_settings_index_every_page_again(tmp_path: Path) -> None:
    cache = tmp_path / "search.json"
    _build(cache, [_page()])
    assert _build(cache, [_page()]).indexed == []
    assert _build(cache, [_page()], settings="material 10").indexed == ["runs/2026/10/"]


@pytest.mark.parametrize("bad", [b"not json", b'{"format": 1, "runs": {"runs/2026/10/": 3}}'])
def test_a_cache_that_cannot_be_read_is_ignored(tmp_path: Path, bad: bytes) -> None:
    cache = tmp_path / "search.json"
    cache.write_bytes(bad)
    built = _build(cache, [_page()])
    assert built.indexed == ["runs/2026/10/"]
    assert built.entries == [
        {"location": "runs/2026/10/", "title": "October", "text": _page().content}
    ]


def _site_build(project: Any, site: Path) -> str:
    built = project.upkeep("site", "build", "--site-dir", str(site), "--no-strict", timeout=300)
    assert built.code == 0, built.text
    return built.text


def _in_one_minute(steps: Callable[[], Any]) -> Any:
    """`steps()`, again if the clock's minute turned while they ran: pages say when the site was
    built, to the minute, so two builds are only alike within one minute."""
    for _ in range(3):
        started = datetime.now(UTC).replace(second=0, microsecond=0)
        done = steps()
        if datetime.now(UTC).replace(second=0, microsecond=0) == started:
            return done
    pytest.fail("three tries in a row each ran across the turn of a minute")


@pytest.mark.slow
def test_the_index_of_a_build_from_kept_entries_is_material_s_own(
    history: dict[str, Any],
    tmp_path: Path,
) -> None:
    project = history["project"]
    cache = project.root / "state" / CACHE
    site = tmp_path / "site"
    index_file = site / "search" / "search_index.json"

    def kept_then_material_s() -> tuple[bool, str, bytes, bytes]:
        cache.unlink(missing_ok=True)
        _site_build(project, site)
        kept = bool(json.loads(cache.read_bytes())["runs"])  # every page's entries kept
        said = _site_build(project, site)
        kept_index = index_file.read_bytes()
        cache.unlink()
        _site_build(project, site)  # Material indexes every page itself
        return kept, said, kept_index, index_file.read_bytes()

    kept, said, kept_index, material_s = _in_one_minute(kept_then_material_s)
    assert kept
    assert "pages indexed" in said and ", 0 pages indexed" in said
    assert material_s == kept_index
    # A new run changes its month's page (and the dashboard): those pages are indexed again.
    site_state = project.root / "state" / "site"
    before_the_new_run = shutil.copytree(site_state, tmp_path / "site-state-before")
    new = publish(history["store"], history["runbook"], 10, status="warn")

    def after_the_new_run() -> tuple[str, bytes, bytes]:
        # Every try starts from what the builds before the new run kept: a try that ran across
        # a minute has indexed the new run's pages already.
        shutil.rmtree(site_state)
        shutil.copytree(before_the_new_run, site_state)
        said = _site_build(project, site)
        index = index_file.read_bytes()
        shutil.rmtree(site_state)
        _site_build(project, site)
        return said, index, index_file.read_bytes()

    said, index, rebuilt = _in_one_minute(after_the_new_run)
    assert ", 0 pages indexed" not in said
    assert index != kept_index
    month = new.relative_to(project.evidence).parent.as_posix() + "/"  # runs/YYYY/MM/
    (entry,) = [e for e in json.loads(index)["docs"] if e["location"] == month]
    assert "daily-checkWARN" in entry["text"]  # the new run's row, as Material reads it
    assert rebuilt == index
