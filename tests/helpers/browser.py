"""Test helper: Debian's Chromium driven by Playwright, and a local HTTP server for a built site.

Every request the browser makes is recorded and any that would leave the machine is aborted, so
a test can assert that the site needs nothing but 127.0.0.1; console errors and uncaught page
errors are recorded too. Under CI=true a missing Chromium or Playwright fails; elsewhere the
tests skip and say why.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Schemes whose requests never reach a network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
TIMEOUT_MS = 15_000


def require_browser() -> None:
    """Skip (fail under CI=true) unless Playwright is importable and Debian's Chromium exists."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright (pip install playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not missing:
        return
    reason = "browser tests need " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: a missing browser is a failure)")
    pytest.skip(reason)


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` over HTTP on 127.0.0.1 from a thread; yield the base URL (no trailing /)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Traffic:
    """What the browser did: every request URL, console errors and uncaught page errors."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def outside(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors

    def clear(self) -> None:
        self.requests.clear()
        self.console_errors.clear()
        self.page_errors.clear()


@dataclass
class Browser:
    """One browser with a fresh profile; `traffic` records everything its pages do."""

    context: BrowserContext
    traffic: Traffic

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        return page

    def new_watched_page(self) -> tuple[Page, Traffic]:
        """A new tab and a record of what it alone does (`traffic` records every tab's too)."""
        page, traffic = self.new_page(), Traffic()
        page.on("request", lambda request: traffic.requests.append(request.url))
        page.on("console", lambda message: _console(traffic, message))
        page.on("pageerror", lambda error: traffic.page_errors.append(str(error)))
        return page, traffic


def _console(traffic: Traffic, message: ConsoleMessage) -> None:
    if message.type == "error":
        where = message.location or {}
        traffic.console_errors.append(f"{message.text} ({where.get('url', '?')})")


@contextmanager
def chromium(profile: Path) -> Iterator[Browser]:
    """Launch Debian's Chromium headless with a fresh user data dir under `profile`."""
    from playwright.sync_api import sync_playwright

    traffic = Traffic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            context.on("request", lambda request: traffic.requests.append(request.url))
            context.on("console", lambda message: _console(traffic, message))
            context.on("weberror", lambda error: traffic.page_errors.append(str(error.error)))
            # Anything that would leave the machine is recorded above, then never sent.
            context.route(lambda url: not is_local(url), lambda route: route.abort())
            yield Browser(context, traffic)
        finally:
            context.close()
