"""End-to-end: the real quarterly-review runbook, run by the real CLI (papermill, a real kernel) on
the shipped demo project whose evidence holds a synthetic quarter (tests/helpers/quarter.py);
then its report's links to the monthly reviews, the proposals in `upkeep backlog`, `upkeep
verify`, and the site: the plan's checklist row and the run page the links lead to."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from helpers.project import REPO, Project, copy_policy_files
from helpers.quarter import write_quarter
from helpers.runbook_docs import covers, load_notebook, triage_rows

from upkeep.evidence import EvidenceStore, verify

pytestmark = pytest.mark.slow

NAME = "quarterly-review"
NOTEBOOK = REPO / "runbooks" / "quarterly" / f"{NAME}.ipynb"


@pytest.fixture
def shipped(tmp_path: Path) -> Project:
    for name in ("runbooks", "docs", "demo"):
        shutil.copytree(REPO / name, tmp_path / name)
    for name in ("mkdocs.yml", "pyproject.toml", "CHANGELOG.md"):
        shutil.copy(REPO / name, tmp_path / name)
    copy_policy_files(tmp_path)
    config = yaml.safe_load((REPO / "upkeep.yml").read_text().replace("8765", "1"))
    (tmp_path / "upkeep.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Project(tmp_path)


def test_the_quarterly_review_on_the_demo_with_a_quarter_of_evidence(shipped: Project) -> None:
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    planted = write_quarter(EvidenceStore(shipped.evidence), end)
    result = shipped.upkeep("run", NAME, "--no-demo-service", timeout=300)
    assert result.code == 0, result.text
    [record] = [r for r in shipped.records() if r["runbook"]["name"] == NAME]
    assert record["status"] == "warn", record
    checks = {c["name"]: c for c in record["checks"]}
    assert checks["quarterly-review:monthly-reviews"]["status"] == "ok"
    assert checks["quarterly-review:failed-every-month"]["message"] == "broken"
    rows = triage_rows(load_notebook(NOTEBOOK))
    assert [name for name in checks if not covers(rows, name)] == []
    metrics = {m["name"]: m["value"] for m in record["metrics"]}
    assert metrics["quarter_monthly_reviews"] == 3 and metrics["quarter_backlog_opened"] == 1
    keys = {f["key"] for f in record["findings"]}
    assert {"plan:runbook:broken", "plan:threshold:warner:latency"} <= keys
    assert "plan:restore-time:backup-check:database=app" in keys
    assert "no drill this quarter" not in record["summary"]

    # The report links each monthly review it drew on, and shows the trend plots.
    run_dir = next(d for d in shipped.run_dirs() if NAME in d.name)
    report = (run_dir / "report.html").read_text()
    links = re.findall(r'href="(\.\./\.\./\.\./[^"]+)"', report)
    assert [link.rstrip("/").rsplit("/", 1)[1] for link in links] == planted.reviews[-3:]
    for link in links:  # each resolves to the review's run folder beside this one
        assert (run_dir / link).resolve().is_dir(), link
    assert report.count("data:image/png;base64,") >= 3
    assert "report: " in report  # where each review's report is kept, for a reader by hand
    assert "P1 none resolved" in report and "RTO 2400 s, RPO 300 s" in report

    # Its proposals are backlog items for the plan's owner (the shipped config: the on-call lead).
    items = json.loads(shipped.upkeep("backlog", "list", "--json").out)
    proposals = [i for i in items if i["runbook"] == NAME]
    assert {i["key"] for i in proposals} == keys
    assert {i["owner"] for i in proposals} == {"oncall-lead"}
    assert verify(shipped.evidence).ok

    # The site: the plan's checklist has the quarterly task with its runbook, and the links of
    # the report lead to the monthly reviews' run pages.
    site = shipped.upkeep("site", "build", timeout=300)
    assert site.code == 0, site.err
    plan = (shipped.root / "site" / "plan" / "index.html").read_text()
    [row] = [r for r in re.findall(r"<tr>(.*?)</tr>", plan, re.S) if "Quarterly Review" in r]
    assert "quarterly" in row and 'href="../runbooks/quarterly-review/"' in row
    page = shipped.root / "site" / run_dir.relative_to(shipped.evidence)
    for link in links:
        target = Path(posixpath.normpath(page / link))
        assert (target / "index.html").is_file(), target
    # The site's Quarterly review page shows the same quarter, its monthly reviews linked.
    quarter_page = (shipped.root / "site" / "quarterly-review" / "index.html").read_text()
    for run_id in planted.reviews[-3:]:
        assert f"{run_id[:4]}/{run_id[4:6]}/{run_id}/" in quarter_page
    assert "quarterly-review/backup_restore_seconds.svg" in quarter_page
    # ... and the plot itself, drawn by the build's plot worker and copied into the site.
    svg = shipped.root / "site" / "quarterly-review" / "backup_restore_seconds.svg"
    assert svg.read_text(encoding="utf-8").startswith("<?xml") and "<svg" in svg.read_text()
