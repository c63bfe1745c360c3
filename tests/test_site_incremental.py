"""A site build after an earlier one: run folders verified from the cache give `upkeep verify`'s
report exactly, tampering included; only new or changed runs' pages are rendered, the rest are
the same files; a deleted run leaves the site; new templates render every page again. The run
folders of the last build survive MkDocs' clean-up of the site only when every file in them is
still the stored one."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.site_history import daily_history, publish

from upkeep.config import Config, load_config
from upkeep.evidence import EvidenceStore, verify
from upkeep.records import RunbookRef, RunRecord, Status
from upkeep.registry import Registry, discover
from upkeep.site import kept_runs, run_page_store, run_pages, run_records
from upkeep.site import model as site_model
from upkeep.site.model import SiteModel, load_model
from upkeep.site.run_page_store import MANIFEST, STORE_DIR
from upkeep.site.verification import cache_path, verify_with_cache


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    return daily_history(tmp_path)


def _config(history: dict[str, Any]) -> Config:
    return load_config(history["project"].config)


def _first_model(history: dict[str, Any]) -> tuple[Config, Registry, SiteModel]:
    """The config, the runbooks and the model of a first build (it fills the caches)."""
    config = _config(history)
    runbooks = discover(config.runbooks_dir, config.root)
    return config, runbooks, load_model(config, runbooks)


def _build(config: Config, site: Path) -> tuple[SiteModel, run_pages.Placed]:
    """What a build does with run pages: the model read, the site cleaned (as mkdocs does),
    the run pages put in."""
    model = load_model(config, discover(config.runbooks_dir, config.root))
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir()
    return model, run_pages.write_run_pages(model, site)


def _build_as_mkdocs(config: Config, site: Path) -> tuple[SiteModel, run_pages.Placed]:
    """What `mkdocs build` does with the plugin: run folders moved aside (on_pre_build), the
    site emptied but for hidden entries (mkdocs' clean_directory), the run pages put in."""
    model = load_model(config, discover(config.runbooks_dir, config.root))
    site.mkdir(exist_ok=True)
    kept = kept_runs.keep_runs(site)
    for entry in site.iterdir():
        if not entry.name.startswith("."):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return model, run_pages.write_run_pages(model, site, kept)


# --- verification from the cache ----------------------------------------------------------


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))


def _flip_byte_keeping_mtime(path: Path) -> None:
    info = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _swap_reports(folder: Path, other: Path) -> None:
    mine, theirs = (folder / "report.html").read_bytes(), (other / "report.html").read_bytes()
    (folder / "report.html").write_bytes(theirs)
    (other / "report.html").write_bytes(mine)


TAMPERING = {
    "a flipped byte": lambda folders: _flip_byte(folders[1] / "report.html"),
    "a flipped byte, mtime put back": lambda folders: _flip_byte_keeping_mtime(
        folders[1] / "notebook.ipynb"
    ),
    "a truncated file": lambda folders: (folders[0] / "report.html").write_bytes(b""),
    "a deleted file": lambda folders: (folders[2] / "report.html").unlink(),
    "an added file": lambda folders: (folders[2] / "extra.txt").write_text("added"),
    "reports swapped": lambda folders: _swap_reports(folders[0], folders[1]),
    "an edited run.json": lambda folders: _flip_byte(folders[1] / "run.json"),
    "a deleted run folder": lambda folders: shutil.rmtree(folders[0]),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERING))
def test_a_cached_verification_still_finds_tampering(history: dict[str, Any], tamper: str) -> None:
    config = _config(history)
    cache = cache_path(config.state_dir)
    first = verify_with_cache(config.evidence_dir, cache)
    assert first == verify(config.evidence_dir) and first.ok and cache.is_file()
    TAMPERING[tamper](history["folders"])
    again = verify_with_cache(config.evidence_dir, cache)
    assert not again.ok
    assert again == verify(config.evidence_dir)


