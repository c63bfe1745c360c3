"""Responsible for `upkeep verify --anchor`: the evidence folder checked against what the evidence
branch anchored — a ledger shorter than its last anchored head, a rewritten ledger line, a run
folder removed or altered — which a ledger whose every hash was recomputed still cannot hide;
and the branch's own history (each anchor's head still in the newest ledger, the newest tag's
signature when an allowed-signers file is set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError
from upkeep.evidence.anchor import Anchor, anchors
from upkeep.evidence.git_repo import EvidenceRepo, open_repo
from upkeep.evidence.layout import LEDGER, RUNS, read_json
from upkeep.evidence.verify import Mismatch


@dataclass(frozen=True)
class AnchorReport:
    """What `verify_anchor` found, and the newest anchor it compared against."""

    problems: tuple[Mismatch, ...]
    newest: Anchor | None
    anchors_checked: int
    unanchored_lines: int  # ledger lines newer than the newest anchor (the next commit's)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_anchor(evidence_dir: Path, settings: EvidenceGit) -> AnchorReport:
    """Compare the evidence folder with the evidence branch; collect every mismatch."""
    try:
        repo = open_repo(evidence_dir, settings)
        history = anchors(repo)
    except EvidenceError as err:
        return AnchorReport((Mismatch(None, LEDGER, f"anchor: {err}"),), None, 0, 0)
    if not history:
        message = (
            f"anchor: branch {settings.branch!r} of {repo.git_dir} holds no anchor yet "
            "(`upkeep evidence commit` makes the first)"
        )
        return AnchorReport((Mismatch(None, LEDGER, message),), None, 0, 0)
    newest = history[-1]
    anchored = repo.blob(newest.commit, LEDGER) or b""
    problems = _check_history(history, anchored)
    current = (evidence_dir / LEDGER).read_bytes() if (evidence_dir / LEDGER).exists() else b""
    problems += _check_ledger(current, anchored, newest)
    problems += _check_run_folders(repo, evidence_dir, newest)
    problems += _check_signature(repo, newest, settings)
    problems += _check_tags(repo, history)
    beyond = max(0, current.count(b"\n") - anchored.count(b"\n"))
    return AnchorReport(tuple(problems), newest, len(history), beyond)


def _line_hashes(ledger: bytes) -> dict[int, str]:
    hashes = {}
    for raw in ledger.splitlines():
        try:
            value = read_json(raw)
            hashes[int(value["seq"])] = str(value["hash"])
        except (ValueError, KeyError, TypeError):
            continue  # `upkeep verify` names a damaged line
    return hashes


def _check_history(history: list[Anchor], anchored: bytes) -> list[Mismatch]:
    """Each anchor's head must still be the line of its seq in the newest anchored ledger."""
    hashes = _line_hashes(anchored)
    problems = []
    for anchor in history:
        if anchor.seq == 0 or hashes.get(anchor.seq) == anchor.head:
            continue
        problems.append(
            Mismatch(
                None,
                LEDGER,
                f"anchor {anchor.commit[:12]} ({_when(anchor)}) names ledger head seq "
                f"{anchor.seq} {anchor.head[:12]}, which the newest anchor's ledger does not hold "
                "(the evidence branch was rewritten)",
            )
        )
    return problems


def _check_ledger(current: bytes, anchored: bytes, newest: Anchor) -> list[Mismatch]:
    """The ledger must begin with every anchored line, unchanged."""
    if current.startswith(anchored):
        return []
    # Line ends kept: a line that lost its newline (or gained a CR) differs, and is named.
    now_lines, then_lines = current.splitlines(True), anchored.splitlines(True)
    where = f"the anchor {newest.commit[:12]} of {_when(newest)}"
    for number, (now, then) in enumerate(zip(now_lines, then_lines, strict=False), 1):
        if now != then:
            how = (
                "its line end was changed"
                if now.rstrip(b"\r\n") == then.rstrip(b"\r\n")
                else "rewritten"
            )
            message = (
                f"{LEDGER} line {number} differs from line {number} of {where}: "
                f"{how} after it was anchored"
            )
            return [Mismatch(None, LEDGER, message, number)]
    message = (
        f"{LEDGER} has {len(now_lines)} line(s) but {where} holds {len(then_lines)} "
        f"(up to seq {newest.seq}): lines {len(now_lines) + 1}-{len(then_lines)} were removed "
        "after they were anchored"
    )
    return [Mismatch(None, LEDGER, message, len(now_lines) + 1)]


