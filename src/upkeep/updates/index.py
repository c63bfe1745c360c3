"""Responsible for the newest version of each package on a simple package index (PEP 503: one
page per package listing its files; a URL, or a folder laid out the same way), and so for the
updates a set of packages has, each with its kind (patch, minor, major). Credentials in the URL
(`https://user:token@host/simple`, as pip takes them) are sent as HTTP basic auth to that index
alone, and no message names them."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from upkeep.regular_file import read_regular
from upkeep.updates.model import Package, Update, UpdateKind, update_kind

__all__ = [
    "PackageIndexError",
    "available_updates",
    "newest_version",
    "versions_listed",
    "without_credentials",
]

_LINK = re.compile(r"<a\s+([^>]*)>([^<]+)</a>", re.IGNORECASE)
# PyPI's page of its largest projects is a few MB: more is no package page.
_PAGE_BYTES = 64 * 1024 * 1024
_REFUSED = (401, 403)  # the index wants credentials other than those in its URL


class PackageIndexError(Exception):
    """The index could not be read (unreachable, or an answer that is not a simple index)."""


def versions_listed(page: str) -> list[Version]:
    """The versions of the files a package's index page lists, yanked files left out."""
    found: list[Version] = []
    for attributes, text in _LINK.findall(page):
        if "data-yanked" in attributes:
            continue
        filename = html.unescape(text.strip())
        try:
            if filename.endswith(".whl"):
                found.append(parse_wheel_filename(filename)[1])
            else:
                found.append(parse_sdist_filename(filename)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
    return found


def newest_version(index_url: str, name: str, current: str, timeout: float = 15) -> str | None:
    """The newest version of `name` on the index (a pre-release only when `current` is one);
    None when the index does not have the package."""
    versions = _candidates(index_url, name, current, timeout)
    return str(max(versions)) if versions else None


def _candidates(index_url: str, name: str, current: str, timeout: float) -> list[Version] | None:
    page = _package_page(index_url, str(canonicalize_name(name)), timeout)
    if page is None:
        return None
    allow_pre = Version(current).is_prerelease
    return [v for v in versions_listed(page) if allow_pre or not v.is_prerelease]


def available_updates(
    index_url: str, packages: Iterable[Package], timeout: float = 15
) -> tuple[list[Update], list[str]]:
    """The updates `packages` have on the index, and the names the index does not list. A
    package whose newest version is a major step also gets its newest patch or minor update,
    when there is one: that one weekly patching can apply."""
    updates: list[Update] = []
    unlisted: list[str] = []
    for package in packages:
        candidates = _candidates(index_url, package.name, package.version, timeout)
        if not candidates:
            unlisted.append(package.name)
            continue
        current = Version(package.version)
        newer = sorted(v for v in candidates if v > current)
        compatible = [v for v in newer if update_kind(package.version, str(v)) != UpdateKind.MAJOR]
        for version in {*newer[-1:], *compatible[-1:]}:
            kind = update_kind(package.version, str(version))
            updates.append(Update(package.name, package.version, str(version), kind))
    updates.sort(key=lambda u: (u.package, Version(u.latest)))
    return updates, unlisted


def without_credentials(index_url: str) -> str:
    """`index_url` with the user and password it may carry left out: how messages name it."""
    parts = urllib.parse.urlsplit(index_url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _package_page(index_url: str, name: str, timeout: float) -> str | None:
    base = index_url.rstrip("/")
    if base.startswith("file://"):
        folder = Path(urllib.request.url2pathname(urllib.parse.urlparse(base).path))
        return _folder_page(folder, name)
    shown = without_credentials(index_url)
    request = urllib.request.Request(
        f"{without_credentials(base)}/{name}/", headers={"Accept": "text/html"}
    )
    try:
        with _opener(base).open(request, timeout=timeout) as answer:
            return answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        refused = ": credentials missing or refused" if exc.code in _REFUSED else ""
        raise PackageIndexError(
            f"the package index {shown} answered {exc.code} for {name}{refused}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PackageIndexError(f"could not reach the package index {shown}: {reason}") from None


def _opener(index_url: str) -> urllib.request.OpenerDirector:
    """What asks the index: with its URL's credentials, when it has some, sent as basic auth
    with every request under that URL (a redirect elsewhere goes without them)."""
    parts = urllib.parse.urlsplit(index_url)
    if parts.username is None:
        return urllib.request.build_opener()
    passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    passwords.add_password(None, without_credentials(index_url), user, password, True)
    return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))


def _folder_page(folder: Path, name: str) -> str | None:
    """A package's page in a local index: `<folder>/<name>/index.html`, else the files of
    `<folder>/<name>/`, else the files of a flat wheelhouse whose project is `name`."""
    if not folder.is_dir():
        raise PackageIndexError(f"the package index folder {folder} does not exist")
    own = folder / name
    try:
        if (own / "index.html").is_file():
            return _page_text(own / "index.html")
        if own.is_dir():
            files = [path.name for path in own.iterdir()]
        else:
            files = [path.name for path in folder.iterdir() if _project(path.name) == name]
    except OSError as exc:
        raise PackageIndexError(
            f"the package index folder {folder}: cannot read {exc.filename or own}: "
            f"{exc.strerror or exc}"
        ) from None
    if not files:
        return None
    return "\n".join(f'<a href="{html.escape(f)}">{html.escape(f)}</a>' for f in sorted(files))


def _page_text(page: Path) -> str:
    raw = read_regular(page, _PAGE_BYTES + 1)
    if len(raw) > _PAGE_BYTES:
        raise PackageIndexError(
            f"the package index page {page} is over {_PAGE_BYTES} bytes: not a package page"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageIndexError(
            f"the package index page {page} is not UTF-8 text (byte {exc.start} is "
            f"0x{raw[exc.start]:02x}): fix or remove it"
        ) from None


def _project(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename)[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
