"""Responsible for the fleet file (`fleet.yml`): the hosts an organisation's plan covers, each
with its own `upkeep.yml` (so its own evidence folder and ledger), the Airflow worker queue or
SSH connection its runs go through, the runbooks that apply to it, and where the controller
reads its evidence (`evidence:`, a folder or a git evidence branch); groups give several hosts
the same settings. Read and checked here, with a `ConfigError` naming the file, the field
and what was expected; what each host's own config says is read by `load_fleet_hosts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from upkeep.config.evidence_git import EvidenceGit, plain_branch
from upkeep.config.host_id import host_id_problem
from upkeep.config.reader import Section, parse_document, resolved
from upkeep.errors import ConfigError
from upkeep.regular_file import read_regular

if TYPE_CHECKING:
    from upkeep.config.model import Config

__all__ = [
    "EvidenceSource",
    "Fleet",
    "FleetGroup",
    "FleetHost",
    "LoadedHost",
    "check_host_runbooks",
    "load_fleet_hosts",
    "read_fleet",
]

DEFAULT_FLEET_NAME = "fleet.yml"


@dataclass(frozen=True)
class FleetGroup:
    """Settings shared by the hosts that name the group; a host's own value wins."""

    id: str
    queue: str | None = None
    ssh_conn_id: str | None = None
    command: str | None = None
    runbooks: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EvidenceSource:
    """Where the controller reads a host's evidence (`evidence:` of its fleet entry): a folder
    on this machine, or the evidence branch `upkeep evidence commit` writes in a git repository
    (`git` set, `folder` None)."""

    folder: Path | None = None
    git: Path | None = None
    branch: str = EvidenceGit.branch

    def describe(self) -> str:
        if self.git is not None:
            return f"branch {self.branch} of {self.git}"
        return str(self.folder)


@dataclass(frozen=True)
class FleetHost:
    """One host: `config` is its upkeep.yml (on the worker that runs its tasks, at the same
    path); `queue` the Airflow worker queue its tasks go to; `ssh_conn_id` the Airflow SSH
    connection its tasks run over instead; `command` the upkeep executable there; `runbooks`
    the ones that apply to it (None: every runbook of its config); `evidence` where the
    controller reads its evidence (None: its config's evidence_dir)."""

    id: str
    config: Path
    group: str | None = None
    queue: str | None = None
    ssh_conn_id: str | None = None
    command: str | None = None
    runbooks: tuple[str, ...] | None = None
    evidence: EvidenceSource | None = None

    def unreadable_evidence(self, root: Path) -> str | None:
        """Why `root`, where its evidence was looked for, cannot stand for it: no ledger in a
        folder its `evidence:` names, or in a remote host's path here. None when there is a
        ledger, or when it is the host's own folder here with none yet (no run yet)."""
        from upkeep.evidence.layout import LEDGER

        if (root / LEDGER).is_file() or (self.evidence is None and self.ssh_conn_id is None):
            return None
        if self.evidence is None:
            return (
                f"its evidence is on that host (over SSH), not here: {root} holds no ledger; "
                "name where this machine can read it with evidence: in the fleet file"
            )
        return f"no evidence at {root}: no {LEDGER} there (another folder, or not copied yet)"


@dataclass(frozen=True)
class Fleet:
    path: Path
    hosts: tuple[FleetHost, ...]
    groups: tuple[FleetGroup, ...] = ()


def read_fleet(path: Path) -> Fleet:
    """The fleet file at `path`, every field checked; ConfigError (exit 2) otherwise."""
    path = resolved(path, "fleet file")
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: fleet file not found (pass --fleet FILE)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the fleet file: {exc.strerror}") from None
    top = Section(parse_document(raw, path), "", path)
    version = top.int("version", 1)
    if version != 1:
        top.fail("version", "1", version)
    groups = top.items("groups", _group)
    _unique(path, "groups", [group.id for group in groups])
    by_id = {group.id: group for group in groups}
    hosts = top.items("hosts", lambda section: _host(section, path.parent, by_id))
    top.done()
    if not hosts:
        raise ConfigError(f"{path}: hosts: expected a list of at least one host, got none")
    _unique(path, "hosts", [host.id for host in hosts])
    return Fleet(path, hosts, groups)


def _group(section: Section) -> FleetGroup:
    group = FleetGroup(
        id=_id(section),
        queue=section.str("queue", None),
        ssh_conn_id=section.str("ssh_conn_id", None),
        command=section.str("command", None),
        runbooks=_runbooks(section),
    )
    section.done()
    return group