def _check_run_folders(repo: EvidenceRepo, evidence_dir: Path, newest: Anchor) -> list[Mismatch]:
    """Every anchored file of every anchored run folder must be there, byte for byte."""
    listed = repo.text("ls-tree", "-r", newest.commit, "--", RUNS).splitlines()
    blobs = {}
    for row in listed:
        info, path = row.split("\t", 1)
        blobs[path] = info.split()[2]
    folders: dict[str, list[str]] = {}
    for path in blobs:
        folders.setdefault("/".join(path.split("/")[:4]), []).append(path)
    problems: list[Mismatch] = []
    present = []
    for folder, paths in sorted(folders.items()):
        if not (evidence_dir / folder).is_dir():
            message = (
                f"run folder {folder} was anchored in {newest.commit[:12]} and is missing "
                "(deleted after it was anchored)"
            )
            problems.append(Mismatch(folder.rsplit("/", 1)[-1], folder, message))
            continue
        for path in paths:
            local = evidence_dir / path
            if local.is_symlink() or not local.is_file():
                problems.append(_file_problem(path, "is missing", newest))
            else:
                present.append(path)
    hashed = _hash_files(repo, evidence_dir, present)
    problems += [
        _file_problem(path, "differs from the anchored copy", newest)
        for path, digest in zip(present, hashed, strict=True)
        if digest != blobs[path]
    ]
    return problems


def _file_problem(path: str, what: str, newest: Anchor) -> Mismatch:
    run_id = path.split("/")[3]
    message = f"{path} {what} (anchored in {newest.commit[:12]}; altered after it was anchored)"
    return Mismatch(run_id, path, message)


def _hash_files(repo: EvidenceRepo, evidence_dir: Path, paths: list[str]) -> list[str]:
    """git's blob id of each file, as `git add` would have stored it (no filters)."""
    if not paths:
        return []
    names = "".join(f"{os.fspath(evidence_dir / path)}\n" for path in paths).encode()
    return repo.text("hash-object", "--no-filters", "--stdin-paths", stdin=names).splitlines()


def _check_signature(repo: EvidenceRepo, newest: Anchor, settings: EvidenceGit) -> list[Mismatch]:
    # An auditor who holds allowed_signers (and no signing key) expects signed anchors too: a
    # forger who cannot sign makes an unsigned one.
    for key, value in (
        ("signing_key", settings.signing_key),
        ("allowed_signers", settings.allowed_signers),
    ):
        if value is not None and not newest.signed:
            message = (
                f"anchor {newest.commit[:12]} has no signed tag, though evidence_git.{key} is "
                "set: every anchor is expected signed"
            )
            return [Mismatch(None, LEDGER, message)]
    if settings.allowed_signers is None or newest.tag is None:
        return []
    checked = repo.git(
        "-c",
        f"gpg.ssh.allowedSignersFile={settings.allowed_signers}",
        "verify-tag",
        newest.tag,
        check=False,
    )
    if checked.returncode == 0:
        return []
    said = checked.stderr.decode(errors="replace").strip().splitlines()
    message = (
        f"tag {newest.tag} on anchor {newest.commit[:12]}: the signature does not verify "
        f"against {settings.allowed_signers} ({said[-1] if said else 'no message'})"
    )
    return [Mismatch(None, LEDGER, message)]


def _check_tags(repo: EvidenceRepo, history: list[Anchor]) -> list[Mismatch]:
    """Each tag upkeep made on an anchor must still be on the branch: one on a commit the
    branch no longer holds means the branch was rewritten (or replaced) after that anchor."""
    held = {anchor.commit for anchor in history}
    prefix = f"{repo.branch.replace('/', '-')}-seq-"
    listed = repo.text(
        "for-each-ref", "--format=%(refname:short) %(*objectname)", f"refs/tags/{prefix}*"
    )
    problems = []
    for line in listed.splitlines():
        tag, _, commit = line.partition(" ")
        if commit and commit not in held:
            message = (
                f"tag {tag} anchors commit {commit[:12]}, which the evidence branch no longer "
                "holds: the branch was rewritten after that anchor"
            )
            problems.append(Mismatch(None, LEDGER, message))
    return problems


def _when(anchor: Anchor) -> str:
    return anchor.committed_at.strftime("%Y-%m-%d %H:%M UTC")
