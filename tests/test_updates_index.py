"""Newest versions from a simple index (a folder, a flat wheelhouse, an HTTP index on loopback,
one behind basic auth) and the kind of each update; a folder page that cannot be read."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from upkeep.updates.index import (
    PackageIndexError,
    available_updates,
    newest_version,
    versions_listed,
)
from upkeep.updates.model import Package, UpdateKind, update_kind

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("current", "latest", "kind"),
    [
        ("1.2.3", "1.2.4", UpdateKind.PATCH),
        ("1.2", "1.2.1", UpdateKind.PATCH),
        ("1.2.3", "1.3.0", UpdateKind.MINOR),
        ("3.10", "3.11", UpdateKind.MINOR),
        ("1.9.9", "2.0", UpdateKind.MAJOR),
        ("0.4.1", "0.5.0", UpdateKind.MAJOR),  # under 1.0 a minor step may break anything
        ("0.4.1", "0.4.2", UpdateKind.PATCH),
        ("2024.1", "2025.1", UpdateKind.MAJOR),
    ],
)
def test_update_kinds(current: str, latest: str, kind: UpdateKind) -> None:
    assert update_kind(current, latest) is kind


def test_a_page_lists_wheels_and_sdists_not_yanked_ones() -> None:
    page = """<a href="x/demo-1.0.tar.gz#sha256=1">demo-1.0.tar.gz</a>
    <a href="demo-1.1-py3-none-any.whl">demo-1.1-py3-none-any.whl</a>
    <a href="demo-1.2-py3-none-any.whl" data-yanked="broken">demo-1.2-py3-none-any.whl</a>
    <a href="notes.txt">notes.txt</a>"""
    assert [str(v) for v in versions_listed(page)] == ["1.0", "1.1"]


def test_the_demo_index_snapshot() -> None:
    index = (REPO / "demo" / "updates" / "index").as_uri()
    packages = [Package("Jinja2", "3.1.5"), Package("idna", "3.11"), Package("nothere", "1.0")]
    updates, unlisted = available_updates(index, packages)
    assert [(u.package, u.latest, u.kind) for u in updates] == [
        ("Jinja2", "3.1.6", UpdateKind.PATCH)
    ]
    assert unlisted == ["nothere"]


def test_a_flat_wheelhouse_and_pre_releases(tmp_path: Path) -> None:
    for name in (
        "demo-1.0-py3-none-any.whl",
        "demo-1.1-py3-none-any.whl",
        "demo-2.0rc1-py3-none-any.whl",
        "other-9.0-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    assert newest_version(tmp_path.as_uri(), "demo", "1.0") == "1.1"
    assert newest_version(tmp_path.as_uri(), "demo", "2.0b1") == "2.0rc1"
    assert newest_version(tmp_path.as_uri(), "absent", "1.0") is None


@pytest.fixture
def http_index(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "index.html").write_text(
        '<a href="demo-1.4.0-py3-none-any.whl">demo-1.4.0-py3-none-any.whl</a>'
    )
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_an_http_index(http_index: str) -> None:
    assert newest_version(http_index, "Demo", "1.0") == "1.4.0"
    assert newest_version(http_index, "absent", "1.0") is None  # a 404: not on the index


def test_an_index_that_does_not_answer_is_an_error_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/simple"
    with pytest.raises(PackageIndexError, match=f"could not reach the package index {url}"):
        newest_version(url, "demo", "1.0", timeout=5)


@pytest.fixture
def basic_auth_index() -> Iterator[tuple[int, list[str | None]]]:
    """An index on loopback that lists demo 1.4.0 only for user `ci`, password `s3cret/PW`;
    yields its port and the Authorization header of each request it got."""
    seen: list[str | None] = []
    expected = "Basic " + base64.b64encode(b"ci:s3cret/PW").decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if seen[-1] != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="index"')
                self.end_headers()
                return
            page = b'<a href="demo-1.4.0.tar.gz">demo-1.4.0.tar.gz</a>'
            if self.path != "/simple/demo/":
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


def test_credentials_in_the_url_are_sent_as_basic_auth(
    basic_auth_index: tuple[int, list[str | None]],
) -> None:
    # The user and password were handed to the resolver as part of the host name
    # ("ci:s3cret%2FPW@127.0.0.1"): the index got no request at all.
    port, seen = basic_auth_index
    url = f"http://ci:s3cret%2FPW@127.0.0.1:{port}/simple/"
    assert newest_version(url, "demo", "1.0") == "1.4.0"
    assert newest_version(url, "absent", "1.0") is None
    assert seen[0] is not None and len(seen) == 2


def test_refused_credentials_are_an_error_that_does_not_show_them(
    basic_auth_index: tuple[int, list[str | None]],
) -> None:
    port, _ = basic_auth_index
    url = f"http://ci:wrong-Pa55@127.0.0.1:{port}/simple"
    with pytest.raises(PackageIndexError) as caught:
        newest_version(url, "demo", "1.0")
    message = str(caught.value)
    assert f"the package index http://127.0.0.1:{port}/simple answered 401" in message
    assert "wrong-Pa55" not in message and "ci:" not in message


def test_a_folder_page_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    # It raised a bare UnicodeDecodeError, which ended the run and lost the audit.
    (tmp_path / "demo").mkdir()
    page = tmp_path / "demo" / "index.html"
    page.write_bytes(b"<a>\xff\xfe</a>")
    with pytest.raises(PackageIndexError, match=f"page {page} is not UTF-8 text"):
        newest_version(tmp_path.as_uri(), "demo", "1.0")
