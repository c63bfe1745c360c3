"""Responsible for the `upkeep` command line: one module per command, each a thin click wrapper
over a plain function that does the work and returns the exit code; the group and the one place
where errors become exit codes in `group`; everything printed in `console`.
"""

from __future__ import annotations

from upkeep.cli.group import main

__all__ = ["main"]
