"""Responsible for the macros that hand-written pages call (mkdocs-macros module
`upkeep.site.macros`): `dashboard()`, `checklist()`, `changelog()`, and the disaster drill's
`recovery_targets()` and `drill_trend()`, and the support policy's `support_policy()`.

Only pages whose front matter says `render_macros: true` are rendered (`render_by_default: false`
in mkdocs.yml), so `{{` in a notebook output or a shell snippet elsewhere is left alone. The
macros read the model the `upkeep` plugin built for this build; they never read evidence again.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from upkeep.site import checklist as plan_checklist
from upkeep.site import dashboard as home
from upkeep.site import drill
from upkeep.site import support as support_pages
from upkeep.site.plugin import UpkeepPlugin

CHANGELOG = "CHANGELOG.md"


def define_env(env: Any) -> None:
    """Register the macros with mkdocs-macros."""

    @env.macro
    def dashboard() -> str:
        """Every runbook with its last status, last run, next due and recent runs; findings."""
        return home.dashboard(_plugin(env).site_model(), _page_url(env))

    @env.macro
    def checklist() -> str:
        """The plan's checklist table, one row per task and implementing runbook."""
        plugin = _plugin(env)
        return plan_checklist.checklist(plugin.site_model(), plugin.plan_tasks(), _page_src(env))

    @env.macro
    def recovery_targets() -> str:
        """The RPO and RTO targets of every database and service, from upkeep.yml."""
        return drill.recovery_targets(_plugin(env).site_model().config)

    @env.macro
    def drill_trend() -> str:
        """The RPO and RTO each disaster drill measured, newest first."""
        return drill.drill_trend(_plugin(env).site_model(), _page_url(env))

    @env.macro
    def support_policy() -> str:
        """Support channels, business hours, and per severity the SLA targets and escalation,
        from upkeep.yml's `support:` section (the same config the SLA clock enforces)."""
        return support_pages.policy_markdown(_plugin(env).site_model().config)

    @env.macro
    def changelog() -> str:
        """What the next release will say (the fragments not yet released), then CHANGELOG.md."""
        root = Path(env.conf.config_file_path).parent
        return unreleased(root) + changelog_body(root / CHANGELOG)


def unreleased(root: Path) -> str:
    """towncrier's draft of the next release from changelog/ fragments, or "" when there are none.

    A draft that cannot be made is a build error, not a silently shorter changelog."""
    if not any(path.is_file() for path in (root / "changelog").glob("*.*.md")):
        return ""
    if not _towncrier_configured(root):
        return ""
    result = subprocess.run(
        [sys.executable, "-m", "towncrier", "build", "--draft", "--version", "unreleased"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    draft = result.stdout.strip()
    if result.returncode != 0 or not draft.startswith("## "):
        raise PluginError(f"towncrier could not draft the changelog: {result.stderr.strip()}")
    draft = re.sub(r"\A## [^\n]*", "## Unreleased\n\nFrom the fragments in `changelog/`:", draft)
    return draft + "\n\n"


def _towncrier_configured(root: Path) -> bool:
    """Whether the project configures towncrier (towncrier.toml, or [tool.towncrier])."""
    if (root / "towncrier.toml").is_file():
        return True
    pyproject = root / "pyproject.toml"
    return pyproject.is_file() and "[tool.towncrier]" in pyproject.read_text(encoding="utf-8")


def changelog_body(path: Path) -> str:
    """The changelog's text without its `# ` title and towncrier's marker comment."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "*No changelog has been built yet (`towncrier build`).*\n"
    text = re.sub(r"\A\s*# [^\n]*\n", "", text)
    text = text.replace("<!-- towncrier release notes start -->", "")
    return text.strip() + "\n" if text.strip() else "*No releases yet.*\n"


def _plugin(env: Any) -> UpkeepPlugin:
    for plugin in env.conf.plugins.values():
        if isinstance(plugin, UpkeepPlugin):
            return plugin
    raise PluginError("the upkeep macros need the upkeep plugin: add `- upkeep` to plugins")


def _page_src(env: Any) -> str:
    page = getattr(env, "page", None)
    return page.file.src_uri if page is not None else "index.md"


def _page_url(env: Any) -> str:
    page = getattr(env, "page", None)
    return page.url if page is not None else ""
