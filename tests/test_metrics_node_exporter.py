"""The textfile as Prometheus gets it: a real `upkeep run` writes it, Debian's node_exporter
(its textfile collector only) serves it on a loopback port, and a scrape holds upkeep's samples
and no scrape error. Under CI=true node_exporter must be there: .ci/run installs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project
from prometheus_client.parser import text_string_to_metric_families

from upkeep import demo

pytestmark = pytest.mark.slow


def node_exporter() -> str:
    path = shutil.which("prometheus-node-exporter")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("node_exporter is missing under CI=true: .ci/run installs it")
        pytest.skip("apt-get install prometheus-node-exporter")
    return path


@contextmanager
def serving(textfile_dir: Path) -> Iterator[str]:
    """node_exporter with only its textfile collector, on a free loopback port: its URL."""
    port = demo.free_port()
    process = subprocess.Popen(
        [
            node_exporter(),
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={textfile_dir}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    why = process.stderr.read() if process.poll() is not None else "no answer"
                    raise AssertionError(f"node_exporter did not start: {why}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_node_exporter_serves_what_the_run_wrote(make_project: Callable[[str], Project]) -> None:
    project = make_project("""\
        version: 1
        state_dir: state
        metrics: {textfile: textfiles/upkeep.prom}
    """)
    project.add_runbook(
        "tiny", [CHECK_OK, ("code", "report.metric('queue-depth', 4, labels={'queue': 'mail'})")]
    )
    assert project.upkeep("run", "tiny").code == 0
    with serving(project.root / "textfiles") as url, urllib.request.urlopen(url) as response:
        scraped = response.read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert samples[("node_textfile_scrape_error", ())] == 0
    assert samples[("upkeep_runbook_last_status", (("runbook", "tiny"), ("status", "ok")))] == 1
    queue = ("upkeep_runbook_metric_queue_depth", (("queue", "mail"), ("runbook", "tiny")))
    assert samples[queue] == 4
    mtime = [v for (name, _), v in samples.items() if name == "node_textfile_mtime_seconds"]
    assert mtime and abs(mtime[0] - time.time()) < 300
