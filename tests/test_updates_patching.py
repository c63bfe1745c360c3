"""Minor patching of a real virtualenv from a wheelhouse of wheels built here (never an index on
the internet): a patch kept when the smoke command passes, a minor update rolled back to the
exact previous versions when it fails (a dependency it brought removed again), a major left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.wheels import build_wheel, installed, make_venv, pip_install

from upkeep.config.updates import PythonTarget
from upkeep.updates.index import available_updates
from upkeep.updates.model import Package, Update, UpdateKind
from upkeep.updates.patching import apply_patch_updates

pytestmark = pytest.mark.slow
SMOKE = "python -c \"import demo_lib, sys; sys.exit(3 if getattr(demo_lib, 'BROKEN', 0) else 0)\""


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(house, "demo_lib", "1.0.0")
    build_wheel(house, "demo_lib", "1.0.1")
    build_wheel(house, "demo_lib", "1.1.0", requires=("helper_lib",), body="BROKEN = 1\n")
    build_wheel(house, "demo_lib", "2.0.0")
    build_wheel(house, "helper_lib", "1.0")
    return house


@pytest.fixture
def venv(tmp_path: Path, wheelhouse: Path) -> Path:
    path = make_venv(tmp_path / "venv")
    pip_install(path, wheelhouse, "demo_lib==1.0.0")
    return path


def test_the_wheelhouse_offers_a_minor_and_a_major_update(wheelhouse: Path) -> None:
    updates, _ = available_updates(wheelhouse.as_uri(), [Package("demo-lib", "1.0.0")])
    assert [(u.latest, u.kind) for u in updates] == [
        ("1.1.0", UpdateKind.MINOR),
        ("2.0.0", UpdateKind.MAJOR),
    ]


def test_a_major_update_is_never_applied(venv: Path, wheelhouse: Path) -> None:
    target = PythonTarget("app", venv=venv, smoke_command=SMOKE)
    major = Update("demo_lib", "1.0.0", "2.0.0", UpdateKind.MAJOR)
    outcome = apply_patch_updates(target, [major], wheelhouse.as_uri())
    assert outcome.kept and outcome.applied == ()
    assert installed(venv)["demo-lib"] == "1.0.0"


def test_a_patch_that_passes_the_smoke_command_is_kept(venv: Path, wheelhouse: Path) -> None:
    target = PythonTarget("app", venv=venv, smoke_command=SMOKE)
    patch = Update("demo_lib", "1.0.0", "1.0.1", UpdateKind.PATCH)
    outcome = apply_patch_updates(target, [patch], wheelhouse.as_uri())
    assert outcome.kept and outcome.problem is None
    assert installed(venv)["demo-lib"] == "1.0.1"


def test_a_minor_update_that_fails_the_smoke_command_is_rolled_back(
    venv: Path, wheelhouse: Path
) -> None:
    before = installed(venv)
    target = PythonTarget("app", venv=venv, smoke_command=SMOKE)
    updates, _ = available_updates(wheelhouse.as_uri(), [Package("demo_lib", "1.0.0")])
    outcome = apply_patch_updates(target, updates, wheelhouse.as_uri())
    assert [(u.latest, u.kind) for u in outcome.applied] == [("1.1.0", UpdateKind.MINOR)]
    assert not outcome.kept and outcome.rolled_back
    assert "the smoke command" in (outcome.problem or "") and "exit 3" in (outcome.problem or "")
    assert installed(venv) == before  # demo_lib 1.0.0 again, helper_lib gone
    assert "helper-lib" not in installed(venv)


def test_a_failed_install_changes_nothing(venv: Path, wheelhouse: Path) -> None:
    before = installed(venv)
    target = PythonTarget("app", venv=venv, smoke_command=SMOKE)
    missing = Update("demo_lib", "1.0.0", "1.0.9", UpdateKind.PATCH)  # not in the wheelhouse
    outcome = apply_patch_updates(target, [missing], wheelhouse.as_uri())
    assert not outcome.kept and outcome.rolled_back
    assert "pip install demo_lib==1.0.9 failed" in (outcome.problem or "")
    assert installed(venv) == before


def test_a_simple_index_folder_is_used_as_the_index(
    venv: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    """A PEP 503 folder (one folder per package, each with its index.html) is pip's index."""
    index = tmp_path / "simple" / "demo-lib"
    index.mkdir(parents=True)
    for wheel in wheelhouse.glob("demo_lib-*.whl"):
        shutil.copy(wheel, index / wheel.name)
    links = "".join(f'<a href="{w.name}">{w.name}</a>' for w in sorted(index.glob("*.whl")))
    (index / "index.html").write_text(f"<html><body>{links}</body></html>")
    target = PythonTarget("app", venv=venv, smoke_command=SMOKE)
    patch = Update("demo_lib", "1.0.0", "1.0.1", UpdateKind.PATCH)
    outcome = apply_patch_updates(target, [patch], (tmp_path / "simple").as_uri())
    assert outcome.kept, outcome.problem
    assert installed(venv)["demo-lib"] == "1.0.1"
