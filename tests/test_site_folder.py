"""The folder a site build empties first: `upkeep site build --site-dir DIR` (or `site.site_dir`)
refuses one whose emptying would lose anything kept, or that holds things but no site built
before, with exit code 2 and nothing deleted. In-process checks of the rule, and the real command
line for the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.project import Project

from upkeep.config import load_config
from upkeep.site.build import SITE_MARKER, site_dir_refusal


@pytest.fixture
def project(make_project) -> Project:
    project = make_project("""\
        version: 1
        evidence_dir: evidence
        state_dir: var/state
        backup: {dir: var/backups}
        metrics: {textfile: var/metrics/upkeep.prom}
    """)
    (project.root / "evidence").mkdir()
    (project.root / "evidence" / "ledger.jsonl").write_text("")
    return project


@pytest.mark.parametrize(
    ("folder", "why"),
    [
        ("evidence", "is or contains the evidence directory"),
        ("var", "is or contains upkeep's state directory"),
        ("var/backups/site", "is inside the backup store"),
        ("var/metrics", "contains what upkeep.yml names as metrics.textfile"),
        (".", "is or contains the project"),
        ("/etc", "/etc is a system tree"),
        ("/var/lib", "/var/lib is a system directory"),
    ],
)
def test_a_folder_whose_emptying_would_lose_something_kept_is_refused(
    project: Project, folder: str, why: str
) -> None:
    config = load_config(project.config)
    refused = site_dir_refusal(project.root / folder, config)
    assert refused is not None and why in refused


def test_a_folder_holding_other_things_is_refused_until_it_holds_a_site(project: Project) -> None:
    config = load_config(project.config)
    folder = project.root / "public"
    assert site_dir_refusal(folder, config) is None  # not there yet
    folder.mkdir()
    assert site_dir_refusal(folder, config) is None  # empty
    (folder / "notes.txt").write_text("mine")
    assert site_dir_refusal(folder, config) == f"{folder} holds notes.txt and no site built before"
    (folder / SITE_MARKER).write_text("")
    assert site_dir_refusal(folder, config) is None
    (folder / SITE_MARKER).unlink()
    (folder / "index.html").write_text("<p>")
    (folder / "sitemap.xml").write_text("<urlset/>")
    assert site_dir_refusal(folder, config) is None  # built by MkDocs before the marker
    assert site_dir_refusal(project.root / "upkeep.yml", config) is not None  # not a folder


def test_a_gh_pages_checkout_and_a_document_root_are_site_folders(
    project: Project, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A build keeps hidden entries: a checkout's .git stays. A web server's document root in a
    # system tree is the site's folder when it is empty or holds a site.
    config = load_config(project.config)
    pages = project.root / "gh-pages"
    (pages / ".git").mkdir(parents=True)
    (pages / "index.html").write_text("<p>")
    (pages / "sitemap.xml").write_text("<urlset/>")
    assert site_dir_refusal(pages, config) is None
    assert site_dir_refusal(Path("/usr/share/nginx/html-not-there"), config) is None
    assert "/usr is a system tree" in (site_dir_refusal(Path("/usr"), config) or "")
    assert "holds" in (site_dir_refusal(Path("/usr/share"), config) or "")  # not a site


def test_a_symlink_to_a_kept_folder_is_refused_as_that_folder(project: Project) -> None:
    (project.root / "public").symlink_to(project.root / "evidence")
    config = load_config(project.config)
    refused = site_dir_refusal(project.root / "public", config)
    assert refused is not None and "is or contains the evidence directory" in refused


@pytest.mark.slow
def test_site_build_into_the_evidence_is_refused_and_deletes_nothing(project: Project) -> None:
    before = sorted(p.relative_to(project.root) for p in project.root.rglob("*"))
    refused = project.upkeep("site", "build", "--site-dir", "evidence")
    assert refused.code == 2, refused.text
    assert "is or contains the evidence directory" in refused.err
    assert sorted(p.relative_to(project.root) for p in project.root.rglob("*")) == before
    built = project.upkeep("site", "build", "--site-dir", "public", "--no-strict", timeout=300)
    assert built.code == 0, built.text
    assert (project.root / "public" / SITE_MARKER).is_file()
    again = project.upkeep("site", "build", "--site-dir", "public", "--no-strict", timeout=300)
    assert again.code == 0, again.text
