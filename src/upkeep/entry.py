"""Responsible for the `upkeep` script: the command line (`upkeep.cli`), imported inside a
guard, so that Ctrl-C while its modules load ends as it does later, with one line and exit code
130, never a traceback. (The group installs its own handling once loaded.)"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from upkeep.cli.group import main as group
    except KeyboardInterrupt:
        print("\nupkeep: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    group()
