"""Responsible for the pages of earlier runbook versions, `runbooks/<name>/<sha12>.md`: each
version seen in the evidence, shown from the current notebook when it is that version, else from
git at the commit the run recorded (only when the blob's sha256 matches), else from a run's
executed notebook with its outputs left out.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

from upkeep.evidence.layout import read_json
from upkeep.records import RunbookRef
from upkeep.site.markup import frontmatter
from upkeep.site.model import RunView, SiteModel
from upkeep.site.runbook_pages import notebook_markdown


def runbook_versions(model: SiteModel) -> dict[tuple[str, str], RunView]:
    """Each (runbook, sha12) seen in the evidence, with the latest run of that version."""
    seen: dict[tuple[str, str], RunView] = {}
    for run in model.runs:
        if run.sha12 is not None:
            seen[(run.runbook, run.sha12)] = run
    return seen


def version_page(model: SiteModel, name: str, sha12: str, run: RunView) -> str:
    """`runbooks/<name>/<sha12>.md`: the runbook as it was when `run` ran it."""
    nb, source = _version_notebook(model, name, run)
    current = model.registry.get(name)
    title = run.title
    lines = [
        frontmatter(f"{title} at {sha12}", search={"exclude": True}),
        f"# {title} — version `{sha12}`\n",
        f"The runbook `{name}` as it was when runs with this version ran "
        f"(sha256 of the notebook starts with `{sha12}`).\n",
        f"Source of this page: {source}.\n",
    ]
    if current is not None:
        note = (
            "This is the current version."
            if current.sha256[:12] == sha12
            else (f"The current version is `{current.sha256[:12]}`.")
        )
        lines.append(f"{note} [The runbook's page](../{name}.md).\n")
    if nb is None:
        lines.append("*Neither the notebook of this version nor a run's copy could be read.*\n")
    else:
        # This page is one folder below the runbook pages.
        lines += ["## Procedure\n", notebook_markdown(nb, model.registry, "../")]
    return "\n".join(lines)


def _version_notebook(model: SiteModel, name: str, run: RunView) -> tuple[dict | None, str]:
    """The notebook of a version: the current file, else git, else the run's executed copy."""
    ran = run.record.runbook if run.record is not None else None
    current = model.registry.get(name)
    if current is not None and ran is not None and current.sha256 == ran.sha256:
        return json.loads(current.path.read_bytes()), f"the current notebook `{current.relpath}`"
    from_git = _git_notebook(model, ran) if ran is not None else None
    if from_git is not None:
        return from_git
    try:
        path = model.config.evidence_dir / run.relpath / "notebook.ipynb"
        return read_json(path.read_bytes()), f"the executed notebook of run `{run.run_id}`"
    except (OSError, ValueError):
        return None, "not available"


def _git_notebook(model: SiteModel, runbook: RunbookRef) -> tuple[dict, str] | None:
    """The notebook at the commit the run recorded, if git still has that exact version."""
    commit, path = runbook.git_commit, runbook.path
    if commit is None or not path or runbook.git_dirty:
        return None
    try:
        blob = subprocess.run(
            ["git", "-C", str(model.config.root), "show", f"{commit}:{path}"],
            capture_output=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if hashlib.sha256(blob).hexdigest() != runbook.sha256:
        return None
    return json.loads(blob), f"`{path}` at git commit `{commit[:12]}`"
