"""The `backup:` section: counts of each age within bounds, and a policy that keeps at least one
backup, refused at load (exit 2 from the command line, nothing run) otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.config import load_config
from upkeep.errors import ConfigError


def _load(tmp_path: Path, backup: str):
    path = tmp_path / "upkeep.yml"
    path.write_text(f"backup: {{dir: backups, {backup}}}\n")
    return load_config(path)


def test_counts_are_read_and_one_of_them_may_be_all_that_is_kept(tmp_path: Path) -> None:
    policy = _load(tmp_path, "keep_daily: 0, keep_weekly: 0, keep_monthly: 1").backup
    assert (policy.keep_daily, policy.keep_weekly, policy.keep_monthly) == (0, 0, 1)
    assert policy.dir == tmp_path / "backups"


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        ("keep_daily: -3", "backup.keep_daily: expected an integer from 0 to 36600, got -3 (int)"),
        ("keep_weekly: 10000", "backup.keep_weekly: expected an integer from 0 to 5220, got 10000"),
        ("keep_monthly: 1.5", "backup.keep_monthly: expected an integer, got 1.5 (float)"),
        (
            "keep_monthly: 100000000000",
            "backup.keep_monthly: expected an integer from 0 to 1200, got 100000000000",
        ),
        (
            "keep_daily: 0, keep_weekly: 0, keep_monthly: 0",
            "backup: keep_daily, keep_weekly and keep_monthly are all 0, which keeps no backup;"
            " expected at least one of them >= 1",
        ),
    ],
)
def test_counts_out_of_bounds_are_refused(tmp_path: Path, backup: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, backup)
    assert str(caught.value).startswith(f"{tmp_path / 'upkeep.yml'}: ")
    assert message in str(caught.value)


def test_check_refuses_a_policy_that_keeps_nothing_and_runs_nothing(project: Project) -> None:
    project.add_runbook("fine", [CHECK_OK])
    project.config.write_text(
        "backup: {dir: backups, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}\n"
    )
    result = project.upkeep_in_process("check")
    assert result.code == 2
    assert "keeps no backup; expected at least one of them >= 1" in result.err
    assert not project.evidence.exists() and not (project.root / "backups").exists()
