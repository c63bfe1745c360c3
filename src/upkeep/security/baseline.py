"""Responsible for the permission baseline: writing an inventory as byte-stable YAML (keys
sorted, one layout, no times), reading it back, and the drift between a baseline and a new
inventory (added, removed, changed), each drift keyed `drift:<part>:<key>` so that the same
drift is the same finding month after month."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from upkeep.atomic import file_mode, write_bytes
from upkeep.errors import UpkeepError
from upkeep.security.inventory import Inventory

__all__ = [
    "BASELINE_VERSION",
    "Drift",
    "BaselineError",
    "drift",
    "dump_inventory",
    "inventory_digest",
    "read_baseline",
    "write_baseline",
]

BASELINE_VERSION = 1
_HEADER = (
    "# The permission baseline of the security review: what this system's accounts, keys,\n"
    "# privileged files, ports and database roles are accepted to be. Written by\n"
    "# `upkeep baseline accept RUN_ID --by NAME --reason ...`; review changes like code.\n"
)


class BaselineError(UpkeepError):
    """The baseline file cannot be read or is not a baseline."""


@dataclass(frozen=True, order=True)
class Drift:
    """One difference from the baseline: `change` is added, removed or changed."""

    part: str
    item: str
    change: str
    before: str | None
    after: str | None

    @property
    def key(self) -> str:
        return f"drift:{self.part}:{self.item}"

    def describe(self) -> str:
        if self.change == "added":
            return f"{self.part}: new {self.item} ({self.after})"
        if self.change == "removed":
            return f"{self.part}: {self.item} is gone (was {self.before})"
        return f"{self.part}: {self.item} changed from {self.before} to {self.after}"


def dump_inventory(inventory: Inventory) -> bytes:
    """The inventory as the baseline's bytes: the same inventory always gives the same bytes."""
    body = {
        "version": BASELINE_VERSION,
        "inventory": {
            part: dict(sorted(items.items())) for part, items in sorted(inventory.items())
        },
    }
    text = yaml.safe_dump(
        body, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000
    )
    return (_HEADER + text).encode("utf-8")


def inventory_digest(inventory: Inventory) -> str:
    """The sha256 of the inventory's baseline bytes: names one inventory exactly."""
    return hashlib.sha256(dump_inventory(inventory)).hexdigest()


def read_baseline(path: Path) -> Inventory | None:
    """The inventory in the baseline file; None when there is no file yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    try:
        body = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise BaselineError(f"{path}: not valid YAML: {exc}") from None
    parts = body.get("inventory") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict)
        or body.get("version") != BASELINE_VERSION
        or not isinstance(parts, dict)
        or not all(isinstance(items, dict) for items in parts.values())
    ):
        raise BaselineError(
            f"{path}: expected a baseline (version: {BASELINE_VERSION}, inventory: a mapping of "
            "parts), as `upkeep baseline accept` writes it"
        )
    return {
        str(part): {str(k): str(v) for k, v in (items or {}).items()}
        for part, items in parts.items()
    }


def write_baseline(path: Path, inventory: Inventory) -> None:
    """Write the baseline atomically (a crash leaves the old file or the new one)."""
    write_bytes(path, dump_inventory(inventory), mode=file_mode())


def drift(baseline: Inventory, current: Inventory) -> list[Drift]:
    """Every difference, sorted by part and item. A part the baseline does not have is new
    as a whole; a part missing from `current` was not audited this time and is not drift."""
    found: list[Drift] = []
    for part, items in current.items():
        before = baseline.get(part, {})
        for item, value in items.items():
            if item not in before:
                found.append(Drift(part, item, "added", None, value))
            elif before[item] != value:
                found.append(Drift(part, item, "changed", before[item], value))
        for item, value in before.items():
            if item not in items:
                found.append(Drift(part, item, "removed", value, None))
    return sorted(found)
