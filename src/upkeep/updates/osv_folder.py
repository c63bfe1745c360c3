"""Responsible for serving a folder of OSV advisory records to pip-audit: a small OSV query API
(`POST /v1/query`, OSV's own request and answer) on loopback, answering from the records alone,
so that pip-audit's real client audits against a snapshot or a mirror without the internet."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["AdvisoryFolder", "AdvisoryFolderError", "serve_advisories"]

QUERY_PATH = "/v1/query"


class AdvisoryFolderError(Exception):
    """The advisory folder cannot be read, or holds a file that is not an OSV record."""


@dataclass(frozen=True)
class AdvisoryFolder:
    """The OSV records of a folder (`*.json`, one record each), by canonical PyPI name."""

    path: Path
    by_package: dict[str, tuple[dict[str, Any], ...]]

    @classmethod
    def read(cls, path: Path) -> AdvisoryFolder:
        by_package: dict[str, list[dict[str, Any]]] = {}
        try:
            files = sorted(path.rglob("*.json"))
        except OSError as exc:
            raise AdvisoryFolderError(f"{path}: cannot read the advisory folder: {exc}") from None
        for file in files:
            try:
                record = json.loads(file.read_text(encoding="utf-8"))
                names = {
                    str(canonicalize_name(affected["package"]["name"]))
                    for affected in record["affected"]
                    if affected["package"]["ecosystem"] == "PyPI"
                }
                record["id"]  # noqa: B018  # every OSV record has one
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise AdvisoryFolderError(
                    f"{file}: not an OSV advisory record ({type(exc).__name__}: {exc})"
                ) from None
            for name in names:
                by_package.setdefault(name, []).append(record)
        return cls(path, {name: tuple(records) for name, records in by_package.items()})

    def query(self, name: str, version: str) -> list[dict[str, Any]]:
        """The records affecting PyPI package `name` at `version`."""
        canonical = str(canonicalize_name(name))
        return [
            record
            for record in self.by_package.get(canonical, ())
            if not record.get("withdrawn") and _affects(record, canonical, version)
        ]


def _affects(record: dict[str, Any], name: str, version: str) -> bool:
    for affected in record["affected"]:
        package = affected["package"]
        if package["ecosystem"] != "PyPI" or canonicalize_name(package["name"]) != name:
            continue
        if version in affected.get("versions", ()):
            return True
        for ranges in affected.get("ranges", ()):
            if ranges.get("type") == "ECOSYSTEM" and _in_range(ranges["events"], version):
                return True
    return False


def _in_range(events: list[dict[str, str]], version: str) -> bool:
    """OSV's ECOSYSTEM range: affected from each `introduced` up to (not including) the next
    `fixed`, or up to and including the next `last_affected`; to the end when neither follows."""
    try:
        at = Version(version)
        start: str | None = None
        for event in events:
            if "introduced" in event:
                start = event["introduced"]
            elif start is not None and ("fixed" in event or "last_affected" in event):
                if _from(start, at) and (
                    at < Version(event["fixed"])
                    if "fixed" in event
                    else at <= Version(event["last_affected"])
                ):
                    return True
                start = None
        return start is not None and _from(start, at)
    except InvalidVersion:
        return False


def _from(introduced: str, at: Version) -> bool:
    return introduced == "0" or at >= Version(introduced)


class _QueryHandler(BaseHTTPRequestHandler):
    folder: AdvisoryFolder

    def do_POST(self) -> None:  # noqa: N802  # the name http.server calls
        if self.path != QUERY_PATH:
            self.send_error(404)
            return
        try:
            query = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            name, version = query["package"]["name"], query["version"]
        except (ValueError, KeyError, TypeError):
            self.send_error(400, "expected an OSV query: package.name and version")
            return
        vulns = self.folder.query(name, version)
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one line per package on stderr would drown the notebook


@contextmanager
def serve_advisories(folder: AdvisoryFolder) -> Iterator[str]:
    """Serve `folder` on a free loopback port while the block runs; yields the query URL."""
    handler = type("FolderQueryHandler", (_QueryHandler,), {"folder": folder})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="osv-folder", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{QUERY_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
