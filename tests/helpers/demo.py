"""The embedded demo for tests: its config on a chosen port, and its HTTP service kept up on a
free port while a module's tests run."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from upkeep import demo
from upkeep.config import Config, load_config


def demo_config(port: int, *, worker: bool = False) -> str:
    """An upkeep.yml for the embedded demo on `port`, with load limits a busy machine always
    meets; `worker` adds the process probe that finds the demo service by its command line."""
    process = (
        "  - name: worker\n"
        "    kind: process\n"
        f'    process: "upkeep.demo.health_server --host 127.0.0.1 --port {port}"\n'
        if worker
        else ""
    )
    return (
        textwrap.dedent(f"""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        demo: {{root: var/demo, http_port: {port}}}
        services:
          - {{name: web, kind: http, url: "http://127.0.0.1:{port}/health", timeout_s: 2}}
          - {{name: web-port, kind: tcp, host: 127.0.0.1, port: {port}, timeout_s: 2}}
        """)
        + process
        + textwrap.dedent("""\
        logs:
          - {name: app, path: var/demo/logs/app.log, first_scan: whole}
          - {name: worker, path: var/demo/logs/worker.log, first_scan: whole}
        mounts:
          - {path: var/demo}
        thresholds:
          cpu_percent: {warn: 101, fail: 101}
          load_per_cpu: {warn: 1000, fail: 1000}
          memory_percent: {warn: 101, fail: 101}
          disk_percent: {warn: 99.9, fail: 100}
        """)
    )


def load_demo_config(directory: Path, port: int, *, worker: bool = False) -> Config:
    """`demo_config` written to `directory/upkeep.yml` and loaded."""
    (directory / "upkeep.yml").write_text(demo_config(port, worker=worker))
    return load_config(directory / "upkeep.yml")


@contextmanager
def serving_demo(directory: Path) -> Iterator[int]:
    """The demo's HTTP health service up on a free port (the demo itself is not built);
    yields the port."""
    port = demo.free_port()
    (directory / "upkeep.yml").write_text(f"version: 1\ndemo:\n  root: d\n  http_port: {port}\n")
    with demo.DemoService(load_config(directory / "upkeep.yml")):
        yield port
