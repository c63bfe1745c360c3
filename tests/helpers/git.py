"""git with a fixed identity, for tests that make real repositories (no remote, nothing pushed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "upkeep tests",
    "GIT_AUTHOR_EMAIL": "tests@upkeep.invalid",
    "GIT_COMMITTER_NAME": "upkeep tests",
    "GIT_COMMITTER_EMAIL": "tests@upkeep.invalid",
}


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity; return its stdout, fail the test on error."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def converting_git_config(home: Path, git_dir: Path | None = None) -> dict[str, str]:
    """The environment of a user whose git converts line ends on checkout: `core.autocrlf=true`
    and `core.eol=crlf` in `home`'s ~/.gitconfig, `* text eol=crlf` in their global attributes
    file (and in `git_dir`'s info/attributes when given)."""
    home.mkdir(parents=True, exist_ok=True)
    attributes = home / "attributes"
    attributes.write_text("* text eol=crlf\n")
    (home / ".gitconfig").write_text(
        f"[core]\n\tautocrlf = true\n\teol = crlf\n\tattributesFile = {attributes}\n"
    )
    if git_dir is not None:
        (git_dir / "info").mkdir(exist_ok=True)
        (git_dir / "info" / "attributes").write_text("* text eol=crlf\n")
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
