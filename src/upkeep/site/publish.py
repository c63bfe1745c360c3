"""Responsible for deploying the site as one version to a local git branch with mike, never pushing.

`mike deploy` builds the site with mkdocs (so the upkeep plugin runs exactly as in
`upkeep site build`) and commits it under `VERSION/` on the branch, with `versions.json` listing
every version and its aliases; `mike set-default` makes the branch's root `index.html` redirect to
the alias (or version). Only the branch ref moves: the checked-out branch, the index and tracked
files stay as they were. The build itself lands in mkdocs' `site_dir`, as for `mkdocs build`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from upkeep.config import Config
from upkeep.errors import UpkeepError

MKDOCS_CONFIG_NAME = "mkdocs.yml"
# A version or alias becomes a directory at the branch's root; keep it a plain, portable name.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
# Files mike itself writes at the branch's root: a version of that name would clobber them.
RESERVED_NAMES = frozenset({"index.html", "versions.json", "404.html"})
# Used only when neither the environment nor git's config names a committer.
FALLBACK_COMMITTER = {
    "GIT_COMMITTER_NAME": ("user.name", "upkeep"),
    "GIT_COMMITTER_EMAIL": ("user.email", "upkeep@localhost"),
}
MIKE_OUTPUT_LINES = 20


@dataclass(frozen=True)
class DeployedVersion:
    """One entry of the branch's `versions.json`."""

    version: str
    title: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Publication:
    """What `publish_version` left on the branch: its new head and every version now on it."""

    repo: Path
    branch: str
    version: str
    alias: str | None
    default: str | None
    commit: str
    source_commit: str | None
    source_dirty: bool
    versions: tuple[DeployedVersion, ...]


def publish_version(
    config: Config,
    version: str,
    alias: str | None = "latest",
    *,
    branch: str = "gh-pages",
    set_default: bool = True,
) -> Publication:
    """Build the site and commit it as `version` (moving `alias` onto it) to the local `branch`.

    With `set_default`, the branch's root redirects to `alias` (or to `version` when there is no
    alias). Raises UpkeepError when the project is not in a git repository, a name is invalid,
    or mike fails (its output is in the message). Nothing is ever pushed.
    """
    _check_name(version, "version")
    if alias is not None:
        _check_name(alias, "alias")
        if alias == version:
            raise UpkeepError(f"alias {alias!r} is the version itself; expected another name")
    repo = _git_toplevel(config.root)
    _check_branch(repo, branch)
    mkdocs_config = config.root / MKDOCS_CONFIG_NAME
    if not mkdocs_config.is_file():
        raise UpkeepError(f"{mkdocs_config}: not found; expected the site's mkdocs config there")
    source_commit = _head_commit(repo)
    source_dirty = bool(_git(repo, "status", "--porcelain").stdout.strip())
    env = _mike_environment(config, repo)
    message = _message(version, source_commit, source_dirty)
    deploy = ["deploy", "--update-aliases", "--message", message, version]
    _mike(config, env, branch, deploy + ([alias] if alias else []))
    default = (alias or version) if set_default else None
    if default is not None:
        _mike(config, env, branch, ["set-default", "--message", f"Default to {default}", default])
    return Publication(
        repo=repo,
        branch=branch,
        version=version,
        alias=alias,
        default=default,
        commit=_git(repo, "rev-parse", f"refs/heads/{branch}").stdout.strip(),
        source_commit=source_commit,
        source_dirty=source_dirty,
        versions=deployed_versions(repo, branch),
    )


def deployed_versions(repo: Path, branch: str = "gh-pages") -> tuple[DeployedVersion, ...]:
    """The versions listed in `branch:versions.json`, newest first; none when it has none."""
    shown = _git(repo, "show", f"refs/heads/{branch}:versions.json", check=False)
    if shown.returncode != 0:
        return ()
    return tuple(
        DeployedVersion(
            version=entry["version"],
            title=entry.get("title", entry["version"]),
            aliases=tuple(sorted(entry.get("aliases", ()))),
        )
        for entry in json.loads(shown.stdout)
    )


def _check_name(name: str, what: str) -> None:
    if not NAME_PATTERN.fullmatch(name) or name in RESERVED_NAMES:
        raise UpkeepError(
            f"{what} {name!r} is not valid; expected letters, digits, '.', '_', '+' or '-', "
            f"starting with a letter or digit, at most 64 characters (e.g. 1.2 or latest), "
            f"and none of {', '.join(sorted(RESERVED_NAMES))}"
        )


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise UpkeepError("git is not installed; publishing the site needs git") from None
    if check and result.returncode != 0:
        raise UpkeepError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result


def _git_toplevel(root: Path) -> Path:
    result = _git(root, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise UpkeepError(
            f"{root} is not inside a git repository; publishing commits the site to a branch "
            "of the repository holding upkeep.yml (run `git init` there first)"
        )
    return Path(result.stdout.strip())


def _check_branch(repo: Path, branch: str) -> None:
    if _git(repo, "check-ref-format", "--branch", branch, check=False).returncode != 0:
        raise UpkeepError(f"branch {branch!r} is not a valid git branch name")
    current = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    # mike moves the branch ref without touching the work tree: on the checked-out branch that
    # would leave every tracked file looking modified.
    if current.returncode == 0 and current.stdout.strip() == branch:
        raise UpkeepError(
            f"branch {branch!r} is checked out in {repo}; expected a branch used only for the "
            "published site (such as gh-pages)"
        )


def _head_commit(repo: Path) -> str | None:
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return head.stdout.strip() or None


def _message(version: str, source_commit: str | None, dirty: bool) -> str:
    source = source_commit[:12] if source_commit else "a repository with no commit yet"
    suffix = " with uncommitted changes" if dirty else ""
    return f"Deploy docs {version} from {source}{suffix} (upkeep site publish)"


def _mike_environment(config: Config, repo: Path) -> dict[str, str]:
    """The environment mike and the mkdocs build it starts run in."""
    env = dict(os.environ)
    # mike starts `mkdocs` from PATH: make it the one installed next to this interpreter.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The upkeep plugin inside that build reads this project's config, not one found elsewhere.
    env["UPKEEP_CONFIG"] = str(config.path)
    # mike commits with `git fast-import`, which needs a committer; a fresh CI machine has none.
    for variable, (config_key, fallback) in FALLBACK_COMMITTER.items():
        if not env.get(variable) and not _git(repo, "config", config_key, check=False).stdout:
            env[variable] = fallback
    return env


def _mike(config: Config, env: dict[str, str], branch: str, args: list[str]) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from mike.driver import main; sys.exit(main())",
        args[0],
        "--config-file",
        str(config.root / MKDOCS_CONFIG_NAME),
        "--branch",
        branch,
        *args[1:],
    ]
    result = subprocess.run(
        command, cwd=config.root, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        tail = "\n".join(output[-MIKE_OUTPUT_LINES:]) or "(no output)"
        raise UpkeepError(f"mike {args[0]} failed (exit {result.returncode}):\n{tail}")
