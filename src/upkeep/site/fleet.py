"""Responsible for what the fleet pages show (`upkeep site build --fleet`): every host of a fleet
file with its runs read from its evidence source (its config's evidence folder, a folder the
fleet file names, or its evidence branch read out of git), each run verified as `upkeep verify`
does (`verify_with_cache`, one cache per host under the controller's state_dir), its anchor,
whether its scheduled runs happened, the newest run of each runbook, and the hosts in order,
worst first. A host whose evidence cannot be read is kept, with its problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from upkeep import evidence
from upkeep.config import Config
from upkeep.config.fleet import Fleet, LoadedHost, check_host_runbooks, load_fleet_hosts, read_fleet
from upkeep.coverage import Health, RunbookCoverage, account
from upkeep.errors import UpkeepError
from upkeep.evidence.anchor import Anchor, newest_anchor
from upkeep.evidence.branch_copy import read_branch
from upkeep.evidence.fleet_hosts import foreign_run_message
from upkeep.evidence.in_progress import runs_in_progress
from upkeep.registry import Registry
from upkeep.site.model import RunView, run_views
from upkeep.site.verification import verify_with_cache

FLEET_STATE = "site/fleet"  # under the controller's state_dir: one folder per host
CACHE_NAME = "verified-runs.json"
# How much a cell needs attention; a host ranks by its worst cell, after the hosts whose
# evidence cannot be read or does not verify.
NEVER_RUN_RANK = 5
UNVERIFIED_RANK = 20
UNREADABLE_RANK = 30


@dataclass(frozen=True)
class FleetCell:
    """One host × runbook: whether it applies, its newest run and its schedule health."""

    runbook: str
    applies: bool
    newest: RunView | None = None
    health: Health | None = None

    @property
    def rank(self) -> int:
        if not self.applies:
            return 0
        missed = 6 if self.health is not None and self.health.alarming else 0
        if self.newest is None:
            return max(NEVER_RUN_RANK, missed)
        # OK 0, SKIPPED 2, WARN 4, FAIL 6, ERROR 8; a run that does not verify above them all.
        status = 2 * self.newest.status.rank
        return max(status, missed, 0 if self.newest.verified else 10)


@dataclass(frozen=True)
class HostView:
    """One host as the fleet pages show it."""

    id: str
    config: Config
    source: str  # where its evidence was read, in words
    runbooks: tuple[str, ...]  # the ones that apply to it
    runs: tuple[RunView, ...] = ()  # newest first
    evidence_dir: Path | None = None  # the folder its runs were read from
    problem: str | None = None  # why its evidence cannot be read
    stray_problems: tuple[str, ...] = ()  # verify problems tied to no run
    anchor: Anchor | None = None
    coverage: dict[str, RunbookCoverage] = field(default_factory=dict)

    @property
    def problems(self) -> tuple[str, ...]:
        """Every verify problem of its evidence, those of runs first."""
        return tuple(p for run in self.runs for p in run.problems) + self.stray_problems

    @property
    def verified(self) -> bool:
        return self.problem is None and not self.problems

    def newest(self, runbook: str) -> RunView | None:
        return next((run for run in self.runs if run.runbook == runbook), None)

    def cell(self, runbook: str) -> FleetCell:
        if runbook not in self.runbooks:
            return FleetCell(runbook, applies=False)
        item = self.coverage.get(runbook)
        return FleetCell(runbook, True, self.newest(runbook), item.health if item else None)

    @property
    def rank(self) -> int:
        if self.problem is not None:
            return UNREADABLE_RANK
        if self.problems:
            return UNVERIFIED_RANK
        return max((self.cell(name).rank for name in self.runbooks), default=0)


@dataclass(frozen=True)
class FleetModel:
    """The fleet file's hosts, worst first then by id, and every runbook any of them has."""

    path: Path
    hosts: tuple[HostView, ...]
    runbooks: tuple[str, ...]


def worst_first(hosts: list[HostView]) -> tuple[HostView, ...]:
    return tuple(sorted(hosts, key=lambda host: (-host.rank, host.id)))


