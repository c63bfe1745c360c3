"""Fixtures every test module may use; the helpers behind them live in `tests/helpers/`."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.demo import serving_demo
from helpers.pg_cluster import postgres_server  # noqa: F401  (a session fixture)
from helpers.project import Project


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the CLIs the tests start even when the suite itself was started in the
    background by a shell without job control, which starts it with SIGINT ignored: an ignored
    signal stays ignored across exec, and Python then never raises KeyboardInterrupt. A handled
    one is reset to the default in the child."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `airflow` need the Airflow virtualenv `nox -s airflow` makes ($UPKEEP_AIRFLOW,
    its `airflow` executable): without it they are deselected, so the default suite needs no
    Airflow; with it, a test that cannot run Airflow fails."""
    if os.environ.get("UPKEEP_AIRFLOW"):
        return
    deselected = [item for item in items if item.get_closest_marker("airflow") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.get_closest_marker("airflow") is None]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project with no demo system: a config, an empty runbooks dir, evidence in tmp."""
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: state
        runbooks_dir: runbooks
        defaults:
          timeout_s: 120
          jobs: 2
    """)
    )
    return Project(tmp_path)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    """A project whose upkeep.yml the test writes."""

    def make(config_text: str) -> Project:
        (tmp_path / "runbooks").mkdir(exist_ok=True)
        (tmp_path / "upkeep.yml").write_text(textwrap.dedent(config_text))
        return Project(tmp_path)

    return make


@pytest.fixture(scope="module")
def demo_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The demo's HTTP health service, up on a free port for the module's tests."""
    with serving_demo(tmp_path_factory.mktemp("svc")) as port:
        yield port
