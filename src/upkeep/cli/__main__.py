"""Responsible for `python -m upkeep.cli`: the same command line as the `upkeep` script."""

from __future__ import annotations

from upkeep.cli.group import main

if __name__ == "__main__":
    main()