def _host(section: Section, base: Path, groups: dict[str, FleetGroup]) -> FleetHost:
    host_id = _id(section)
    config = section.path("config", base)
    group_id = section.str("group", None)
    group = FleetGroup(id="")
    if group_id is not None:
        if group_id not in groups:
            known = ", ".join(groups) or "(none defined under groups:)"
            section.fail("group", f"one of the groups: {known}", group_id)
        group = groups[group_id]
    queue = section.str("queue", None)
    ssh_conn_id = section.str("ssh_conn_id", None)
    command = section.str("command", None)
    runbooks = _runbooks(section)
    evidence = _evidence(section, base)
    section.done()
    return FleetHost(
        id=host_id,
        config=config,
        group=group_id,
        queue=queue or group.queue,
        ssh_conn_id=ssh_conn_id or group.ssh_conn_id,
        command=command or group.command,
        runbooks=runbooks if runbooks is not None else group.runbooks,
        evidence=evidence,
    )


def _evidence(section: Section, base: Path) -> EvidenceSource | None:
    """`evidence: FOLDER` or `evidence: {git: REPOSITORY, branch: NAME}`, relative to the fleet
    file; whether it can be read is the site's to say (a host is shown with its problem)."""
    value = section.data.get("evidence")
    if value is None:
        section.data.pop("evidence", None)
        return None
    if isinstance(value, str):
        return EvidenceSource(folder=section.path("evidence", base))
    if not isinstance(value, dict):
        section.fail(
            "evidence",
            "a folder, or a mapping {git: REPOSITORY, branch: NAME} naming an evidence branch",
            value,
        )
    source = section.section("evidence")
    assert source is not None
    branch = source.str("branch", EvidenceGit.branch)
    if not plain_branch(branch):
        source.fail("branch", "a plain git branch name such as evidence", branch)
    found = EvidenceSource(git=source.path("git", base), branch=branch)
    source.done()
    return found


def _id(section: Section) -> str:
    value = section.str("id")
    if (problem := host_id_problem(value)) is not None:
        raise ConfigError(f"{section.file}: {section.where}.id: {problem}")
    return value


def _runbooks(section: Section) -> tuple[str, ...] | None:
    runbooks = section.strings("runbooks", None)
    if runbooks is not None and not runbooks:
        section.fail("runbooks", "a non-empty list of runbook names (leave it out for all)", [])
    return runbooks


def _unique(path: Path, key: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise ConfigError(
                f"{path}: {key}[{index}].id: {value!r} is given twice; expected each id once"
            )
        seen.add(value)


@dataclass(frozen=True)
class LoadedHost:
    """A fleet host with its own config read."""

    host: FleetHost
    config: Config


def load_fleet_hosts(fleet: Fleet) -> list[LoadedHost]:
    """Every host's own upkeep.yml loaded and checked against the fleet: its `host_id:`, when
    it sets one, is the host's id; two hosts that run on the same machine (not over SSH) keep
    two evidence folders, so that each has its own ledger and its own locks."""
    from upkeep.config.load import load_config

    loaded: list[LoadedHost] = []
    for index, host in enumerate(fleet.hosts):
        where = f"{fleet.path}: hosts[{index}]"
        try:
            config = load_config(host.config)
        except ConfigError as exc:
            raise ConfigError(f"{where}.config: host {host.id!r}: {exc}") from None
        if config.host_id is not None and config.host_id != host.id:
            raise ConfigError(
                f"{where}.id: {host.id!r} but its config {config.path} says host_id: "
                f"{config.host_id}; expected the same id in both"
            )
        loaded.append(LoadedHost(host, config))
    _own_evidence(fleet, loaded)
    return loaded


def check_host_runbooks(fleet: Fleet, index: int, loaded: LoadedHost, known: list[str]) -> None:
    """ConfigError (exit 2) when the host's `runbooks:` names one its config does not have
    (`known`: every runbook its registry found, loadable or not)."""
    host = loaded.host
    for name in host.runbooks or ():
        if name not in known:
            raise ConfigError(
                f"{fleet.path}: hosts[{index}].runbooks: {name!r} is not a runbook of host "
                f"{host.id!r} ({loaded.config.path}); expected one of "
                f"{', '.join(sorted(known)) or '(none)'}"
            )


def _own_evidence(fleet: Fleet, loaded: list[LoadedHost]) -> None:
    local: dict[Path, str] = {}
    for index, item in enumerate(loaded):
        if item.host.ssh_conn_id is not None:
            continue  # on its own machine: the same path there is another folder
        other = local.setdefault(item.config.evidence_dir, item.host.id)
        if other != item.host.id:
            raise ConfigError(
                f"{fleet.path}: hosts[{index}].config: host {item.host.id!r} keeps its evidence "
                f"in {item.config.evidence_dir}, as host {other!r} does; expected an "
                "evidence_dir of its own (one ledger per host)"
            )