def test_an_untouched_run_folder_is_not_hashed_again(
    history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from upkeep.site import verification

    config = _config(history)
    cache = cache_path(config.state_dir)
    verify_with_cache(config.evidence_dir, cache)
    checked: list[str] = []
    real = verification.check_recorded_folder

    def counting(root: Path, relpath: str, *args: Any) -> Any:
        checked.append(relpath)
        return real(root, relpath, *args)

    monkeypatch.setattr(verification, "check_recorded_folder", counting)
    new = publish(history["store"], history["runbook"], 10)
    assert verify_with_cache(config.evidence_dir, cache).ok
    assert checked == [new.relative_to(config.evidence_dir).as_posix()]


def test_a_cache_that_cannot_be_read_is_ignored(history: dict[str, Any]) -> None:
    config = _config(history)
    cache = cache_path(config.state_dir)
    verify_with_cache(config.evidence_dir, cache)
    _flip_byte(history["folders"][1] / "report.html")
    cache.write_text("{not json")
    report = verify_with_cache(config.evidence_dir, cache)
    assert report == verify(config.evidence_dir) and not report.ok


# --- run records from the cache ---------------------------------------------------------------


def _edit_keeping_size_and_mtime(path: Path, old: bytes, new: bytes) -> None:
    info = path.stat()
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_run_json_edited_between_builds_with_its_mtime_put_back_is_read_again(
    history: dict[str, Any],
) -> None:
    config, runbooks, first = _first_model(history)
    assert first.runs[1].record is not None
    assert first.runs[1].record.checks[0].message == "synthetic ok"
    assert (config.state_dir / run_records.CACHE_DIR).is_dir()
    run_json = history["folders"][1] / "run.json"
    _edit_keeping_size_and_mtime(run_json, b"synthetic ok", b"synthetic OK")
    again = load_model(config, runbooks)
    assert again.runs[1].record is not None
    assert again.runs[1].record.checks[0].message == "synthetic OK"
    assert [run.run_id for run in again.unverified] == [again.runs[1].run_id]


def test_an_unchanged_run_json_is_not_opened_again(
    history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, runbooks, first = _first_model(history)
    new = publish(history["store"], history["runbook"], 10)
    opened: list[str] = []

    read_regular = run_records.read_regular

    def counting_read(path: str) -> bytes:
        opened.append(path)
        return read_regular(path)

    monkeypatch.setattr(run_records, "read_regular", counting_read)
    again = load_model(config, runbooks)
    assert opened == [str(new / "run.json")]
    assert again.runs[:3] == first.runs and again.runs[3].record is not None


def test_a_run_record_cache_that_cannot_be_read_is_ignored(history: dict[str, Any]) -> None:
    config, runbooks, first = _first_model(history)
    for month in (config.state_dir / run_records.CACHE_DIR).iterdir():
        month.write_text(f'{{"format": {run_records.CACHE_FORMAT}, "runs": {{"runs/2026/10/x": [')
    assert load_model(config, runbooks).runs == first.runs


def test_a_kept_row_that_is_not_one_is_read_from_the_run_json_again(
    history: dict[str, Any],
) -> None:
    config, runbooks, first = _first_model(history)
    (month,) = (config.state_dir / run_records.CACHE_DIR).iterdir()
    kept = json.loads(month.read_bytes())
    assert kept["format"] == run_records.CACHE_FORMAT and len(kept["runs"]) == 3
    for entry in kept["runs"].values():  # keys that still hold, rows that are no rows
        entry["record"] = entry["record"][:5]
    month.write_text(json.dumps(kept))
    assert load_model(config, runbooks).runs == first.runs
    rewritten = json.loads(month.read_bytes())["runs"]
    assert all(len(entry["record"]) == 22 for entry in rewritten.values())


# --- run pages put into the site ------------------------------------------------------------


def _identities(site: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(site).as_posix(): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in site.rglob("*")
        if path.is_file()
    }


def test_a_new_run_renders_only_its_own_pages(history: dict[str, Any], tmp_path: Path) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _, first = _build(config, site)
    assert first.rendered == 3
    before = _identities(site)
    new = publish(history["store"], history["runbook"], 10)
    model, second = _build(config, site)
    assert second.rendered == 1 and second.copied == 0
    after = _identities(site)
    new_relpath = new.relative_to(config.evidence_dir).as_posix()
    assert {name for name in after if name not in before} == {
        f"{new_relpath}/index.html",
        f"{new_relpath}/report.html",
        f"{new_relpath}/report/index.html",
    }
    # The old runs' files are the very same files (inode and mtime), though mkdocs cleaned the site.
    assert all(after[name] == identity for name, identity in before.items())
    # The site's report is the evidence's bytes.
    assert (site / new_relpath / "report.html").read_bytes() == (new / "report.html").read_bytes()
    assert len(model.runs) == 4


def test_a_report_tampered_after_a_cached_build_shows_red(
    history: dict[str, Any], tmp_path: Path
) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build(config, site)
    folder = history["folders"][1]
    relpath = folder.relative_to(config.evidence_dir).as_posix()
    assert "DO NOT VERIFY" not in (site / relpath / "index.html").read_text().upper()
    _flip_byte_keeping_mtime(folder / "report.html")
    model, placed = _build(config, site)
    assert placed.rendered == 1
    [bad] = model.unverified
    assert bad.relpath == relpath
    page = (site / relpath / "index.html").read_text()
    assert "report.html: sha256 mismatch" in page
    # The site shows the tampered bytes, as they are in the evidence.
    assert (site / relpath / "report.html").read_bytes() == (folder / "report.html").read_bytes()


@pytest.mark.parametrize("planted", ["report.html", "run.json"])
def test_a_symlink_planted_in_a_run_folder_publishes_nothing_it_points_at(
    history: dict[str, Any], tmp_path: Path, planted: str
) -> None:
    # A report.html made a symlink to /proc/self/environ put the build's environment on the
    # site. The link is shown red and nothing is read through it.
    secret = tmp_path / "outside.txt"
    secret.write_text("CANARY-0f3a9 outside the evidence\n")
    config = _config(history)
    site = tmp_path / "site"
    folder = history["folders"][1]
    relpath = folder.relative_to(config.evidence_dir).as_posix()
    (folder / planted).unlink()
    (folder / planted).symlink_to(secret)

    model, _ = _build(config, site)

    assert relpath in [run.relpath for run in model.unverified]
    assert not (site / relpath / "report.html").exists() or planted != "report.html"
    for path in site.rglob("*"):
        assert path.is_symlink() or not path.is_file() or b"CANARY-0f3a9" not in path.read_bytes()
    assert not [path for path in site.rglob("*") if path.is_symlink()]


def test_a_deleted_run_leaves_the_site(history: dict[str, Any], tmp_path: Path) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build(config, site)
    last = history["folders"][-1]
    relpath = last.relative_to(config.evidence_dir).as_posix()
    ledger = config.evidence_dir / "ledger.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:-1]))  # the last line off: the chain still holds
    shutil.rmtree(last)
    model, placed = _build(config, site)
    assert placed.rendered == 0 and not model.unverified
    assert not (site / relpath).exists()
    assert not (config.state_dir / STORE_DIR / relpath).exists()


def test_new_templates_render_every_page_again(
    history: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build(config, site)
    assert _build(config, site)[1].rendered == 0
    monkeypatch.setattr(run_pages, "templates_key", lambda: "another upkeep")
    assert _build(config, site)[1].rendered == 3


def test_a_store_file_changed_by_hand_is_rendered_again(
    history: dict[str, Any], tmp_path: Path
) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build(config, site)
    relpath = history["folders"][0].relative_to(config.evidence_dir).as_posix()
    stored = config.state_dir / STORE_DIR / relpath / "index.html"
    stored.write_text("<p>all green, honest</p>")
    _, placed = _build(config, site)
    assert placed.rendered == 1
    assert "all green" not in (site / relpath / "index.html").read_text()


def _built_manifest(history: dict[str, Any], site: Path) -> tuple[Config, Path, str, list[str]]:
    """A build's manifest: its path, its header line and its lines, one per run."""
    config = _config(history)
    _build(config, site)
    manifest = config.state_dir / MANIFEST
    header, *lines = manifest.read_text().split("\n")
    return config, manifest, header, lines


def test_a_manifest_line_that_is_not_an_entry_renders_only_its_run_again(
    history: dict[str, Any], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    config, manifest, header, lines = _built_manifest(history, site)
    assert json.loads(header)["format"] == 2 and len(lines) == 3
    relpath, _, entry = lines[0].partition("\t")
    assert json.loads(entry)["files"].keys() == {"index.html", "report.html", "report/index.html"}
    manifest.write_text("\n".join([header, f"{relpath}\t{{not json", *lines[1:]]))
    before = _identities(site)
    _, placed = _build(config, site)
    assert placed.rendered == 1
    after = _identities(site)
    assert {name for name in after if after[name] != before.get(name)} == {
        f"{relpath}/index.html",
        f"{relpath}/report.html",
        f"{relpath}/report/index.html",
    }
    assert _build(config, site)[1].rendered == 0  # the manifest written again is whole


def test_a_manifest_of_another_format_renders_every_page_again(
    history: dict[str, Any], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    config, manifest, header, lines = _built_manifest(history, site)
    manifest.write_text("\n".join([json.dumps({**json.loads(header), "format": 1}), *lines]))
    assert _build(config, site)[1].rendered == 3


def test_the_manifest_of_thousands_of_runs_is_held_compactly(tmp_path: Path) -> None:
    """What the manifest of years of runs holds in memory while the run pages are placed: the
    peak of a site build is reached there (a run's entry parsed into dicts and lists of ints
    took about 1.3 KB; kept as its JSON text, about 0.5 KB)."""
    runs = 2000
    store = run_page_store.RunPageStore(tmp_path, "key")
    placed = run_pages.Placed()
    pages = {
        "index.html": b"<p>page</p>",
        "report.html": b"<p>report</p>",
        "report/index.html": b"",
    }
    for n in range(runs):
        relpath = f"runs/2026/10/20261005T030000Z-daily-check-{n:04x}"
        store.pages(relpath, hashlib.sha256(b"%d" % n).hexdigest(), lambda: pages, placed)
        store.placed(relpath, [[n + 10**6, 1796532298142770169 + n, 1796532298142770169 + n]] * 2)
    store.save()
    tracemalloc.start()
    try:
        again = run_page_store.RunPageStore(tmp_path, "key")
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(again.known) == runs
    assert held / runs < 700, f"{held / runs:.0f} bytes per run"


@pytest.mark.slow
def test_a_real_rebuild_after_a_new_run_keeps_the_old_pages(
    history: dict[str, Any], tmp_path: Path
) -> None:
    project = history["project"]
    site = tmp_path / "public"
    first = project.upkeep("site", "build", "--site-dir", str(site), "--no-strict", timeout=300)
    assert first.code == 0, first.text
    old = history["folders"][0].relative_to(project.evidence).as_posix()
    before = _identities(site / old)
    new = publish(history["store"], history["runbook"], 10)
    again = project.upkeep("site", "build", "--site-dir", str(site), "--no-strict", timeout=300)
    assert again.code == 0, again.text
    assert "1 rendered" in again.text and "3 kept from the last build" in again.text
    assert _identities(site / old) == before
    assert not (site / kept_runs.KEPT).exists()
    page = site / new.relative_to(project.evidence).as_posix() / "index.html"
    assert new.name in page.read_text()


def test_a_state_dir_that_cannot_be_written_still_gets_every_page(
    history: dict[str, Any], tmp_path: Path
) -> None:
    config = _config(history)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    (config.state_dir / "site").write_text("a file where the store's folder would be")
    site = tmp_path / "site"
    model, placed = _build(config, site)
    assert placed.rendered == 3 and placed.linked == 0
    for run in model.runs:
        assert (site / run.relpath / "index.html").is_file()
        assert (site / run.relpath / "report.html").read_bytes() == (
            config.evidence_dir / run.relpath / "report.html"
        ).read_bytes()


# --- the last build's run folders, kept across MkDocs' clean-up ------------------------------


def test_unchanged_run_folders_are_moved_back_not_made_again(
    history: dict[str, Any], tmp_path: Path
) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build_as_mkdocs(config, site)
    before = _identities(site)
    new = publish(history["store"], history["runbook"], 10)
    model, placed = _build_as_mkdocs(config, site)
    assert (placed.rendered, placed.kept, placed.linked) == (1, 3, 3)  # only the new run's files
    after = _identities(site)
    assert all(after[name] == identity for name, identity in before.items())
    assert f"{new.relative_to(config.evidence_dir).as_posix()}/index.html" in after
    assert not (site / kept_runs.KEPT).exists()
    assert len(model.runs) == 4


@pytest.mark.parametrize(
    "change", ["page rewritten", "file added", "report removed", "page made a symlink"]
)
def test_a_run_folder_changed_in_the_site_is_placed_again(
    history: dict[str, Any], tmp_path: Path, change: str
) -> None:
    config = _config(history)
    site = tmp_path / "site"
    _build_as_mkdocs(config, site)
    relpath = history["folders"][0].relative_to(config.evidence_dir).as_posix()
    folder = site / relpath
    if change == "page rewritten":  # a new file in its place: the store's copy is untouched
        (folder / "index.html").unlink()
        (folder / "index.html").write_text("<p>all green, honest</p>")
    elif change == "file added":
        (folder / "extra.js").write_text("alert(1)")
    elif change == "page made a symlink":
        (tmp_path / "elsewhere.html").write_text("<p>all green, honest</p>")
        (folder / "index.html").unlink()
        (folder / "index.html").symlink_to(tmp_path / "elsewhere.html")
    else:
        (folder / "report.html").unlink()
    _, placed = _build_as_mkdocs(config, site)
    assert placed.kept == 2 and placed.rendered == 0
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "index.html",
        "report.html",
        "report/index.html",
    ]
    assert "all green" not in (folder / "index.html").read_text()
    assert not (folder / "index.html").is_symlink()
    assert (folder / "report.html").read_bytes() == (
        history["folders"][0] / "report.html"
    ).read_bytes()


def test_a_run_folder_placed_by_the_last_build_is_known_by_its_folder_identity(
    history: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    # Every recorded folder trusted, however close to the manifest's writing (the tests build
    # within milliseconds); a clock tick is waited for below instead.
    monkeypatch.setattr(run_page_store, "RACY_NS", -(10**12))
    config = _config(history)
    site = tmp_path / "site"
    _build_as_mkdocs(config, site)
    listed: list[str] = []
    real = kept_runs._files

    def listing(folder: str, *args: Any) -> bool:
        listed.append(folder)
        return real(folder, *args)

    monkeypatch.setattr(kept_runs, "_files", listing)
    _, placed = _build_as_mkdocs(config, site)
    assert placed.kept == 3 and not listed  # none listed: each known by its folders' identity
    time.sleep(0.05)  # past the filesystem's clock tick, so that the folder's times change
    relpath = history["folders"][0].relative_to(config.evidence_dir).as_posix()
    (site / relpath / "index.html").unlink()
    (site / relpath / "index.html").write_text("<p>all green, honest</p>")
    _, placed = _build_as_mkdocs(config, site)
    assert placed.kept == 2
    assert listed and all(relpath.removeprefix("runs/") in folder for folder in listed)
    assert "all green" not in (site / relpath / "index.html").read_text()


def test_a_run_folder_of_copies_is_not_known_by_its_folder_identity(
    history: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(run_page_store, "RACY_NS", -(10**12))

    def no_links(source: Any, target: Any, **kwargs: Any) -> None:
        raise OSError("another filesystem")  # as a site on another filesystem than state_dir

    monkeypatch.setattr(run_page_store.os, "link", no_links)
    config = _config(history)
    site = tmp_path / "site"
    _, placed = _build_as_mkdocs(config, site)
    assert placed.copied == 9 and placed.linked == 0
    relpath = history["folders"][0].relative_to(config.evidence_dir).as_posix()
    (site / relpath / "index.html").write_text("<p>all green, honest</p>")  # in place: a copy
    _build_as_mkdocs(config, site)
    assert "all green" not in (site / relpath / "index.html").read_text()


def test_a_runs_symlink_in_the_site_is_not_followed_and_a_leftover_is_removed(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "2026").mkdir(parents=True)
    (elsewhere / "2026" / "keep-me.txt").write_text("not the site's")
    site.mkdir()
    (site / "runs").symlink_to(elsewhere, target_is_directory=True)
    (site / kept_runs.KEPT / "2020").mkdir(parents=True)  # a failed build's
    assert kept_runs.keep_runs(site) is None
    assert not (site / kept_runs.KEPT).exists()
    assert (site / "runs").is_symlink()
    assert (elsewhere / "2026" / "keep-me.txt").read_text() == "not the site's"


# --- a nightly build shows what a full build shows -----------------------------------------


def _files_under(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("tamper", ["nothing", "an edited run.json, mtime put back"])
def test_a_nightly_build_gives_the_pages_and_model_of_a_full_build(
    history: dict[str, Any], tmp_path: Path, tamper: str
) -> None:
    config = _config(history)
    runbooks = discover(config.runbooks_dir, config.root)
    at = datetime(2026, 10, 20, 12, tzinfo=UTC)
    nightly_site = tmp_path / "nightly"
    _build_as_mkdocs(config, nightly_site)
    publish(history["store"], history["runbook"], 10, status="warn")
    if tamper != "nothing":
        _flip_byte_keeping_mtime(history["folders"][1] / "run.json")
    _, placed = _build_as_mkdocs(config, nightly_site)  # from the caches of the first build
    assert placed.kept == (3 if tamper == "nothing" else 2)
    nightly = load_model(config, runbooks, at)  # the caches as the nightly build left them
    shutil.rmtree(config.state_dir / "site")  # a full build: nothing kept
    full_site = tmp_path / "full"
    full = load_model(config, runbooks, at)
    full_site.mkdir()
    run_pages.write_run_pages(full, full_site)
    assert nightly == full
    assert _files_under(nightly_site) == _files_under(full_site)
    assert len(full.unverified) == (0 if tamper == "nothing" else 1)


def test_the_cyclic_collector_rests_while_the_records_are_read_and_only_then(
    history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(history)
    runbooks = discover(config.runbooks_dir, config.root)
    seen: list[bool] = []
    reading = site_model.read_records

    def read_records(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return reading(*args)

    monkeypatch.setattr(site_model, "read_records", read_records)
    assert len(load_model(config, runbooks).runs) == 3
    assert seen == [False] and gc.isenabled()
    monkeypatch.setattr(site_model, "read_records", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        load_model(config, runbooks)
    assert gc.isenabled()  # back on after a failed read too
    gc.disable()
    try:
        monkeypatch.setattr(site_model, "read_records", read_records)
        load_model(config, runbooks)
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


def test_a_run_is_listed_in_its_month_in_the_configured_zone(make_project) -> None:
    # A run at 00:15 on 1 January in Kathmandu (18:30 UTC the day before) was listed on
    # "Runs of December 2026", with its time shown as 2027-01-01 00:15.
    project = make_project(
        "version: 1\ntimezone: Asia/Kathmandu\nevidence_dir: evidence\nstate_dir: state\n"
        "runbooks_dir: runbooks\n"
    )
    project.add_runbook("nightly", [("code", "print(1)")])
    store = EvidenceStore(project.evidence)
    started = datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-nightly-0001"
    record = RunRecord(run_id, RunbookRef("nightly"), Status.OK, started, started, started)
    store.publish(store.new_staging(run_id), record)
    config = load_config(project.config)
    model = load_model(config, discover(config.runbooks_dir, config.root))
    assert list(model.by_month) == ["2027/01"]
    [run] = model.runs
    assert run.relpath.startswith("runs/2026/12/")  # the evidence keeps its UTC folder
    page = run_pages.run_page(model, run)
    assert 'href="../../../../runs/2027/01/">2027-01</a>' in page
    # ... and January's month page links the run page where it is, in December's folder
    from upkeep.site.history import month_table

    assert f'href="../../../{run.relpath}/"' in month_table(model, "2027/01")
