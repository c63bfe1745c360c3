"""upkeep.procedures.cleaning: the runbook's steps over every configured root, and what they
record: checks, metrics, findings, the list of what was removed and the run's one-line summary."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.cleaning import clean_temp, intact, old_files_beside
from helpers.files import aged, write
from helpers.recorder import Recorder

from upkeep.cleaning import execute, plan_cache, plan_temp
from upkeep.config import Cleanup, CleanupRoot, LogRotation, LogSource, load_config
from upkeep.errors import ConfigError
from upkeep.procedures import cleaning, logrotate


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "tmp-root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return old_files_beside(tmp_path)


def test_a_root_that_is_a_symlink_is_refused(
    tmp_path: Path, outside: Path, recorded: Recorder
) -> None:
    link = tmp_path / "link-root"
    link.symlink_to(outside)
    result = clean_temp(link)
    assert result.error is not None and "symlink" in result.error
    assert result.removed == () and intact(outside)
    cleaning.record_cleaning([result])
    assert recorded.checks()[f"cleaning:temp:{link}"]["status"] == "fail"


def test_a_symlinked_root_is_refused_at_config_load(tmp_path: Path, outside: Path) -> None:
    (tmp_path / "link-root").symlink_to(outside)
    (tmp_path / "upkeep.yml").write_text("cleanup:\n  temp_roots:\n    - {path: link-root}\n")
    with pytest.raises(ConfigError, match="is a symlink"):
        load_config(tmp_path / "upkeep.yml")


def test_cache_still_over_its_limit_warns(tmp_path: Path, recorded: Recorder) -> None:
    cache = tmp_path / "cache"
    write(cache / "a", 1, size=500)
    write(cache / "b", 2, size=500)
    root = CleanupRoot(cache, max_age_days=30, max_bytes=100)
    plan = plan_cache(root)
    # The file chosen first is replaced before removal: it is skipped, the root stays over.
    oldest = Path(plan.remove[0].path)
    assert oldest.name == "b"
    write(cache / "new", 0, size=500)
    os.replace(cache / "new", oldest)
    result = execute(plan, dry_run=False)
    assert result.over_limit and result.bytes_after == 500
    cleaning.record_cleaning([result])
    check = recorded.checks()[f"cleaning:cache:{cache}"]
    assert (check["status"], check["value"], check["limit"]) == ("warn", 500, 100)
    assert "still over its limit" in check["message"]
    assert f"cleaning:cache:{cache}:skipped:{oldest}" in recorded.findings()


# ---------------------------------------------------------------- config, record, clean()


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("state_dir", "state directory"),
        ("runbooks_dir", "the runbooks"),
        ("evidence_dir", "the evidence directory"),
    ],
)
def test_roots_holding_upkeeps_own_directories_are_refused(
    tmp_path: Path, key: str, what: str
) -> None:
    """Outside the project too: a root that *contains* the evidence (or state, runbooks) dir."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "inner").mkdir(parents=True)
    project = tmp_path / "project"
    project.mkdir()
    (project / "upkeep.yml").write_text(
        f"{key}: {elsewhere / 'inner'}\ncleanup:\n  cache_roots:\n    - {{path: {elsewhere}}}\n"
    )
    with pytest.raises(ConfigError, match=what):
        load_config(project / "upkeep.yml")


def test_the_backup_store_is_refused_as_a_root(tmp_path: Path) -> None:
    (tmp_path / "upkeep.yml").write_text(
        "backup: {dir: var/backups}\ncleanup:\n  temp_roots:\n    - {path: var/backups}\n"
    )
    with pytest.raises(ConfigError, match="the backup store"):
        load_config(tmp_path / "upkeep.yml")


def test_clean_runs_temp_then_cache_with_the_configs_dry_run(tmp_path: Path) -> None:
    write(tmp_path / "t" / "old", 30)
    write(tmp_path / "c" / "old", 60)
    cleanup = Cleanup(
        temp_roots=(CleanupRoot(tmp_path / "t"),),
        cache_roots=(CleanupRoot(tmp_path / "c", max_age_days=30),),
        dry_run=True,
    )
    results = cleaning.clean(cleanup)
    assert [(r.purpose, r.dry_run, len(r.removed)) for r in results] == [
        ("temp", True, 1),
        ("cache", True, 1),
    ]
    assert (tmp_path / "t" / "old").exists() and (tmp_path / "c" / "old").exists()
    cleaning.clean(replace(cleanup, dry_run=False))
    assert not (tmp_path / "t" / "old").exists() and not (tmp_path / "c" / "old").exists()


@pytest.mark.parametrize(
    ("choice", "configured", "dry"),
    [
        (None, True, True),
        (None, False, False),
        (True, False, True),
        (False, True, False),
        ("yes", False, True),
        ("true", False, True),
        ("no", True, False),
        ("False", True, False),
    ],
)
def test_resolve_dry_run_and_a_dry_run_says_it_is_one(
    choice: bool | str | None, configured: bool, dry: bool, recorded: Recorder
) -> None:
    """None (the parameter left unset) follows upkeep.yml; a boolean, or the words for one that
    papermill hands over as text in a run by hand, says it."""
    assert cleaning.resolve_dry_run(choice, Cleanup(dry_run=configured)) is dry
    assert recorded.said_dry_run() is dry  # only the kernel knows what None meant


def test_a_bad_dry_run_word_is_refused() -> None:
    with pytest.raises(ValueError, match="expected true or false"):
        cleaning.resolve_dry_run("maybe", Cleanup())


