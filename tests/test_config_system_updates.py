"""The `system_updates:` section: apt never runs unless allowed, services are probed by default,
and a wrong key or type stops the CLI with exit 2 naming it, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.project import REPO, Project

from upkeep.config import load_config
from upkeep.config.system_updates import SystemUpdates
from upkeep.errors import ConfigError


def test_the_shipped_config_and_no_section_never_let_apt_install() -> None:
    assert load_config(REPO / "upkeep.yml").system_updates == SystemUpdates(False, True)


def test_the_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "version: 1\nsystem_updates:\n  os_apply: true\n  probe_services: false\n"
    )
    assert load_config(tmp_path / "upkeep.yml").system_updates == SystemUpdates(True, False)
    (tmp_path / "upkeep.yml").write_text("version: 1\n")
    assert load_config(tmp_path / "upkeep.yml").system_updates == SystemUpdates()


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ("  os_apply: yes please\n", "system_updates.os_apply"),
        ("  maintenance_window: sunday\n", "maintenance_window"),
    ],
)
def test_a_wrong_setting_is_refused_naming_it(tmp_path: Path, section: str, said: str) -> None:
    (tmp_path / "upkeep.yml").write_text("version: 1\nsystem_updates:\n" + section)
    with pytest.raises(ConfigError, match=said):
        load_config(tmp_path / "upkeep.yml")
    result = Project(tmp_path).upkeep_in_process("approve", "x", "--by", "al")
    assert result.code == 2 and said in result.err
