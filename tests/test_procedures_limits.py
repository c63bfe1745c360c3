"""upkeep.procedures.limits: the limits in force, as the daily runbooks print them, come from the
loaded upkeep.yml, not from numbers written into the runbooks."""

from __future__ import annotations

from pathlib import Path

from helpers.files import make_config

from upkeep.procedures import limits


def test_the_health_checks_limits_are_the_configs_with_each_logs_and_mounts_own(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - {name: app, path: app.log, errors: {warn: 5, fail: 100}}
          - {name: worker, path: worker.log}
        mounts:
          - {path: ., limit: {warn: 70, fail: 75.5}}
          - {path: /}
        thresholds:
          cpu_percent: {warn: 81, fail: 97}
          log_errors: {warn: 2, fail: 40}
          http_latency_ms: {warn: 250, fail: 1500}
        """,
    )
    assert limits.health(config).splitlines() == [
        f"limits in force ({config.path}):",
        "  service latency: warn from 250 ms, fail from 1500 ms (thresholds.http_latency_ms)",
        "  log error lines: warn from 2, fail from 40 (thresholds.log_errors)",
        "    app: warn from 5, fail from 100 (its own errors:)",
        "  disk used: warn from 80%, fail from 90% (thresholds.disk_percent)",
        f"    {tmp_path}: warn from 70%, fail from 75.5% (its own limit:)",
        "  CPU busy: warn from 81%, fail from 97% (thresholds.cpu_percent)",
        "  memory in use: warn from 85%, fail from 95% (thresholds.memory_percent)",
        "  load per CPU (5 min): warn from 1.5, fail from 3 (thresholds.load_per_cpu)",
    ]


def test_cleanings_limits_are_each_roots_age_and_size_the_protected_globs_and_rotation(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        """
        logs:
          - name: app
            path: app.log
            rotate: {max_bytes: 1048576, max_age_days: 7, keep: 5, method: copytruncate}
          - {name: plain, path: plain.log}
        cleanup:
          temp_roots:
            - {path: tmp, max_age_days: 3}
          cache_roots:
            - {path: cache, max_age_days: 30, max_bytes: 209715200}
          protect: ["*.keep"]
          dry_run: true
        """,
    )
    assert limits.cleaning(config).splitlines() == [
        f"limits in force ({config.path}):",
        f"  temp root {tmp_path / 'tmp'}: what is older than 3 days goes",
        f"  cache root {tmp_path / 'cache'}: what is older than 30 days goes, "
        "then the oldest until 200.0 MiB is left",
        "  never touched: *.keep",
        "  cleanup.dry_run: yes",
        "  log app: rotated by copytruncate when over 1.0 MiB or rotated more than 7 days ago, "
        "at most once a period (daily), 5 copies kept",
    ]
    (tmp_path / "empty").mkdir()
    nothing = make_config(tmp_path / "empty")
    assert "  no temp or cache roots (cleanup.temp_roots, cleanup.cache_roots)" in (
        limits.cleaning(nothing).splitlines()
    )


def test_the_backup_policy_in_force(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        """
        backup: {dir: store, mode: incremental, full_every: 5, keep_daily: 3, keep_weekly: 2,
                 keep_monthly: 6, max_full_age_days: 6, shrink_warn_percent: 30}
        """,
    )
    assert limits.backup(config).splitlines() == [
        f"limits in force ({config.path}):",
        f"  store: {tmp_path / 'store'}; mode incremental (a full backup every 5)",
        "  kept: the newest of each of the last 3 days, 2 weeks and 6 months",
        "  warns: a backup more than 30% smaller than the previous one; "
        "no verified full backup in the last 6 days",
    ]
