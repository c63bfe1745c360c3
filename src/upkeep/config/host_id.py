"""Responsible for what a host id is: the name a host of a fleet carries in its runs' `run.json`
(`host_id:` in its upkeep.yml, `upkeep run --host`, the fleet file's `id:`), and the one rule
every place that reads one checks it against."""

from __future__ import annotations

import re

__all__ = ["HOST_ID_EXPECTED", "host_id_problem"]

# A DNS label, shorter than one: it names Airflow tasks and Kubernetes CronJobs as it is.
_HOST_ID = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
HOST_ID_EXPECTED = (
    "a host id: lowercase letters, digits and '-', at most 40 characters, "
    "starting and ending with a letter or digit"
)


def host_id_problem(value: str) -> str | None:
    """What is wrong with `value` as a host id, or None when it is one."""
    if _HOST_ID.fullmatch(value) and "--" not in value:
        return None
    return f"expected {HOST_ID_EXPECTED} (and no '--'), got {value!r}"
