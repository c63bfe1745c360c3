"""Responsible for the one stylesheet the generated pages share (status colours, run pages),
kept as `upkeep/rendering/templates/site.css` and written once per build to `assets/upkeep.css`:
Material pages load it through `extra_css`, run pages link it instead of carrying their own copy,
which keeps each run page small.
"""

from __future__ import annotations

from upkeep.rendering.run_record import stylesheet

STYLESHEET_URI = "assets/upkeep.css"


def site_stylesheet() -> str:
    return stylesheet("site.css")
