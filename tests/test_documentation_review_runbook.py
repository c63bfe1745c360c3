"""End-to-end: the real yearly documentation-review runbook, run by the real CLI (papermill, a real
kernel, a real MkDocs build) on a project in a real git repository, with the shipped site's pages
and four things wrong: a page with a broken anchor, a page without an owner, a runbook whose
notebook changed after its page's review, and a runbook showing an `upkeep` option that no longer
exists. Each is found, named in its check and kept as a finding; the triage table covers every
check recorded; the evidence verifies."""

from __future__ import annotations

import json
import shutil
import textwrap
import time
from pathlib import Path

import pytest
from helpers.git import git
from helpers.project import REPO, Project
from helpers.runbook_docs import covers, load_notebook, triage_rows

pytestmark = pytest.mark.slow

NAME = "documentation-review"
NOTEBOOK = REPO / "runbooks" / "yearly" / f"{NAME}.ipynb"
TIDY_STEPS = """## By hand

```sh
upkeep run tidy --parallel 2     # the option was --jobs, and is still
upkeep findings --all
```
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    for name in ("mkdocs.yml", "CHANGELOG.md", "risk-register.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "runbooks" / "yearly").mkdir(parents=True)
    shutil.copy(NOTEBOOK, tmp_path / "runbooks" / "yearly")
    (tmp_path / "upkeep.yml").write_text(
        textwrap.dedent("""\
        version: 1
        timezone: UTC
        evidence_dir: evidence
        state_dir: var/state
        demo: {root: var/demo, http_port: 1}
        """)
    )
    (tmp_path / ".gitignore").write_text("evidence/\nvar/\nsite/\n")
    (tmp_path / "docs" / "reference" / "unowned.md").write_text(
        "# A page nobody owns\n\nSee [the thresholds](observability.md#no-such-heading).\n"
    )
    project = Project(tmp_path)
    project.add_runbook(
        "tidy",
        [("markdown", TIDY_STEPS), ("code", "from upkeep import report")],
        meta={"category": "Cleaning", "references": ["observability.md"], "review_every": "90d"},
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "the project")
    return project


def test_the_review_finds_each_problem_and_names_it(project: Project) -> None:
    reviewed = project.upkeep("docs", "reviewed", "tidy", "--by", "alice")
    assert reviewed.code == 0, reviewed.err
    notebook = project.root / "runbooks" / "daily" / "tidy.ipynb"
    changed = json.loads(notebook.read_text())
    changed["cells"][0]["source"] += "\n\nA step added after the review."
    notebook.write_text(json.dumps(changed, indent=1))
    time.sleep(1.1)  # git dates a commit to the second: make it plainly later than the review
    git(project.root, "commit", "-qam", "tidy: a new step")

    result = project.upkeep("run", NAME, "-p", "check_external_links=false", timeout=300)
    assert result.code == 1, result.text  # failed checks, not an error
    [record] = project.records()
    checks = {check["name"]: check for check in record["checks"]}
    findings = {finding["key"]: finding for finding in record["findings"]}

    links = checks["documentation-review:links"]
    assert links["status"] == "fail" and links["value"] == 1
    [broken] = [key for key in findings if key.startswith("docs:broken-link:")]
    assert broken.startswith("docs:broken-link:reference/unowned/index.html:")
    assert "#no-such-heading" in broken
    assert "no element with id 'no-such-heading'" in findings[broken]["message"]

    owners = checks["documentation-review:owners"]
    assert owners["status"] == "warn" and owners["value"] == 1
    assert "reference/unowned.md" in owners["message"]
    assert "docs:no-owner:reference/unowned.md" in findings

    freshness = checks["documentation-review:freshness"]
    assert freshness["status"] == "warn"
    stale = findings["docs:stale:runbooks/tidy.md"]["message"]
    assert stale.startswith("runbooks/tidy.md (tests): changed since its review, due ")
    # The report lists it with its owner and who reviewed it last.
    shown = _printed(project)
    [line] = [line for line in shown.splitlines() if line.startswith("runbooks/tidy.md ")]
    assert line.split()[1:5] == ["tests", "changed", "since", "its"]
    assert "alice" in line

    commands = checks["documentation-review:commands"]
    assert commands["status"] == "fail" and commands["value"] == 1
    assert "tidy: upkeep run tidy --parallel 2" in commands["message"]
    assert "`upkeep run`: No such option '--parallel'" in commands["message"]
    assert "docs:command:tidy:upkeep run tidy --parallel 2" in findings

    pages = checks["documentation-review:pages"]
    assert pages["status"] == "warn"  # nothing missing; the new page is an orphan
    assert "docs:orphan:reference/unowned/index.html" in findings

    external = checks["documentation-review:external-links"]
    assert external["status"] == "warn"  # not asked: listed as unchecked, never as fine
    assert "unchecked" in external["message"] and "0 broken" in external["message"]

    rows = triage_rows(load_notebook(NOTEBOOK))
    assert [name for name in checks if not covers(rows, name)] == []
    assert len(checks) == 6
    assert project.upkeep("verify").code == 0


def _printed(project: Project) -> str:
    [run] = project.run_dirs()
    nb = json.loads((run / "notebook.ipynb").read_text())
    return "".join(
        "".join(output.get("text", ""))
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
    )


def test_a_site_already_built_is_read_and_not_built_again(project: Project) -> None:
    site = project.root / "built"
    assert project.upkeep("site", "build", "--no-strict", "--site-dir", str(site)).code == 0
    (site / "index.html").write_text(
        (site / "index.html").read_text() + '<a href="plan/#not-there">x</a>'
    )
    result = project.upkeep(
        "run", NAME, "-p", "check_external_links=false", "-p", "site_dir=built", timeout=300
    )
    assert result.code == 1, result.text
    [record] = project.records()
    assert "docs:broken-link:index.html:plan/#not-there" in {f["key"] for f in record["findings"]}
    assert f"site: {site}, read as it was built" in _printed(project)


def test_a_page_mkdocs_cannot_read_fails_the_pages_check_and_names_the_file(
    project: Project,
) -> None:
    bad = project.root / "docs" / "extra" / "bad.md"
    bad.parent.mkdir()
    bad.write_bytes(b"# caf\xe9 \xff\xfe\x00\x00 page\n")
    result = project.upkeep("run", NAME, "-p", "check_external_links=false", timeout=300)
    assert result.code == 1, result.text  # a failed check, not an error with a traceback
    [record] = project.records()
    checks = {check["name"]: check for check in record["checks"]}
    findings = {finding["key"]: finding for finding in record["findings"]}
    pages = checks["documentation-review:pages"]
    assert pages["status"] == "fail"
    assert pages["message"] == (
        "MkDocs cannot build the site with 1 page: extra/bad.md: not UTF-8 (byte 0xe9 at "
        "offset 5); expected UTF-8 text, the only encoding MkDocs reads"
    )
    assert findings["docs:unbuildable:extra/bad.md"]["message"].startswith(
        f"extra/bad.md ({bad}): not UTF-8"
    )
    for unchecked in ("links", "external-links"):  # never "ok" for what was not looked at
        check = checks[f"documentation-review:{unchecked}"]
        assert check["status"] == "warn"
        assert check["message"].startswith("not checked: the site could not be built")
    assert "docs:no-owner:extra/bad.md" not in findings  # its owner is not known, not missing
    assert "Traceback" not in _printed(project)


@pytest.mark.parametrize("site_dir", ["../../..", "/etc"])
def test_a_site_dir_outside_the_project_is_refused_before_anything_runs(
    project: Project, site_dir: str
) -> None:
    result = project.upkeep("run", NAME, "-p", f"site_dir={site_dir}", timeout=60)
    assert result.code == 2, result.text
    assert result.err.strip().splitlines() == [
        f"upkeep: error: runbook {NAME}: parameter site_dir: {site_dir!r} is outside the "
        f"project ({project.root}); expected an existing folder inside the project (relative "
        "to it) holding index.html, or empty"
    ]
    assert project.run_dirs() == []
