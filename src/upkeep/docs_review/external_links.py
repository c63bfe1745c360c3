"""Responsible for the site's external links: each checked with one HTTP request when the network
answers, the answers kept in a persistent cache (a JSON file) for `cache_days`; an answer that
may change soon (429 Too Many Requests, any 5xx) and a request that got no answer at all (no
network, no name resolution, a timeout) are never cached and leave the link *unchecked*, never
fine."""

from __future__ import annotations

import enum
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from upkeep import atomic

TIMEOUT_S = 5.0
WORKERS = 8
USER_AGENT = "upkeep-documentation-review (link check)"


class LinkState(enum.StrEnum):
    FINE = "fine"
    BROKEN = "broken"
    UNCHECKED = "unchecked"


@dataclass(frozen=True)
class LinkResult:
    url: str
    state: LinkState
    detail: str  # "HTTP 200", "HTTP 404", "no answer: <reason>", "HTTP 503 (not cached)"
    cached: bool = False  # the answer came from the cache


def check_links(
    urls: Iterable[str], cache_path: Path, at: datetime, cache_days: int, *, online: bool = True
) -> list[LinkResult]:
    """Each URL's state: from the cache when its answer is younger than `cache_days`, else asked
    (when `online`); the cache file is rewritten with the answers worth keeping."""
    cache = _load(cache_path)
    fresh_after = at - timedelta(days=cache_days)
    results: dict[str, LinkResult] = {}
    to_ask = []
    for url in sorted(set(urls)):
        kept = cache.get(url)
        if kept is not None and datetime.fromisoformat(kept["checked_at"]) >= fresh_after:
            results[url] = _from_status(url, kept["status"], cached=True)
        elif online:
            to_ask.append(url)
        else:
            results[url] = LinkResult(url, LinkState.UNCHECKED, "not asked: checking is off")
    if to_ask:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for url, status, detail in pool.map(_ask, to_ask):
                if status is None or not _cacheable(status):
                    results[url] = LinkResult(url, LinkState.UNCHECKED, detail)
                    continue
                cache[url] = {"status": status, "checked_at": at.isoformat()}
                results[url] = _from_status(url, status)
        _save(cache_path, cache)
    return [results[url] for url in sorted(results)]


def _cacheable(status: int) -> bool:
    return status != 429 and status < 500


def _from_status(url: str, status: int, *, cached: bool = False) -> LinkResult:
    state = LinkState.FINE if status < 400 else LinkState.BROKEN
    return LinkResult(url, state, f"HTTP {status}", cached)


def _ask(url: str) -> tuple[str, int | None, str]:
    """(url, the HTTP status, what happened): HEAD first, GET when a server refuses HEAD."""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return url, answer.status, f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue
            if not _cacheable(exc.code):
                return url, exc.code, f"HTTP {exc.code} (may pass later: not cached)"
            return url, exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return url, None, f"no answer: {reason}"
    return url, None, "no answer"


def _load(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no cache yet, or one that cannot be read: ask again
    if not isinstance(data, dict):
        return {}
    return {
        url: entry
        for url, entry in data.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("status"), int)
        and _cacheable(entry["status"])
        and isinstance(entry.get("checked_at"), str)
    }


def _save(path: Path, cache: dict[str, dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, cache)
