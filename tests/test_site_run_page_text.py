"""A run's page on the site shows the control characters and bidirectional overrides a run
recorded (in a check's name, its message) as signs, as report.html and the console do: a NUL,
a terminal's colour codes and a right-to-left override that would make a verdict read backwards
were published as they were."""

from __future__ import annotations

from helpers.project import Project
from helpers.site_history import publish

from upkeep.evidence import EvidenceStore

OVERRIDE = "\u202e"


def test_a_run_page_shows_control_characters_and_overrides_as_signs(project: Project) -> None:
    runbook = project.add_runbook("daily-check", [("code", "x = 1")])
    check = {
        "name": f"disk:{OVERRIDE}kcehc",
        "status": "fail",
        "message": f"bin \x00 \x1b[31mred\x1b[0m {OVERRIDE}KO si lla",
    }
    published = publish(EvidenceStore(project.evidence), runbook, 1, "fail", [check])

    built = project.upkeep("site", "build")

    assert built.code == 0, built.err
    page = project.root / "site" / published.relative_to(project.evidence) / "index.html"
    text = page.read_text()
    for code in (0x00, 0x1B, 0x202E):
        assert chr(code) not in text, hex(code)
    assert "disk:&lt;U+202E&gt;kcehc" in text
    assert "bin \u2400 \u241b[31mred\u241b[0m &lt;U+202E&gt;KO si lla" in text
