"""External links checked against a real HTTP server on loopback (it stands in for the internet,
which the tests never reach): fine, broken, and the answers that must never be cached (429, 5xx)
or count as fine (no answer); the cache answers when the server is gone, until it is too old."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from upkeep import demo
from upkeep.docs_review.external_links import LinkState, check_links

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ANSWERS = {"/ok": 200, "/gone": 404, "/busy": 503, "/slow-down": 429, "/no-head": 200}


class _Handler(BaseHTTPRequestHandler):
    asked: list[tuple[str, str]] = []

    def _answer(self) -> None:
        self.asked.append((self.command, self.path))
        if self.path == "/no-head" and self.command == "HEAD":
            code = 405
        else:
            code = ANSWERS.get(self.path, 404)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Handler.asked = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _urls(httpd: ThreadingHTTPServer) -> dict[str, str]:
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    return {path: base + path for path in ANSWERS}


def test_links_are_fine_broken_or_unchecked_and_only_lasting_answers_are_cached(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    urls = _urls(server)
    closed = f"http://127.0.0.1:{demo.free_port()}/nobody-listens"
    cache = tmp_path / "state" / "links.json"
    results = {r.url: r for r in check_links([*urls.values(), closed], cache, NOW, 7)}
    assert results[urls["/ok"]].state is LinkState.FINE
    assert results[urls["/no-head"]].state is LinkState.FINE  # asked again with GET
    assert ("GET", "/no-head") in _Handler.asked
    assert results[urls["/gone"]].state is LinkState.BROKEN
    assert results[urls["/gone"]].detail == "HTTP 404"
    for path in ("/busy", "/slow-down"):
        assert results[urls[path]].state is LinkState.UNCHECKED, path
        assert "not cached" in results[urls[path]].detail
    assert results[closed].state is LinkState.UNCHECKED
    assert results[closed].detail.startswith("no answer")
    kept = json.loads(cache.read_text())
    assert set(kept) == {urls["/ok"], urls["/no-head"], urls["/gone"]}


def test_the_cache_answers_while_fresh_and_never_says_fine_without_an_answer(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    urls = _urls(server)
    cache = tmp_path / "links.json"
    check_links(urls.values(), cache, NOW, 7)
    server.shutdown()
    server.server_close()

    later = {r.url: r for r in check_links(urls.values(), cache, NOW + timedelta(days=6), 7)}
    assert later[urls["/ok"]].state is LinkState.FINE and later[urls["/ok"]].cached
    assert later[urls["/gone"]].state is LinkState.BROKEN and later[urls["/gone"]].cached
    assert later[urls["/busy"]].state is LinkState.UNCHECKED  # never cached, so asked: no answer

    too_old = {r.url: r for r in check_links(urls.values(), cache, NOW + timedelta(days=8), 7)}
    assert {r.state for r in too_old.values()} == {LinkState.UNCHECKED}


def test_offline_every_link_is_unchecked_and_nothing_is_asked(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    results = check_links(_urls(server).values(), tmp_path / "links.json", NOW, 7, online=False)
    assert {r.state for r in results} == {LinkState.UNCHECKED}
    assert _Handler.asked == []
    assert not (tmp_path / "links.json").exists()


def test_a_cached_answer_that_should_not_have_been_kept_is_ignored(
    tmp_path: Path, server: ThreadingHTTPServer
) -> None:
    urls = _urls(server)
    cache = tmp_path / "links.json"
    planted = {"status": 200, "checked_at": NOW.isoformat()}
    cache.write_text(json.dumps({urls["/busy"]: {**planted, "status": 503}, "x": "junk"}))
    [result] = check_links([urls["/busy"]], cache, NOW, 7)
    assert result.state is LinkState.UNCHECKED and not result.cached
    assert ("HEAD", "/busy") in _Handler.asked
