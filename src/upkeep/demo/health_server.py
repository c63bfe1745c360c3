"""Responsible for the demo system's tiny HTTP server, run as a process of its own.

`python -m upkeep.demo.health_server --port 8765 [--host 127.0.0.1] [--database FILE]` serves
`GET /health` with `{"status": "ok", "uptime_s": ...}`; with `--database` (the disaster drill's
failover onto a restored copy) it is healthy only while it can read that SQLite file's schema,
and says how many tables it holds, else 503; every other path or method answers 404. It logs
nothing per request: the health check polls it and the noise would bury anything worth reading.
It imports nothing of upkeep beyond the standard library, so it starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class HealthServer(ThreadingHTTPServer):
    """A threading HTTP server that remembers when it started, for `uptime_s`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], database: str | None = None) -> None:
        super().__init__(address, HealthHandler)
        self.started = time.monotonic()
        self.database = database

    def database_tables(self) -> int | None:
        """Tables in the served database file (None: it cannot be read); -1 without one."""
        if self.database is None:
            return -1
        try:
            uri = f"{Path(self.database).resolve().as_uri()}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1)) as connection:
                return connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        except sqlite3.Error:
            return None


class HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer
    server_version = "upkeep-demo/1"

    def do_GET(self) -> None:  # noqa: N802 (name fixed by http.server)
        if self.path.split("?", 1)[0] == "/health":
            uptime = round(time.monotonic() - self.server.started, 3)
            tables = self.server.database_tables()
            if tables is None:
                self._send_json(503, {"status": "database unreadable", "uptime_s": uptime})
            elif tables < 0:
                self._send_json(200, {"status": "ok", "uptime_s": uptime})
            else:
                self._send_json(200, {"status": "ok", "uptime_s": uptime, "tables": tables})
        else:
            self._not_found()

    def _not_found(self) -> None:
        self._send_json(404, {"status": "not found", "path": self.path})

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_found

    def _send_json(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, database: str | None = None) -> None:
    """Serve until interrupted (Ctrl-C)."""
    with HealthServer((host, port), database) as server, contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _exit_on_eof() -> None:
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m upkeep.demo.health_server", description=__doc__
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--database", help="a SQLite file /health must be able to read")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when stdin closes (the parent that started us ended, even if it was killed)",
    )
    args = parser.parse_args(argv)
    if args.exit_with_stdin:
        threading.Thread(target=_exit_on_eof, daemon=True).start()
    # SIGTERM (how DemoService stops us) closes the socket cleanly, like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        serve(args.host, args.port, args.database)
    except OSError as exc:
        parser.exit(2, f"cannot listen on {args.host}:{args.port}: {exc.strerror}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
