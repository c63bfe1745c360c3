"""The `updates:` section and the risk register: read at load, every mistake one ConfigError
naming the file, the key and what was expected; the CLI stops with exit 2 before anything runs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep.config import load_config
from upkeep.errors import ConfigError


def _load(tmp_path: Path, updates: str, register: str | None = None) -> object:
    (tmp_path / "upkeep.yml").write_text("version: 1\n" + textwrap.dedent(updates))
    if register is not None:
        (tmp_path / "risk-register.yml").write_text(textwrap.dedent(register))
    return load_config(tmp_path / "upkeep.yml")


def test_the_shipped_config_reviews_the_demo_lock_file_against_the_snapshot() -> None:
    config = load_config(REPO / "upkeep.yml")
    [target] = config.updates.python
    assert target.requirements == REPO / "demo" / "updates" / "requirements.lock"
    assert config.updates.advisory_dir == REPO / "demo" / "updates" / "advisories"
    assert config.updates.index_url == (REPO / "demo" / "updates" / "index").as_uri()
    [entry] = config.risk_register.entries
    assert config.risk_register.path == REPO / "risk-register.yml"
    assert (entry.package, entry.owner, entry.expires) == (
        "jinja2",
        "ops-oncall",
        date(2099, 12, 31),
    )


def test_without_a_section_or_register_nothing_is_reviewed_or_accepted(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert config.updates.python == ()  # type: ignore[attr-defined]
    assert config.risk_register.entries == () and config.risk_register.path is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ("updates: {python: [{name: a}]}", "updates.python[0]: expected exactly one of venv"),
        (
            "updates: {python: [{name: a, requirements: r.txt, venv: v}]}",
            "expected exactly one of venv",
        ),
        ("updates: {python: [{name: a, requirements: nope.txt}]}", "an existing requirements"),
        ("updates: {python: [{name: a, venv: nope}]}", "a virtualenv folder holding bin/python"),
        (
            "updates: {python: [{name: a, requirements: r.txt, smoke_command: 'true'}]}",
            "only a venv target is patched",
        ),
        (
            "updates: {python: [{name: a, requirements: r.txt}, {name: a, requirements: r.txt}]}",
            "name 'a' is used twice",
        ),
        ("updates: {advisory_dir: adv, osv_url: 'https://x/v1/query'}", "both set"),
        ("updates: {advisory_dir: nope}", "updates.advisory_dir: expected a folder of OSV"),
        ("updates: {osv_url: 'ftp://x'}", "updates.osv_url: expected an http:// or https://"),
        ("updates: {index_url: nope}", "updates.index_url: expected a simple index URL"),
        ("updates: {os: yum}", "updates.os: expected one of none, apt"),
        ("updates: {pyhton: []}", "updates.pyhton: unknown key"),
    ],
)
def test_updates_mistakes(tmp_path: Path, updates: str, message: str) -> None:
    (tmp_path / "r.txt").write_text("idna==3.10\n")
    (tmp_path / "adv").mkdir()
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, updates + "\n")
    assert message in str(caught.value)
    assert str(tmp_path / "upkeep.yml") in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://ci:hunter2PW@/simple", "https://ci:hunter2PW@pkgs.example:port/simple"]
)
def test_an_index_url_without_a_host_is_refused_without_its_password(
    tmp_path: Path, url: str
) -> None:
    # Accepted before: every lookup then failed, with the user and password sent to the
    # resolver as the host name.
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"updates: {{index_url: '{url}'}}\n")
    message = str(caught.value)
    assert "updates.index_url: expected a simple index URL with a host" in message
    assert "hunter2PW" not in message and "ci:" not in message


ENTRY = """\
entries:
  - id: GHSA-1
    package: idna
    reason: unreachable
    owner: ops
    approved_by: lead
"""


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (ENTRY, "entries[0].expires: required key is missing"),
        (ENTRY + "    expires: next year\n", "entries[0].expires: expected a date such as"),
        (
            ENTRY + "    expires: 2027-01-01\n    severity: low\n",
            "entries[0].severity: unknown key",
        ),
        (
            "entries:\n  - {id: X, package: idna, expires: 2027-01-01}\n",
            "entries[0].reason: required",
        ),
        (
            "entries:\n" + "  - {id: GHSA-1, package: idna, reason: r, expires: 2027-01-01}\n" * 2,
            "GHSA-1 for idna is listed twice",
        ),
        ("entries: {}\n", "entries: expected a list"),
    ],
)
def test_risk_register_mistakes(tmp_path: Path, register: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "", register)
    assert message in str(caught.value)
    assert str(tmp_path / "risk-register.yml") in str(caught.value)


def test_an_entry_without_owner_is_read_for_the_run_to_fail(tmp_path: Path) -> None:
    register = "entries:\n  - {id: X, package: idna, reason: r, expires: 2027-01-01}\n"
    config = _load(tmp_path, "", register)
    [entry] = config.risk_register.entries  # type: ignore[attr-defined]
    assert entry.owner is None and entry.approved_by is None


def test_a_malformed_register_stops_the_cli_with_exit_2(
    make_project: Callable[[str], Project],
) -> None:
    project = make_project("version: 1\nevidence_dir: evidence\nstate_dir: state\n")
    (project.root / "risk-register.yml").write_text("entries:\n  - id: X\n")
    result = project.upkeep_in_process("list")
    assert result.code == 2
    assert "risk-register.yml: entries[0].package: required key is missing" in result.text
