"""Responsible for the git repository that anchors the evidence: finding it (a separate evidence
repository, or the one holding the evidence folder), and running git plumbing in it against the
evidence branch — never its checked-out branch, its index or its working tree — including
writing a commit's files out byte for byte, as they were committed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError

# Used only when neither the environment nor git's config names one: a fresh CI machine has none.
FALLBACK_IDENTITY = {
    "NAME": ("user.name", "upkeep"),
    "EMAIL": ("user.email", "upkeep@localhost"),
}
GIT_OUTPUT_LINES = 20
REGULAR_MODES = ("100644", "100755")  # git's modes of a regular file
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TreeFile:
    """One entry of a commit's tree: its git mode, object id and path."""

    mode: str
    oid: str
    path: str


@dataclass(frozen=True)
class EvidenceRepo:
    """The git directory holding the evidence branch, and the branch's name."""

    git_dir: Path
    branch: str

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    def git(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `git --git-dir=<this> ARGS`; EvidenceError with git's own words when it fails."""
        command = ["--git-dir", str(self.git_dir), *args]
        return run_git(command, env=env, stdin=stdin, check=check, cwd=cwd)

    def text(
        self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None
    ) -> str:
        """git's stdout, decoded and stripped."""
        return self.git(*args, env=env, stdin=stdin).stdout.decode().strip()

    def tip(self) -> str | None:
        """The evidence branch's commit, or None before the first anchor."""
        shown = self.git("rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}", check=False)
        return shown.stdout.decode().strip() or None

    def blob(self, commit: str, path: str) -> bytes | None:
        """The content of `path` in `commit`, or None when the commit has no such file."""
        shown = self.git("cat-file", "blob", f"{commit}:{path}", check=False)
        return shown.stdout if shown.returncode == 0 else None

    def files(self, commit: str, *paths: str) -> list[TreeFile]:
        """Every file under `paths` in `commit`'s tree (all of it without `paths`)."""
        listed = self.git("ls-tree", "-r", "-z", "--full-tree", commit, "--", *paths).stdout
        files = []
        for row in listed.decode().split("\0"):
            if row:
                info, path = row.split("\t", 1)
                mode, _, oid = info.split(" ")
                files.append(TreeFile(mode, oid, path))
        return files

    def write_files(self, files: list[TreeFile], into: Path) -> None:
        """Write each of `files` (regular files) under `into` exactly as committed: the blobs
        are read raw, never through checkout or archive, which convert line ends and apply
        filters as the user's git config (core.autocrlf, core.eol) and any attributes say.
        EvidenceError for a path that would leave `into` or pass through a symlink, or a file
        that is there already (never overwritten)."""
        command = ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as child:
            assert child.stdin is not None and child.stdout is not None
            try:
                for file in files:
                    child.stdin.write(f"{file.oid}\n".encode())
                    child.stdin.flush()  # cat-file answers each line before reading the next
                    header = child.stdout.readline().split()
                    if len(header) != 3 or header[1] != b"blob":
                        raise EvidenceError(f"git has no file {file.path} ({file.oid})")
                    _write_blob(child.stdout, int(header[2]), _target(into, file.path))
                    child.stdout.read(1)  # the newline after the content
            finally:
                child.stdin.close()
                child.kill()

    def identity(self) -> dict[str, str]:
        """The environment for a commit or a tag: the author and committer git would use, or
        upkeep's own when git has none."""
        env = dict(os.environ)
        for suffix, (key, fallback) in FALLBACK_IDENTITY.items():
            configured = self.git("config", key, check=False).stdout.decode().strip()
            for role in ("AUTHOR", "COMMITTER"):
                variable = f"GIT_{role}_{suffix}"
                if not env.get(variable) and not configured:
                    env[variable] = fallback
        return env


def run_git(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    try:
        result = subprocess.run(
            ["git", *args], input=stdin, capture_output=True, env=env, cwd=cwd, check=False
        )
    except FileNotFoundError:
        raise EvidenceError("git is not installed; anchoring the evidence needs git") from None
    if check and result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip().splitlines()[-GIT_OUTPUT_LINES:]
        shown = " ".join(args[2:] if args[:1] == ["--git-dir"] else args)
        raise EvidenceError(f"git {shown} failed: {' / '.join(said) or 'no message'}")
    return result


def open_repo(evidence_dir: Path, settings: EvidenceGit) -> EvidenceRepo:
    """The repository the evidence is anchored in: `settings.repository`, or the one holding
    `evidence_dir`. EvidenceError when there is none, or when the evidence branch is the
    checked-out one (moving its ref would leave the working tree looking modified)."""
    where = settings.repository or evidence_dir
    if not where.is_dir():
        raise EvidenceError(
            f"{where} does not exist: there is no evidence to anchor yet (run `upkeep run` first)"
        )
    found = run_git(["rev-parse", "--absolute-git-dir"], cwd=where, check=False)
    if found.returncode != 0:
        raise EvidenceError(
            f"{where} is not inside a git repository; anchoring commits the evidence to a branch "
            "of the repository holding it, or of the one evidence_git.repository names in "
            "upkeep.yml (create one with `git init --bare PATH`)"
        )
    repo = EvidenceRepo(Path(found.stdout.decode().strip()), settings.branch)
    head = repo.git("symbolic-ref", "--quiet", "HEAD", check=False).stdout.decode().strip()
    bare = repo.text("rev-parse", "--is-bare-repository") == "true"
    if head == repo.ref and not bare:
        raise EvidenceError(
            f"branch {settings.branch!r} is checked out in {where}; expected a branch used only "
            "for the evidence (evidence_git.branch in upkeep.yml)"
        )
    return repo


def _target(into: Path, path: str) -> Path:
    """Where `path` goes under `into`, its folders made; EvidenceError when it would leave
    `into` or pass through a symlink."""
    parts = path.split("/")
    if any(part in ("", ".", "..", ".git") for part in parts):
        raise EvidenceError(f"{path}: not a path inside the evidence; nothing more was written")
    folder = into
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise EvidenceError(f"{folder} is not a folder; {path} was not written")
        folder.mkdir(exist_ok=True)
    return folder / parts[-1]


def _write_blob(source: IO[bytes], size: int, target: Path) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(target, flags, 0o666)
    except FileExistsError:
        raise EvidenceError(f"{target} is there already; it was not overwritten") from None
    with os.fdopen(fd, "wb") as handle:
        while size:
            chunk = source.read(min(size, _CHUNK))
            if not chunk:
                raise EvidenceError(f"git stopped before the end of {target}")
            handle.write(chunk)
            size -= len(chunk)
