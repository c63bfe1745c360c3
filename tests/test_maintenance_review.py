"""The maintenance-review runbook's procedures (upkeep.procedures.maintenance_review) on a real
config and evidence folder: the day the review is "as of" is the day of its window's end in the
configured time zone, the one its text shows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.files import make_config
from helpers.recorder import Recorder

from upkeep.procedures import maintenance_review
from upkeep.review.text import month_text


def test_the_review_is_as_of_the_day_its_window_ends_in_the_configured_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = Recorder()
    monkeypatch.setattr(maintenance_review, "report", recorded)
    (tmp_path / "runbooks").mkdir()
    config = make_config(
        tmp_path, "timezone: America/St_Johns\nevidence_dir: evidence\nrunbooks_dir: runbooks\n"
    )
    # 01:49 UTC on 8 December is 22:19 on 7 December in St. John's (UTC-3:30).
    month = maintenance_review.review(config, datetime(2026, 12, 8, 1, 49, tzinfo=UTC))

    maintenance_review.record(month, config)

    [summary] = recorded.summaries()
    assert summary.endswith("as of 2026-12-07")
    shown = month_text(month, config.tz).splitlines()[0]
    assert shown.startswith("Maintenance review 2026-11-07 to 2026-12-07:")
