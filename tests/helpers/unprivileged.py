"""Running a piece of Python where file permissions apply: as root (the tests run as root), in a
child process stripped of the capabilities that bypass them (`CAP_DAC_OVERRIDE`,
`CAP_DAC_READ_SEARCH`) with util-linux's `setpriv`; as anyone else, a plain child process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

_DROPPED = "-dac_override,-dac_read_search"


def run_bound_by_permissions(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -c code args…` in a process that file modes bind; skip (fail under CI=true) when
    that cannot be arranged."""
    command = [sys.executable, "-c", code, *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            reason = "setpriv (util-linux) is needed to drop root's permission override"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        command = [setpriv, "--bounding-set", _DROPPED, "--inh-caps", _DROPPED, *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)
