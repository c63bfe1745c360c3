"""Publishing the site with mike into a temporary git repository that has no remote."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from helpers.browser import serve
from helpers.git import git
from helpers.project import Project
from helpers.site_repo import export_branch, make_site_repository

from upkeep.config import load_config
from upkeep.errors import UpkeepError
from upkeep.site.publish import DeployedVersion, publish_version

pytestmark = pytest.mark.slow  # mike builds the site with mkdocs, twice per test

MARKER = "Second release of these docs."
# A hand-written page of the site whose text differs between the two deployed versions.
CHANGED_PAGE = Path("docs/about/versions.md")


@pytest.fixture
def site_repo(tmp_path: Path) -> Path:
    return make_site_repository(tmp_path / "project")


def _state(repo: Path) -> dict[str, str]:
    """What publishing must never change: the checkout, its branch, status and remotes."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "status": git(repo, "status", "--porcelain"),
        "remotes": git(repo, "remote"),
    }


def _theme_config(html: str) -> dict:
    """Material's page configuration, the JSON in `<script id="__config">`."""
    [text] = re.findall(r'<script id="__config" type="application/json">(.*?)</script>', html)
    return json.loads(text)


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def test_two_versions_with_latest_alias_and_default(site_repo: Path, tmp_path: Path) -> None:
    config = load_config(site_repo / "upkeep.yml")
    initial = _state(site_repo)
    first = publish_version(config, "1.0")
    assert _state(site_repo) == initial
    assert first.versions == (DeployedVersion("1.0", "1.0", ("latest",)),)

    with (site_repo / CHANGED_PAGE).open("a") as page:
        page.write(f"\n{MARKER}\n")
    git(site_repo, "commit", "--quiet", "--all", "--message", "Docs for 2.0")
    before = _state(site_repo)
    second = publish_version(config, "2.0")

    assert _state(site_repo) == before
    assert git(site_repo, "branch", "--list", "--format=%(refname:short)").split() == [
        "gh-pages",
        "main",
    ]
    assert before["remotes"] == ""
    # The site's history is its own: gh-pages shares no commit with main.
    assert git(site_repo, "rev-list", "gh-pages").strip().splitlines()[-1] not in git(
        site_repo, "rev-list", "main"
    )
    assert second.commit == git(site_repo, "rev-parse", "gh-pages").strip()
    assert second.source_commit == before["head"].strip()
    assert second.default == "latest"
    # versions.json, newest first, carries the alias on the newer version only.
    assert second.versions == (
        DeployedVersion("2.0", "2.0", ("latest",)),
        DeployedVersion("1.0", "1.0", ()),
    )
    top = set(git(site_repo, "ls-tree", "--name-only", "gh-pages").split())
    assert {"1.0", "2.0", "latest", "versions.json", "index.html"} <= top

    served = export_branch(site_repo, "gh-pages", tmp_path / "served")
    with serve(served) as base:
        root = _fetch(f"{base}/")
        [target] = re.findall(r'url=([^"]+)"', root)
        assert target == "latest/"
        page = CHANGED_PAGE.relative_to("docs").with_suffix("")
        assert MARKER in _fetch(f"{base}/{target}{page}/")
        assert MARKER in _fetch(f"{base}/2.0/{page}/")
        assert MARKER not in _fetch(f"{base}/1.0/{page}/")
        # Material's version selector reads versions.json when the theme is told to.
        assert _theme_config(_fetch(f"{base}/latest/"))["version"] == {"provider": "mike"}


def test_a_version_without_alias_on_a_machine_with_no_git_identity(
    site_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh CI machine: no user.name / user.email anywhere, no committer in the environment.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    config = load_config(site_repo / "upkeep.yml")
    published = publish_version(config, "0.9", None)
    assert published.versions == (DeployedVersion("0.9", "0.9", ()),)
    assert published.default == "0.9"
    assert 'url=0.9/"' in git(site_repo, "show", "gh-pages:index.html")
    assert git(site_repo, "log", "-1", "--format=%cn <%ce>", "gh-pages").strip() == (
        "upkeep <upkeep@localhost>"
    )


@pytest.mark.parametrize(
    ("version", "alias"),
    [
        ("", "latest"),
        ("../up", "latest"),
        ("a/b", None),
        ("1.0 beta", None),
        ("-f", None),
        ("index.html", None),
        ("versions.json", None),
        ("1.0", "1.0"),
        ("1.0", "late st"),
        ("1.0\n", None),  # `$` also matches before a final line break
        ("1.0", "latest\n"),
    ],
)
def test_bad_names_are_refused_before_anything_is_built(
    site_repo: Path, version: str, alias: str | None
) -> None:
    config = load_config(site_repo / "upkeep.yml")
    with pytest.raises(UpkeepError, match="not valid|is the version itself") as raised:
        publish_version(config, version, alias)
    assert raised.value.exit_code == 2
    assert git(site_repo, "branch", "--list", "gh-pages") == ""
    assert not (site_repo / "site").exists()


def test_outside_a_git_repository_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    project = tmp_path / "project"
    project.mkdir()
    (project / "upkeep.yml").write_text("version: 1\n")
    (project / "mkdocs.yml").write_text("site_name: x\n")
    with pytest.raises(UpkeepError, match="not inside a git repository") as raised:
        publish_version(load_config(project / "upkeep.yml"), "1.0")
    assert raised.value.exit_code == 2


def test_the_checked_out_branch_is_refused(site_repo: Path) -> None:
    head = git(site_repo, "rev-parse", "HEAD")
    with pytest.raises(UpkeepError, match="'main' is checked out"):
        publish_version(load_config(site_repo / "upkeep.yml"), "1.0", branch="main")
    assert git(site_repo, "rev-parse", "HEAD") == head


def test_a_mike_failure_carries_its_message(site_repo: Path) -> None:
    (site_repo / "mkdocs.yml").write_text(
        "site_name: Broken\ntheme:\n  name: no-such-theme-for-upkeep-tests\n"
    )
    with pytest.raises(UpkeepError, match="mike deploy failed") as raised:
        publish_version(load_config(site_repo / "upkeep.yml"), "1.0")
    assert "no-such-theme-for-upkeep-tests" in str(raised.value)
    assert git(site_repo, "branch", "--list", "gh-pages") == ""


def test_the_cli_reports_a_bad_version_and_exits_2(site_repo: Path) -> None:
    result = Project(site_repo).upkeep("site", "publish", "../1.0")
    assert result.code == 2, result.text
    assert "version '../1.0' is not valid" in result.err
    assert "Traceback" not in result.text
    assert git(site_repo, "branch", "--list", "gh-pages") == ""
