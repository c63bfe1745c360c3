"""A scaffolded runbook is one the registry reads back as written, and is committed clean."""

from __future__ import annotations

import json
from pathlib import Path

from upkeep import registry
from upkeep.scaffold import new_runbook


def test_scaffolded_runbook_reads_back(tmp_path: Path) -> None:
    nb = new_runbook(
        [("markdown", "## Step 1\nLook."), ("code", "x = limit * 2")],
        params="limit: int = 5  # how far",
        metadata={
            "title": "T",
            "summary": "S",
            "cadence": "weekly",
            "category": "C",
            "owner": "o",
            "parameters": {"limit": {"min": 1}},
        },
    )
    path = tmp_path / "runbooks" / "weekly" / "scaffolded.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(nb))
    runbook = registry.discover(tmp_path / "runbooks", tmp_path)["scaffolded"]
    assert (runbook.title, runbook.cadence) == ("T", "weekly")
    [param] = runbook.params
    assert (param.name, param.type, param.default, param.help, param.minimum) == (
        "limit",
        "int",
        5,
        "how far",
        1,
    )
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
