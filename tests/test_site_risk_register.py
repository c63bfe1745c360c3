"""The site's risk register page: every entry with its expiry, owner, approver and status on the
day the site is built; a missing register said so, never an empty table."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

from upkeep.config import Config
from upkeep.config.risk_register import DriftException, RiskEntry, RiskRegister
from upkeep.config.updates import UpdatesSettings
from upkeep.site.risk_register import risk_register_page

TODAY = date(2026, 12, 5)


def _page(tmp_path: Path, register: RiskRegister) -> str:
    updates = UpdatesSettings(risk_register=tmp_path / "risk-register.yml")
    config = Config(tmp_path / "upkeep.yml", tmp_path, updates=updates, risk_register=register)
    return risk_register_page(SimpleNamespace(config=config), TODAY)  # type: ignore[arg-type]


def test_entries_with_their_status(tmp_path: Path) -> None:
    entries = (
        RiskEntry(
            "GHSA-1", "jinja2", "only our | templates", date(2027, 1, 4), "ops", "sec", ("CVE-1",)
        ),
        RiskEntry("GHSA-2", "idna", "old", date(2026, 12, 4), "ops", "sec"),
        RiskEntry("GHSA-3", "requests", "who?", date(2027, 3, 1)),
    )
    page = _page(tmp_path, RiskRegister(tmp_path / "risk-register.yml", entries))
    rows = [line for line in page.splitlines() if line.startswith("| GHSA")]
    assert rows[0].startswith("| GHSA-2 | idna | **expired** | 2026-12-04 | ops | sec | old |")
    assert rows[1].startswith("| GHSA-1, CVE-1 | jinja2 | accepted, 30 days left | 2027-01-04 |")
    assert "only our &#124; templates" in rows[1]  # a pipe in the reason keeps the table whole
    assert (
        rows[2]
        == "| GHSA-3 | requests | **incomplete** | 2027-03-01 | **none** | **none** | who? |"
    )
    assert "as of 2026-12-05" in page


def test_no_register(tmp_path: Path) -> None:
    page = _page(tmp_path, RiskRegister())
    assert f"No risk register: `{tmp_path / 'risk-register.yml'}` does not exist." in page
    assert "| Advisory" not in page


def test_drift_exceptions_are_listed_with_their_status(tmp_path: Path) -> None:
    drift = (
        DriftException(
            "drift:listening:tcp:0.0.0.0:8080", "migration", date(2027, 1, 4), "ops", "sec"
        ),
        DriftException("drift:sudoers:bob ALL=(ALL) ALL", "old", date(2026, 12, 1), "ops", "sec"),
    )
    page = _page(tmp_path, RiskRegister(tmp_path / "risk-register.yml", (), drift))
    rows = [line for line in page.splitlines() if line.startswith("| <code>drift:")]
    assert rows[0].startswith("| <code>drift:sudoers:bob ALL=(ALL) ALL</code> | **expired** |")
    assert "| accepted, 30 days left | 2027-01-04 | ops | sec | migration |" in rows[1]
    assert "| Advisory" not in page  # no vulnerability entries: no empty table
