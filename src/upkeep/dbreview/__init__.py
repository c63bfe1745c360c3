"""Responsible for the weekly database review: the referential audit of every declared and
logical relation (`audit`), the health scripts under `scripts/db-health/<engine>/` (`health`,
their headers read by `scripts`), and one read-only connection per engine family (`interface`,
`sqlite`, `postgresql`) that runs every query under a statement timeout.
"""

from __future__ import annotations