def test_record_cleaning_reports_what_went_and_what_was_skipped(
    root: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    write(root / "old", 30, size=2048)
    os.mkfifo(root / "fifo")
    aged(root / "fifo", 30)
    result = clean_temp(root)
    cleaning.record_cleaning([result])
    name = f"cleaning:temp:{root}"
    check = recorded.checks()[name]
    assert check["status"] == "ok" and "removed 1 entry, 2.0 KiB" in check["message"]
    metrics = {r["name"]: r["value"] for r in recorded.records if r["kind"] == "metric"}
    assert metrics == {
        "cleaning_removed_entries": 1,
        "cleaning_freed_bytes": 2048,
        "cleaning_root_bytes": 0,
        "cleaning_skipped_entries": 1,
        "cleaning_vanished_entries": 0,
    }
    finding = recorded.findings()[f"{name}:skipped:{root / 'fifo'}"]
    assert "not a regular file" in finding["message"]
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  removed")]
    assert line.split() == ["removed", "file", "2.0", "KiB", str(root / "old")]


def test_vanished_entries_are_counted_and_listed_but_do_not_warn(
    root: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    write(root / "old", 30)
    victim = write(root / "victim", 30)
    plan = plan_temp(CleanupRoot(root))
    victim.unlink()  # gone between the scan and its removal, as on a busy /tmp
    cleaning.record_cleaning([execute(plan, dry_run=False)])
    check = recorded.checks()[f"cleaning:temp:{root}"]
    assert check["status"] == "ok"
    assert "removed 1 entry" in check["message"] and "0 skipped; 1 vanished" in check["message"]
    assert not recorded.findings()
    metrics = {r["name"]: r["value"] for r in recorded.records if r["kind"] == "metric"}
    assert metrics["cleaning_vanished_entries"] == 1
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  vanished")]
    assert line.split() == ["vanished", "file", str(victim)]


def test_a_root_that_cannot_be_opened_fails_naming_it(tmp_path: Path, recorded: Recorder) -> None:
    missing = tmp_path / "missing"
    cleaning.record_cleaning([clean_temp(missing)])
    check = recorded.checks()[f"cleaning:temp:{missing}"]
    assert check["status"] == "fail"
    assert check["message"] == (
        f"root refused: the cleaning root cannot be opened: No such file or directory: {missing}"
    )


def test_no_root_configured_is_nothing_to_do_not_a_daily_warning(
    tmp_path: Path, recorded: Recorder
) -> None:
    cleaning.record_totals([])
    total = recorded.checks()["cleaning:total"]
    assert (total["status"], total["value"]) == ("ok", 0)
    assert total["message"] == (
        "nothing to clean: upkeep.yml lists no temp or cache roots under cleanup:"
    )
    write(tmp_path / "t" / "old", 30, size=3000)
    results = cleaning.clean(Cleanup(temp_roots=(CleanupRoot(tmp_path / "t"),)), dry_run=True)
    cleaning.record_totals(results)
    total = recorded.checks()["cleaning:total"]
    assert (total["status"], total["value"]) == ("ok", 3000)
    assert total["message"] == "would free 2.9 KiB (1 entries) in 1 roots"


def test_the_summary_says_what_was_removed_and_what_it_frees(
    tmp_path: Path, recorded: Recorder
) -> None:
    write(tmp_path / "t" / "old", 30, size=3000)
    write(tmp_path / "c" / "old", 60, size=1_500_000)
    cleanup = Cleanup(
        temp_roots=(CleanupRoot(tmp_path / "t"),),
        cache_roots=(CleanupRoot(tmp_path / "c", max_age_days=30),),
    )
    cleaning.record_summary(cleaning.clean(cleanup, dry_run=True))
    cleaning.record_summary(cleaning.clean(cleanup, dry_run=False))
    cleaning.record_summary([])
    assert recorded.summaries() == [
        "would remove 2 entries, freeing 1.4 MiB in 2 roots",
        "removed 2 entries, freeing 1.4 MiB in 2 roots",
        "no temp or cache roots to clean",
    ]


def test_the_summary_counts_refused_roots_and_rotated_logs(
    tmp_path: Path, recorded: Recorder
) -> None:
    write(tmp_path / "t" / "old", 30, size=10)
    results = [clean_temp(tmp_path / "t"), clean_temp(tmp_path / "missing")]
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * 100)
    rotated = logrotate.rotate_logs(
        [LogSource("app", log, rotate=LogRotation(max_bytes=10, method="copytruncate"))],
        state_dir=tmp_path / "state",
        dry_run=False,
    )
    cleaning.record_summary(results, rotated)
    assert recorded.summaries() == [
        "removed 1 entry, freeing 10 B in 2 roots; 1 root refused; rotated 1 of 1 logs"
    ]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(cleaning, "report", recorder)
    return recorder


def test_a_name_with_a_newline_or_bytes_not_utf8_is_listed_on_one_line(
    root: Path, recorded: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crafted file name must not forge a line of the listing that evidence keeps."""
    forged = "x\n  removed file          1 B  /etc/passwd"
    write(root / forged, 30)
    write(Path(os.fsdecode(bytes(root) + b"/caf\xe9")), 30)
    cleaning.record_cleaning([clean_temp(root, dry_run=True)])
    lines = capsys.readouterr().out.splitlines()
    assert f"temp root {root}: would remove 2 entries" in lines
    assert not [line for line in lines if line.startswith("  removed")]  # nothing forged
    listed = sorted(line.split(" B  ", 1)[1] for line in lines if line.startswith("  would remove"))
    assert listed == [f"{root}/caf\\xe9", f"{root}/x\\n  removed file          1 B  /etc/passwd"]
