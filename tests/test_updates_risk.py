"""The risk-acceptance register applied: accepted, open, expired, ownerless and stale entries."""

from __future__ import annotations

from datetime import date

from upkeep.config.risk_register import RiskEntry, RiskRegister
from upkeep.updates.model import Vulnerability
from upkeep.updates.risk import apply_register

TODAY = date(2026, 12, 5)
JINJA = Vulnerability("Jinja2", "3.1.5", "CVE-2025-27516", ("GHSA-cpwx-vrp4-4pxq",))
REQUESTS = Vulnerability("requests", "2.32.3", "GHSA-9hjg-9r4m-mvj7")


def _entry(id_: str, package: str, **changes: object) -> RiskEntry:
    fields: dict[str, object] = {
        "reason": "not reachable",
        "expires": date(2027, 1, 31),
        "owner": "ops",
        "approved_by": "security-lead",
        **changes,
    }
    return RiskEntry(id_, package, **fields)  # type: ignore[arg-type]


def test_an_entry_accepts_by_any_id_and_package_name_as_pypi_compares() -> None:
    register = RiskRegister(None, (_entry("ghsa-cpwx-vrp4-4pxq", "jinja2"),))
    result = apply_register([JINJA, REQUESTS], register, TODAY)
    assert result.open == (REQUESTS,)
    assert [(v, e.id) for v, e in result.accepted] == [(JINJA, "ghsa-cpwx-vrp4-4pxq")]
    assert result.problems == result.stale == ()


def test_an_entry_for_another_package_accepts_nothing() -> None:
    register = RiskRegister(None, (_entry("CVE-2025-27516", "markupsafe"),))
    result = apply_register([JINJA], register, TODAY)
    assert result.open == (JINJA,)
    assert [e.package for e in result.stale] == ["markupsafe"]


def test_an_expired_entry_accepts_nothing_and_is_a_problem() -> None:
    entry = _entry("CVE-2025-27516", "jinja2", expires=date(2026, 12, 4))
    result = apply_register([JINJA], RiskRegister(None, (entry,)), TODAY)
    assert result.open == (JINJA,) and result.accepted == ()
    assert [p.why for p in result.problems] == ["expired on 2026-12-04"]
    assert result.stale == ()  # it still matches: not stale, expired
    # The expiry day itself still holds.
    on_the_day = _entry("CVE-2025-27516", "jinja2", expires=TODAY)
    assert apply_register([JINJA], RiskRegister(None, (on_the_day,)), TODAY).problems == ()


def test_an_entry_without_owner_or_approver_is_a_problem_but_still_accepts() -> None:
    entry = _entry("CVE-2025-27516", "jinja2", owner=None, approved_by=None)
    result = apply_register([JINJA], RiskRegister(None, (entry,)), TODAY)
    assert len(result.accepted) == 1
    assert [p.why for p in result.problems] == ["has no owner", "has no approver (approved_by)"]


def test_stale_entries_only_when_every_source_was_audited() -> None:
    register = RiskRegister(None, (_entry("PYSEC-1", "idna"),))
    assert [e.id for e in apply_register([], register, TODAY).stale] == ["PYSEC-1"]
    assert apply_register([], register, TODAY, complete=False).stale == ()
