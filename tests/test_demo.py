"""Tests for the upkeep.demo package itself: every public name is importable from it, from the
submodule that defines it, and loading it stays cheap."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from upkeep import demo

# The public names of upkeep/demo.py before it became a package (less its seed data: the first
# and last names and the roles), plus `prepared`; code outside the package uses them as `demo.X`.
PUBLIC = {
    "DEFECTS",
    "DEMO_HOST",
    "DEMO_VERSION",
    "EXACT_FOR_DAYS",
    "FRESH_FILES",
    "LOG_ERRORS",
    "LOG_ERROR_GROUPS",
    "LOG_WARNINGS",
    "MARKER",
    "OLD_FILES",
    "OLD_FILE_AGE_DAYS",
    "SCHEMA",
    "SEED",
    "Defect",
    "DemoError",
    "DemoService",
    "build_demo",
    "demo_is_built",
    "demo_settings",
    "free_port",
    "health_answers",
    "prepared",
    "serve_forever",
}


def test_every_public_name_resolves_to_the_object_its_submodule_defines() -> None:
    assert set(demo.__all__) == PUBLIC
    for module, names in demo._HOMES.items():
        home = importlib.import_module(f"upkeep.demo.{module}")
        for name in names:
            assert getattr(demo, name) is getattr(home, name), name
    assert sorted(demo._HOME_OF) == sorted(demo.__all__)
    assert set(demo.__all__) <= set(dir(demo))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'build_demos'"):
        _ = demo.build_demos


def test_importing_the_package_loads_no_submodule() -> None:
    probe = (
        "import sys, json, upkeep.demo;"
        " print(json.dumps(sorted(m for m in sys.modules if m.startswith('upkeep'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == ["upkeep", "upkeep.demo"]
