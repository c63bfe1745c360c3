"""Responsible for the embedded demo system, a small real system for the runbooks to maintain:
`build` writes it under `config.demo.root` (the `database` with its deliberate `DEFECTS`, the
`logs`, the temp and cache `trees`), `service` runs its HTTP health service (`health_server`, a
process of its own), `prepare` gets both ready for a run, `settings` reads its config section.
Every public name is importable from here; a submodule loads on first use of one of its names,
so that `python -m upkeep.demo.health_server` starts without loading the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from upkeep.demo.build import DEMO_VERSION, MARKER, SEED, build_demo, demo_is_built
    from upkeep.demo.database import DEFECTS, EXACT_FOR_DAYS, SCHEMA, Defect
    from upkeep.demo.logs import LOG_ERROR_GROUPS, LOG_ERRORS, LOG_WARNINGS
    from upkeep.demo.prepare import prepared
    from upkeep.demo.service import (
        DEMO_HOST,
        DemoService,
        free_port,
        health_answers,
        serve_forever,
    )
    from upkeep.demo.settings import DemoError, demo_settings
    from upkeep.demo.trees import FRESH_FILES, OLD_FILE_AGE_DAYS, OLD_FILES

__all__ = [
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
]

# The submodule that defines each public name.
_HOMES = {
    "build": ("DEMO_VERSION", "MARKER", "SEED", "build_demo", "demo_is_built"),
    "database": ("DEFECTS", "EXACT_FOR_DAYS", "SCHEMA", "Defect"),
    "logs": ("LOG_ERRORS", "LOG_ERROR_GROUPS", "LOG_WARNINGS"),
    "prepare": ("prepared",),
    "service": ("DEMO_HOST", "DemoService", "free_port", "health_answers", "serve_forever"),
    "settings": ("DemoError", "demo_settings"),
    "trees": ("FRESH_FILES", "OLD_FILES", "OLD_FILE_AGE_DAYS"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
