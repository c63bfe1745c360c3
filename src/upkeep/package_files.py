"""Responsible for naming where the files upkeep ships beside its code are, in a checkout and in
an installed wheel alike: the shipped runbooks (`runbooks_dir: upkeep:shipped`) and the site's
sources (`mkdocs.yml`, `docs/`, `CHANGELOG.md`) that `upkeep site build` uses when the config
has no `mkdocs.yml` beside it. In a checkout `src/upkeep/shipped/` holds links to the top-level
files; a wheel holds copies.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHIPPED_DIR", "SHIPPED_RUNBOOKS_DIR", "SHIPPED_SITE_DIR"]

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
SHIPPED_RUNBOOKS_DIR = SHIPPED_DIR / "runbooks"
SHIPPED_SITE_DIR = SHIPPED_DIR / "site"
