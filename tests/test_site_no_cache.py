"""`upkeep site build --no-cache`: a build that reads none of the caches earlier builds left under
state_dir (verified runs, rendered run pages, report copies, records, search entries), for when
state_dir may not be trusted: what it publishes comes from the evidence alone. The real command
line over runs published through the real evidence store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from helpers.site_history import daily_history

from upkeep.site.run_page_store import STORE_DIR


def _build(project: Any, site: Path, *extra: str) -> None:
    built = project.upkeep(
        "site", "build", "--site-dir", str(site), "--no-strict", *extra, timeout=300
    )
    assert built.code == 0, built.text


def _rewrite_keeping_mtime(path: Path, data: bytes) -> None:
    info = path.stat()
    with path.open("r+b") as handle:  # in place: the same inode, as a hard link shares it
        handle.write(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


@pytest.mark.slow
def test_a_build_without_caches_publishes_the_evidence_not_a_kept_copy(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    history = daily_history(tmp_path / "project")
    project, folder = history["project"], history["folders"][1]
    site = tmp_path / "site"
    _build(project, site)
    relpath = folder.relative_to(project.evidence).as_posix()
    evidence = (folder / "report.html").read_bytes()
    kept = project.root / "state" / STORE_DIR / relpath / "report.html"
    assert kept.read_bytes() == evidence
    # Someone who may write state_dir rewrites the kept copy, its size and mtime kept.
    forged = evidence.replace(b"<p>ok</p>", b"<p>OK</p>")
    assert forged != evidence and len(forged) == len(evidence)
    _rewrite_keeping_mtime(kept, forged)

    _build(project, site, "--no-cache")

    assert (site / relpath / "report.html").read_bytes() == evidence
    assert not list((project.root / "state").glob(".site-no-cache-*"))  # its own caches went
    # And what it verified, it verified itself: a tampered run is red.
    (history["folders"][2] / "report.html").write_bytes(b"<p>tampered</p>")
    _build(project, site, "--no-cache")
    assert "Evidence does NOT verify" in (site / "index.html").read_text()
