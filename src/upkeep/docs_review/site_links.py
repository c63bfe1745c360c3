"""Responsible for the links of a built site, read once from its HTML files: every internal link
and anchor resolved against the files and element ids really there, the pages nothing links to
(orphans), and the external links with the pages that hold them."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

# One pass over each file finds both what it links to and what can be linked into it. The site
# is machine-written (MkDocs, nbconvert): attribute names in lower case, `=` without spaces,
# values quoted; matching only that form reads the site in about half the time.
_ATTRIBUTE = re.compile(r"""\s(href|src|id|name)=(?:"([^"]*)"|'([^']*)')""")
_EXTERNAL = ("http://", "https://", "//")
_NOT_A_PAGE = ("mailto:", "tel:", "javascript:", "data:", "about:")
_BASE = "http://site.invalid/"
# Pages a visitor reaches without a link: the home page and the web server's "not found" page.
ENTRY_PAGES = frozenset({"index.html", "404.html"})


@dataclass(frozen=True)
class BrokenLink:
    page: str  # the HTML file that holds the link, relative to the site
    href: str
    reason: str


@dataclass
class SiteLinks:
    pages: list[str] = field(default_factory=list)  # every HTML file, relative to the site
    internal: int = 0  # internal links checked
    broken: list[BrokenLink] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    external: dict[str, list[str]] = field(default_factory=dict)  # url -> pages that link it


@dataclass(frozen=True)
class _Page:
    links: tuple[str, ...]
    ids: frozenset[str]


def scan_site(site: Path) -> SiteLinks:
    """Every link of the site under `site` checked against that same folder."""
    files = set(_files(site))
    pages = {path: _read(site / path) for path in sorted(files) if path.endswith(".html")}
    result = SiteLinks(pages=list(pages))
    resolver = _Resolver(files)
    linked: set[str] = set()
    for path, page in pages.items():
        for href in page.links:
            if href.startswith(_EXTERNAL):
                url = href if not href.startswith("//") else "https:" + href
                result.external.setdefault(url, []).append(path)
                continue
            if href.lower().startswith(_NOT_A_PAGE) or not href:
                continue
            result.internal += 1
            target, fragment, problem = resolver.resolve(path, href)
            if problem:
                result.broken.append(BrokenLink(path, href, problem))
                continue
            if target != path:
                linked.add(target)
            if fragment and target in pages and fragment not in pages[target].ids:
                result.broken.append(BrokenLink(path, href, f"no element with id {fragment!r}"))
    result.orphans = [p for p in pages if p not in linked and p not in ENTRY_PAGES]
    return result


def _files(site: Path) -> Iterable[str]:
    for folder, _, names in os.walk(site):
        relative = Path(folder).relative_to(site).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in names:
            yield prefix + name


def _read(path: Path) -> _Page:
    text = path.read_text(encoding="utf-8", errors="replace")
    links, ids = [], set()
    for match in _ATTRIBUTE.finditer(text):
        value = html.unescape(match.group(2) if match.group(2) is not None else match.group(3))
        if match.group(1) in ("href", "src"):
            links.append(value.strip())
        else:
            ids.add(value)
    return _Page(tuple(links), frozenset(ids))


class _Resolver:
    """Where a link of a page leads, among `files`. Pages of one folder share their relative
    links (the navigation, the footer): each is resolved once per folder."""

    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.known: dict[tuple[str, str], tuple[str, str | None]] = {}

    def resolve(self, page: str, href: str) -> tuple[str, str, str | None]:
        """(the file `href` on `page` leads to, its fragment, why it does not resolve or None)."""
        if href.startswith("#"):
            return page, unquote(href[1:]), None
        where, _, fragment = href.partition("#")
        key = (page.rpartition("/")[0], where)
        found = self.known.get(key)
        if found is None:
            found = self.known[key] = self._path(*key)
        return found[0], unquote(fragment), found[1]

    def _path(self, folder: str, where: str) -> tuple[str, str | None]:
        parts = urlsplit(urljoin(f"{_BASE}{folder}/" if folder else _BASE, where))
        if parts.netloc != "site.invalid":
            return "", "leaves the site"
        path = unquote(parts.path)[1:]
        if path in ("", "/") or path.endswith("/"):
            path += "index.html"
        if path in self.files:
            return path, None
        if f"{path}/index.html" in self.files:
            return f"{path}/index.html", None
        return path, f"{path} is not in the site"
