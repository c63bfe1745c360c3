"""Responsible for running MkDocs on the project's site: `build_site` and `serve_site`.

MkDocs runs in a child process (its own command line, as `nox -s docs` or `mike deploy` would run
it), with `UPKEEP_CONFIG` naming the config so the `upkeep` plugin reads the same system, and with
mkdocs-macros' INFO chatter (which modules and variables it found) kept out of the output: its
warnings and errors still show.
When upkeep is interrupted (Ctrl-C, or SIGTERM or SIGHUP, which the command line turns into the
same interruption) the child is stopped before upkeep ends: no server is left answering.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from upkeep.config import Config
from upkeep.errors import UpkeepError

MKDOCS_CONFIG_NAME = "mkdocs.yml"
STOP_GRACE_S = 10.0  # how long mkdocs has to stop after SIGTERM before it is killed
# mkdocs' own command line, with mkdocs-macros' logger (`mkdocs.plugins.mkdocs_macros.*`) at
# WARNING: mkdocs-macros has no setting that silences its INFO lines.
_MKDOCS_MAIN = (
    "import logging, sys; "
    "logging.getLogger('mkdocs.plugins.mkdocs_macros').setLevel(logging.WARNING); "
    "from mkdocs.__main__ import cli; "
    "sys.exit(cli(prog_name='mkdocs'))"
)


def mkdocs_config(config: Config) -> Path:
    """`mkdocs.yml` beside upkeep.yml; UpkeepError when it is not there."""
    path = config.root / MKDOCS_CONFIG_NAME
    if not path.is_file():
        raise UpkeepError(
            f"{path}: not found; expected the site's mkdocs config beside {config.path.name}"
        )
    return path


def build_site(config: Config, site_dir: Path | None = None, strict: bool = True) -> Path:
    """Build the whole site (hand-written and generated pages, run reports); return its folder."""
    path = mkdocs_config(config)
    args = ["build", "--config-file", str(path), "--strict" if strict else "--no-strict"]
    if site_dir is not None:
        args += ["--site-dir", str(Path(site_dir).resolve())]
    _mkdocs(config, args, "build")
    return Path(site_dir).resolve() if site_dir is not None else _configured_site_dir(path)


def serve_site(config: Config, dev_addr: str = "127.0.0.1:8000") -> None:
    """Serve the site with live reload until interrupted."""
    path = mkdocs_config(config)
    _mkdocs(config, ["serve", "--config-file", str(path), "--dev-addr", dev_addr], "serve")


def _mkdocs(config: Config, args: list[str], what: str) -> None:
    env = {**os.environ, "UPKEEP_CONFIG": str(config.path), "NO_MKDOCS_2_WARNING": "1"}
    child = subprocess.Popen([sys.executable, "-c", _MKDOCS_MAIN, *args], cwd=config.root, env=env)
    try:
        code = child.wait()
    except BaseException:
        # Ctrl-C on a terminal reaches mkdocs too; a signal sent to upkeep alone (a service
        # manager's SIGTERM) must not leave a server running.
        _stop(child)
        raise
    if code != 0:
        raise UpkeepError(f"mkdocs {what} failed (exit {code}); its messages are above")


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _configured_site_dir(path: Path) -> Path:
    import yaml

    # mkdocs.yml may hold !!python tags (Material's emoji); only site_dir is wanted here.
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    return (path.parent / str(data.get("site_dir") or "site")).resolve()
