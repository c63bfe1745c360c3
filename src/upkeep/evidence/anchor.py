"""Responsible for anchoring the evidence in git: `commit_evidence` commits the new run folders
and the ledger to the evidence branch (one commit, the ledger's head in its message, a signed
tag when a key is set), refusing a commit that would change or delete an anchored run folder or
rewrite anchored ledger lines; `anchors` reads the anchors back.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError
from upkeep.evidence.git_repo import EvidenceRepo, open_repo
from upkeep.evidence.layout import GENESIS, LEDGER, RUNS, read_json
from upkeep.evidence.store import EvidenceStore
from upkeep.evidence.verify import verify

SEQ_TRAILER = "Ledger-Seq"
HEAD_TRAILER = "Ledger-Head"
SSH_SIGNATURE = b"-----BEGIN SSH SIGNATURE-----"
_TRAILER = re.compile(rf"^({SEQ_TRAILER}|{HEAD_TRAILER}): (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Anchor:
    """One commit on the evidence branch: the ledger head it holds and when it was made."""

    commit: str
    committed_at: datetime
    seq: int
    head: str
    tag: str | None = None  # the tag upkeep made on it, when a signing key was set
    signed: bool = False  # the tag carries an ssh signature (checked only by `verify --anchor`)


@dataclass(frozen=True)
class AnchorResult:
    """What `commit_evidence` did: the new anchor (None: nothing new) and the runs it added."""

    repo: EvidenceRepo
    anchor: Anchor | None
    runs_added: tuple[str, ...]
    previous: Anchor | None


def commit_evidence(evidence_dir: Path, settings: EvidenceGit) -> AnchorResult:
    """Commit the evidence folder's ledger and run folders to the evidence branch, once.

    The evidence must verify first. The tree is built in a temporary index from the branch's
    last commit plus the folder's `ledger.jsonl` and `runs/`, so the repository's own index and
    working tree are never touched. EvidenceError, and no commit, when an anchored run folder
    would change or go, or the ledger does not extend the anchored one."""
    evidence_dir = evidence_dir.absolute()
    repo = open_repo(evidence_dir, settings)
    with EvidenceStore(evidence_dir).lock():  # no run is published while the tree is taken
        report = verify(evidence_dir, settle=False)  # the lock is ours: nothing is publishing
        if not report.ok:
            raise EvidenceError(
                f"the evidence in {evidence_dir} does not verify, so it is not anchored: "
                f"{report.problems[0].message} (run `upkeep verify` for every problem)"
            )
        parent = repo.tip()
        tree = _evidence_tree(repo, evidence_dir, parent)
    previous = anchor_of(repo, parent) if parent else None
    if parent is not None and tree == repo.text("rev-parse", f"{parent}^{{tree}}"):
        return AnchorResult(repo, None, (), previous)
    added = _check_only_additions(repo, parent, tree)
    seq, head = ledger_head(repo.blob(tree, LEDGER) or b"")  # as committed, not as now
    message = (
        f"Anchor evidence: ledger seq {seq}, {len(added)} new run(s)\n\n"
        + "".join(f"{run}\n" for run in added)
        + f"\n{SEQ_TRAILER}: {seq}\n{HEAD_TRAILER}: {head}\n"
    )
    env = repo.identity()
    commit = repo.text(
        "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message, env=env
    )
    repo.git("update-ref", "-m", "upkeep evidence commit", repo.ref, commit, parent or "")
    tag = _signed_tag(repo, commit, seq, settings.signing_key, env)
    return AnchorResult(repo, anchor_of(repo, commit, tag), added, previous)


def ledger_head(ledger: bytes) -> tuple[int, str]:
    """(seq, hash) of a ledger's last line, (0, GENESIS) for an empty one; the ledger verified
    before it was committed, so its last line is whole."""
    lines = ledger.splitlines()
    if not lines:
        return 0, GENESIS
    last = read_json(lines[-1])
    return int(last["seq"]), str(last["hash"])


def _evidence_tree(repo: EvidenceRepo, evidence_dir: Path, parent: str | None) -> str:
    """The tree of `parent` with the ledger and runs/ as they are in `evidence_dir`: each file's
    bytes as they are (hashed with --no-filters: no line-end conversion, attribute or filter of
    the user's git config or of a .gitattributes applies), so the anchor holds exactly the bytes
    `verify --anchor` compares. A file gone from the folder is gone from the tree."""
    with tempfile.TemporaryDirectory(prefix="upkeep-anchor-") as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if parent:
            repo.git("read-tree", parent, env=env)
            repo.git(
                "rm", "-r", "--cached", "--quiet", "--ignore-unmatch", "--", LEDGER, RUNS, env=env
            )
        paths = _evidence_files(evidence_dir)
        if paths:
            names = "".join(f"{evidence_dir / path}\n" for path in paths).encode()
            blobs = repo.text("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=names)
            entries = "".join(
                f"100644 {blob}\t{path}\n"
                for blob, path in zip(blobs.splitlines(), paths, strict=True)
            )
            repo.git("update-index", "--add", "--index-info", env=env, stdin=entries.encode())
        return repo.text("write-tree", env=env)


def _evidence_files(evidence_dir: Path) -> list[str]:
    """The ledger and every regular file under runs/, as paths relative to `evidence_dir`
    (the evidence verified first: nothing else is in a run folder)."""
    found = [LEDGER] if (evidence_dir / LEDGER).is_file() else []
    for folder, _, names in os.walk(evidence_dir / RUNS):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(evidence_dir).as_posix())
    return sorted(found)


def _tracked(repo: EvidenceRepo, commit: str | None) -> list[str]:
    """The top-level names of `commit`'s tree."""
    if commit is None:
        return []
    return repo.text("ls-tree", "--name-only", commit).splitlines()


def _check_only_additions(repo: EvidenceRepo, parent: str | None, tree: str) -> tuple[str, ...]:
    """The run folders `tree` adds to `parent`; EvidenceError naming every anchored run folder
    it changes or deletes, or a ledger that does not extend the anchored one."""
    if parent is None:
        listed = repo.text("ls-tree", "-r", "--name-only", tree, "--", RUNS).splitlines()
        return tuple(sorted({_run_folder(path) for path in listed if _run_folder(path)}))
    anchored = {
        _run_folder(path)
        for path in repo.text("ls-tree", "-r", "--name-only", parent, "--", RUNS).splitlines()
    }
    changes = repo.text("diff-tree", "-r", "--no-renames", "--name-status", parent, tree)
    changed: dict[str, str] = {}
    added: set[str] = set()
    ledger_rewritten = None
    for row in changes.splitlines():
        status, path = row.split("\t", 1)
        folder = _run_folder(path)
        if path == LEDGER:
            ledger_rewritten = _ledger_rewrite(repo, parent, tree)
        elif folder and folder in anchored:
            what = {"D": "deleted", "A": "added"}.get(status[0], "changed")
            changed.setdefault(folder, f"{folder} ({PurePosixPath(path).name} {what})")
        elif folder:
            added.add(folder)
    refusals = []
    if changed:
        refusals.append(
            f"anchored run folders are immutable, and this commit would alter {len(changed)}: "
            + ", ".join(changed.values())
        )
    if ledger_rewritten:
        refusals.append(ledger_rewritten)
    if refusals:
        raise EvidenceError(
            "; ".join(refusals) + f"; nothing was committed (the evidence branch holds them as "
            f"of commit {parent[:12]}: see `upkeep verify --anchor`)"
        )
    return tuple(sorted(added))


def _ledger_rewrite(repo: EvidenceRepo, parent: str, tree: str) -> str | None:
    """Why the ledger in `tree` does not extend the one in `parent`, or None when it does."""
    old = repo.blob(parent, LEDGER) or b""
    new = repo.blob(tree, LEDGER) or b""
    if new.startswith(old):
        return None
    kept = os.path.commonprefix([old, new]).count(b"\n")
    return (
        f"{LEDGER} does not extend the anchored one: anchored line {kept + 1} was rewritten "
        "or removed"
    )


def _run_folder(path: str) -> str:
    """`runs/YYYY/MM/<run_id>` for a path inside a run folder, else ''."""
    parts = PurePosixPath(path).parts
    return "/".join(parts[:4]) if len(parts) >= 5 and parts[0] == RUNS else ""


def _signed_tag(
    repo: EvidenceRepo, commit: str, seq: int, key: Path | None, env: dict[str, str]
) -> str | None:
    if key is None:
        return None
    name = f"{repo.branch.replace('/', '-')}-seq-{seq}"
    repo.git(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "tag",
        "-s",
        "-m",
        f"upkeep evidence anchor: ledger seq {seq}",
        name,
        commit,
        env=env,
    )
    return name


def anchor_of(repo: EvidenceRepo, commit: str, tag: str | None = None) -> Anchor:
    """The anchor `commit` is: EvidenceError when upkeep did not make it."""
    raw = repo.git("cat-file", "commit", commit).stdout.decode(errors="replace")
    header, _, message = raw.partition("\n\n")
    committer = next(line for line in header.splitlines() if line.startswith("committer "))
    seconds = int(committer.rsplit(" ", 2)[1])
    trailers = dict(_TRAILER.findall(message))
    seq_text = trailers.get(SEQ_TRAILER, "")
    if not seq_text.isdigit() or HEAD_TRAILER not in trailers:
        raise EvidenceError(
            f"commit {commit[:12]} on the evidence branch has no {SEQ_TRAILER}/{HEAD_TRAILER} "
            "trailers: it was not made by `upkeep evidence commit`"
        )
    if tag is None:
        tag = _upkeep_tag(repo, commit)
    signed = tag is not None and SSH_SIGNATURE in repo.git("cat-file", "tag", tag).stdout
    return Anchor(
        commit=commit,
        committed_at=datetime.fromtimestamp(seconds, UTC),
        seq=int(seq_text),
        head=trailers[HEAD_TRAILER],
        tag=tag,
        signed=signed,
    )


def _upkeep_tag(repo: EvidenceRepo, commit: str) -> str | None:
    prefix = f"{repo.branch.replace('/', '-')}-seq-"
    tags = repo.text("tag", "--points-at", commit, "--list", f"{prefix}*").splitlines()
    return tags[0] if tags else None


def anchors(repo: EvidenceRepo) -> list[Anchor]:
    """Every anchor on the evidence branch, oldest first (its first-parent history)."""
    tip = repo.tip()
    if tip is None:
        return []
    commits = repo.text("rev-list", "--first-parent", "--reverse", tip).splitlines()
    return [anchor_of(repo, commit) for commit in commits]


def newest_anchor(evidence_dir: Path, settings: EvidenceGit) -> Anchor | None:
    """The evidence branch's last anchor, or None (no repository, no branch yet)."""
    try:
        repo = open_repo(evidence_dir, settings)
        tip = repo.tip()
        return anchor_of(repo, tip) if tip else None
    except EvidenceError:
        return None