def read_fleet_hosts(fleet_path: Path) -> tuple[Fleet, list[tuple[LoadedHost, Registry | None]]]:
    """The fleet file and every host's config read and checked as `export airflow` checks them,
    a `runbooks:` entry naming a runbook the host does not have included: ConfigError (exit 2)
    otherwise, before anything is built. Each host with its runbooks (None: its runbooks folder
    cannot be read, which its row says)."""
    fleet = read_fleet(fleet_path)
    hosts = []
    for index, item in enumerate(load_fleet_hosts(fleet)):
        found = _registry(item.config)
        if found is not None:
            check_host_runbooks(fleet, index, item, [*found, *found.invalid])
        hosts.append((item, found))
    return fleet, hosts


def load_fleet_model(fleet_path: Path, state_dir: Path, at: datetime) -> FleetModel:
    """Every host of the fleet file read and verified; ConfigError when the fleet file or a
    host's config cannot be read (as `upkeep verify --fleet`)."""
    fleet, loaded = read_fleet_hosts(fleet_path)
    hosts = [
        load_host(item, runbooks, state_dir / FLEET_STATE / item.host.id, at)
        for item, runbooks in loaded
    ]
    runbooks = sorted({name for host in hosts for name in host.runbooks})
    return FleetModel(fleet.path, worst_first(hosts), tuple(runbooks))


def _registry(config: Config) -> Registry | None:
    """The host's runbooks, or None when its runbooks folder cannot be read (its row says so)."""
    from upkeep import registry

    try:
        return registry.discover(config.runbooks_dir, config.root)
    except (UpkeepError, OSError):
        return None


def load_host(item: LoadedHost, runbooks: Registry | None, state: Path, at: datetime) -> HostView:
    """One host's runs, verification, anchor and schedule health, read from its source."""
    host, config = item.host, item.config
    known = (*runbooks, *runbooks.invalid) if runbooks is not None else ()
    applying = host.runbooks if host.runbooks is not None else known
    view = HostView(host.id, config, _source_words(item), tuple(sorted(applying)))
    try:
        root, anchor = _evidence_root(item, state)
    except UpkeepError as exc:
        return replace(view, problem=str(exc))
    # Its own evidence folder with no ledger is a host that has not run yet; a copy or a
    # remote host's folder without one cannot stand for its evidence (`verify --fleet` agrees).
    if (problem := item.host.unreadable_evidence(root)) is not None:
        return replace(view, problem=problem)
    report = verify_with_cache(root, state / CACHE_NAME)
    store = evidence.EvidenceStore(root)
    entries = store.entries(strict=False)
    runs, strays = run_views(store, entries, report)
    # Runs another fleet host recorded (a copied or shared folder) do not verify as this host's.
    foreign = [
        foreign_run_message(run.run_id, run.record.host.id, item.host.id)
        for run in runs
        if run.record is not None and run.record.host.id not in ("", item.host.id)
    ]
    strays = (*strays, *foreign)
    coverage = {}
    if runbooks is not None:
        found = account(runbooks, entries, runs_in_progress(root), config, at)
        coverage = {c.runbook.name: c for c in found if c.runbook.name in applying}
    return replace(
        view,
        runs=tuple(_for_fleet(run) for run in reversed(runs)),
        evidence_dir=root,
        stray_problems=strays,
        anchor=anchor if anchor is not None else newest_anchor(root, config.evidence_git),
        coverage=coverage,
    )


def _evidence_root(item: LoadedHost, state: Path) -> tuple[Path, Anchor | None]:
    """The folder holding the host's ledger, and the anchor it was read from (a branch)."""
    source = item.host.evidence
    if source is None:
        return item.config.evidence_dir, None
    if source.git is None:
        assert source.folder is not None
        return source.folder, None
    return read_branch(source, state)


def _source_words(item: LoadedHost) -> str:
    source = item.host.evidence
    if source is None:
        return f"{item.config.evidence_dir} (its config's evidence_dir)"
    return source.describe()


def _for_fleet(run: RunView) -> RunView:
    """The run with only what the fleet pages show of its record: its runbook, status, time,
    waived checks and whether it was a dry run. Held whole, a record costs about 12 KB (its
    parameters, checks, metrics and findings), 15 MiB per host and year of runs, which put 200
    hosts' year at about 3 GiB (benchmarks/fleet_scale.py)."""
    record = run.record
    if record is None:
        return run
    slim = replace(
        record,
        parameters={},
        checks=tuple(check for check in record.checks if check.waived),
        metrics=(),
        findings=(),
        cleared=(),
        error=None,
        versions={},
        artifacts=None,
    )
    return replace(run, record=slim)
