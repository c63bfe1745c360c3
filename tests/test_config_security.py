"""The `security:` section and the risk register's `drift:` list, read at load: defaults, paths
resolved beside `upkeep.yml`, and malformed entries refused naming the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from upkeep.config import load_config
from upkeep.errors import ConfigError


def _write(root: Path, security: dict | None = None, register: dict | None = None) -> Path:
    config: dict = {
        "version": 1,
        "databases": [{"name": "app", "engine": "sqlite", "path": "app.db"}],
    }
    if security is not None:
        config["security"] = security
    (root / "upkeep.yml").write_text(yaml.safe_dump(config))
    if register is not None:
        (root / "risk-register.yml").write_text(yaml.safe_dump(register))
    return root / "upkeep.yml"


def test_defaults_audit_the_real_system(tmp_path: Path) -> None:
    settings = load_config(_write(tmp_path)).security
    assert settings.passwd == Path("/etc/passwd") and settings.baseline is None
    assert Path("/etc/sudoers.d") in settings.sudoers and settings.listening


def test_paths_are_read_beside_the_config(tmp_path: Path) -> None:
    settings = load_config(
        _write(
            tmp_path, {"baseline": "sec/base.yml", "home_roots": ["homes"], "databases": ["app"]}
        )
    ).security
    assert settings.baseline == tmp_path / "sec/base.yml"
    assert settings.home_roots == (tmp_path / "homes",)
    assert settings.databases == ("app",)


def test_drift_exceptions_are_read_and_checked(tmp_path: Path) -> None:
    entry = {
        "key": "drift:suid_sgid:/usr/bin/x",
        "reason": "vendor",
        "owner": "ops",
        "approved_by": "sec",
        "expires": "2027-02-01",
    }
    register = load_config(_write(tmp_path, register={"drift": [entry]})).risk_register
    assert register.drift[0].key == "drift:suid_sgid:/usr/bin/x"
    assert register.drift[0].expires == date(2027, 2, 1)
    with pytest.raises(ConfigError, match="drift: a key is listed twice"):
        load_config(_write(tmp_path, register={"drift": [entry, entry]}))
    with pytest.raises(ConfigError, match=r"drift\[0\]\.expires: expected a date"):
        load_config(_write(tmp_path, register={"drift": [{**entry, "expires": "soon"}]}))
    with pytest.raises(ConfigError, match=r"drift\[0\]\.colour: unknown key"):
        load_config(_write(tmp_path, register={"drift": [{**entry, "colour": 1}]}))


def test_a_bad_security_section_stops_the_cli_with_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    _write(tmp_path, {"listening": "yes"})
    proc = subprocess.run(
        [sys.executable, "-m", "upkeep.cli", "--config", str(tmp_path / "upkeep.yml"), "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "security.listening: expected true or false" in proc.stderr
