"""upkeep.site.build: MkDocs run as its own process; what it prints is what a person needs (mkdocs'
own lines and every warning), not mkdocs-macros' INFO chatter about what it loaded."""

from __future__ import annotations

import textwrap

import pytest
from helpers.project import Project

pytestmark = pytest.mark.slow


def test_a_site_build_prints_no_macros_chatter_and_still_its_warnings(project: Project) -> None:
    (project.root / "docs").mkdir()
    (project.root / "docs" / "index.md").write_text(
        "---\nrender_macros: true\n---\n# Home\n\nBuilt by {{ config.site_name }}.\n"
    )
    (project.root / "mkdocs.yml").write_text(
        textwrap.dedent("""\
        site_name: quiet-site
        plugins:
          - macros:
              render_by_default: false
        """)
    )
    result = project.upkeep("site", "build", timeout=300)
    assert result.code == 0, result.text
    assert "[macros]" not in result.err  # was seven INFO lines about modules and variables
    assert "Documentation built in" in result.err  # mkdocs' own lines stay
    index = (project.root / "site" / "index.html").read_text()
    assert "Built by quiet-site." in index  # the plugin ran

    (project.root / "docs" / "index.md").write_text("# Home\n\nSee [the guide](missing.md).\n")
    broken = project.upkeep("site", "build", timeout=300)
    assert broken.code != 0
    assert "WARNING" in broken.err and "missing.md" in broken.err  # warnings still show
