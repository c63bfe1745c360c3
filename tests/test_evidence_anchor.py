"""Tests for anchoring the evidence in git (`upkeep evidence commit|restore`, `verify --anchor`):
real git repositories under tmp_path, runs published through the real evidence store, the
real command line; the attacks forge a ledger whose whole chain verifies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.anchoring import project_repository, publish_run, rewrite_status, truncate
from helpers.git import GIT_IDENTITY, converting_git_config, git
from helpers.project import Project

from upkeep.config.evidence_git import EvidenceGit
from upkeep.errors import EvidenceError
from upkeep.evidence import verify
from upkeep.evidence.anchor import commit_evidence
from upkeep.evidence.anchor_check import verify_anchor
from upkeep.evidence.anchor_restore import restore_evidence

BRANCH = "refs/heads/evidence"  # in full: the project also has an evidence/ folder


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project repository with three runs of evidence in its git-ignored evidence/ folder."""
    project = Project(project_repository(tmp_path / "project"))
    for day in (1, 2, 3):
        publish_run(project.evidence, day)
    return project


def _git_state(root: Path) -> tuple[str, str, bytes]:
    """HEAD, `git status` and the index's bytes: what anchoring must never change."""
    status = git(root, "status", "--porcelain", "--ignored")
    return git(root, "rev-parse", "HEAD"), status, (root / ".git" / "index").read_bytes()


def test_commit_anchors_ledger_and_runs_without_touching_index_or_work_tree(
    project: Project,
) -> None:
    before = _git_state(project.root)
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 0, result.text
    assert "anchored ledger seq 3" in result.out and "3 new run(s)" in result.out
    assert _git_state(project.root) == before
    message = git(project.root, "log", "-1", "--format=%B", BRANCH)
    last = json.loads((project.evidence / "ledger.jsonl").read_text().splitlines()[-1])
    assert f"Ledger-Seq: 3\nLedger-Head: {last['hash']}" in message
    files = git(project.root, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert "ledger.jsonl" in files and len([f for f in files if f.startswith("runs/")]) == 9
    assert not any(name.startswith(".") for name in files)  # no lock, no staging


def test_one_commit_per_invocation_and_none_when_nothing_is_new(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    again = project.upkeep_in_process("evidence", "commit")
    assert again.code == 0 and "nothing new to anchor" in again.out
    publish_run(project.evidence, 4)
    assert project.upkeep_in_process("evidence", "commit").code == 0
    log = git(project.root, "log", "--format=%s", BRANCH).splitlines()
    assert log == [
        "Anchor evidence: ledger seq 4, 1 new run(s)",
        "Anchor evidence: ledger seq 3, 3 new run(s)",
    ]
    checked = project.upkeep_in_process("verify", "--anchor")
    assert checked.code == 0, checked.text
    assert "matches its anchor" in checked.out and "2 anchor(s)" in checked.out


def test_truncation_attack_with_a_consistent_chain_is_caught(project: Project) -> None:
    publish_run(project.evidence, 4)
    assert project.upkeep_in_process("evidence", "commit").code == 0
    removed = truncate(project.evidence, keep=2)
    assert verify(project.evidence).ok  # the chain alone cannot tell: that is the attack
    report = verify_anchor(project.evidence, EvidenceGit())
    messages = [problem.message for problem in report.problems]
    assert "ledger.jsonl has 2 line(s)" in messages[0] and "lines 3-4 were removed" in messages[0]
    for folder in removed:
        assert any(folder in m and "is missing" in m for m in messages), messages
    result = project.upkeep_in_process("verify", "--anchor")
    assert result.code == 1 and "lines 3-4 were removed" in result.err
    assert project.upkeep_in_process("verify").code == 0  # without --anchor it passes


def test_truncated_and_regrown_ledger_is_caught(project: Project) -> None:
    """The attacker cuts the last runs and publishes new ones after: the ledger is as long as
    the anchored one again, and every hash chains."""
    assert project.upkeep_in_process("evidence", "commit").code == 0
    truncate(project.evidence, keep=1)
    publish_run(project.evidence, 10)
    publish_run(project.evidence, 11)
    assert verify(project.evidence).ok
    messages = [p.message for p in verify_anchor(project.evidence, EvidenceGit()).problems]
    assert "ledger.jsonl line 2 differs from line 2 of the anchor" in messages[0]
    assert sum("is missing" in m for m in messages) == 2


def test_rewritten_line_with_recomputed_chain_is_caught(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    rewrite_status(project.evidence, 1, "fail")
    assert verify(project.evidence).ok
    messages = [p.message for p in verify_anchor(project.evidence, EvidenceGit()).problems]
    assert messages[0].startswith("ledger.jsonl line 2 differs from line 2 of the anchor")
    assert any("run.json differs from the anchored copy" in m for m in messages), messages


def test_commit_refuses_to_alter_an_anchored_run_folder(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    tip = git(project.root, "rev-parse", BRANCH)
    removed = truncate(project.evidence, keep=2)
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 3
    assert "anchored run folders are immutable" in result.err and removed[0] in result.err
    assert "nothing was committed" in result.err
    assert git(project.root, "rev-parse", BRANCH) == tip


def test_commit_refuses_a_rewritten_ledger_line(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    rewrite_status(project.evidence, 0, "warn")
    with pytest.raises(EvidenceError, match="anchored run folders are immutable") as refused:
        commit_evidence(project.evidence, EvidenceGit())
    assert "run.json changed" in str(refused.value)
    assert "anchored line 1 was rewritten or removed" in str(refused.value)


def test_commit_refuses_evidence_that_does_not_verify(project: Project) -> None:
    report = next(project.evidence.glob("runs/*/*/*/report.html"))
    report.chmod(0o644)
    report.write_text("edited")
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 3 and "does not verify, so it is not anchored" in result.err
    assert git(project.root, "branch", "--list", "evidence") == ""


def test_separate_bare_evidence_repository(tmp_path: Path) -> None:
    store = tmp_path / "evidence-store.git"
    git(tmp_path, "init", "--quiet", "--bare", str(store))
    project = Project(tmp_path / "project")  # not a git repository at all
    project.root.mkdir()
    project.config.write_text(
        f"version: 1\nevidence_git:\n  repository: {store}\n  branch: nightly/evidence\n"
    )
    publish_run(project.evidence, 1)
    assert project.upkeep_in_process("evidence", "commit").code == 0
    assert "ledger.jsonl" in git(store, "ls-tree", "--name-only", "nightly/evidence")
    assert project.upkeep_in_process("verify", "--anchor").code == 0


def test_evidence_outside_any_repository_is_one_clear_error(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config.write_text("version: 1\n")
    publish_run(project.evidence, 1)
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 3 and "is not inside a git repository" in result.err
    checked = project.upkeep_in_process("verify", "--anchor")
    assert checked.code == 1 and "is not inside a git repository" in checked.err


def test_checked_out_evidence_branch_is_refused(project: Project) -> None:
    git(project.root, "checkout", "--quiet", "-b", "evidence")
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 3 and "branch 'evidence' is checked out" in result.err


def test_verify_anchor_without_an_anchor_fails_and_says_how(project: Project) -> None:
    result = project.upkeep_in_process("verify", "--anchor")
    assert result.code == 1 and "holds no anchor yet" in result.err


def test_restore_into_a_fresh_clone_then_anchor_the_next_runs(
    project: Project, tmp_path: Path
) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--no-local", str(project.root), str(clone))
    git(clone, "branch", "--quiet", "evidence", "origin/evidence")
    fresh = Project(clone)
    restored = fresh.upkeep_in_process("evidence", "restore")
    assert restored.code == 0, restored.text
    assert fresh.upkeep_in_process("verify", "--anchor").code == 0
    publish_run(fresh.evidence, 4)
    assert fresh.upkeep_in_process("evidence", "commit").code == 0
    assert git(clone, "rev-list", "--count", BRANCH).strip() == "2"


def test_restore_refuses_a_ledger_that_does_not_extend_the_anchor(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    truncate(project.evidence, keep=1)
    publish_run(project.evidence, 9)
    with pytest.raises(EvidenceError, match="does not extend the anchored ledger"):
        restore_evidence(project.evidence, EvidenceGit())


def test_restore_brings_back_deleted_run_folders(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    folder = next(project.evidence.glob("runs/*/*/*"))
    shutil.rmtree(folder)
    assert not verify_anchor(project.evidence, EvidenceGit()).ok
    restore_evidence(project.evidence, EvidenceGit())
    assert verify(project.evidence).ok and verify_anchor(project.evidence, EvidenceGit()).ok


def test_rewritten_evidence_branch_is_caught(project: Project) -> None:
    """An older anchor's head that the newest anchored ledger no longer holds."""
    assert project.upkeep_in_process("evidence", "commit").code == 0
    rewrite_status(project.evidence, 2, "fail")
    # The attacker commits the forged evidence on top of the real anchor, with the same
    # message, using plumbing of their own: the newest anchor then matches the folder.
    index = {"GIT_INDEX_FILE": str(project.root / ".git" / "forged-index")}
    work_tree = ("--work-tree", str(project.evidence))
    _git_env(project.root, index, *work_tree, "add", "--force", "ledger.jsonl", "runs")
    tree = _git_env(project.root, index, "write-tree")
    message = git(project.root, "log", "-1", "--format=%B", BRANCH)
    forged = _git_env(project.root, {}, "commit-tree", tree, "-p", BRANCH, "-m", message)
    git(project.root, "update-ref", BRANCH, forged)
    messages = [p.message for p in verify_anchor(project.evidence, EvidenceGit()).problems]
    assert any("the evidence branch was rewritten" in m for m in messages), messages


def test_restore_refuses_a_symlink_on_the_evidence_branch_and_writes_nothing(
    project: Project,
) -> None:
    # A report.html committed as a symlink to /proc/self/environ was restored as a link, and the
    # site build then published the build's environment as the run's report.
    assert project.upkeep_in_process("evidence", "commit").code == 0
    folder = next(project.evidence.glob("runs/*/*/*"))
    relpath = folder.relative_to(project.evidence).as_posix()
    index = {"GIT_INDEX_FILE": str(project.root / ".git" / "forged-index")}
    _git_env(project.root, index, "read-tree", BRANCH)
    link = _git_env(project.root, {}, "hash-object", "-w", "--stdin", input="/proc/self/environ")
    _git_env(
        project.root, index, "update-index", "--cacheinfo", f"120000,{link},{relpath}/report.html"
    )
    tree = _git_env(project.root, index, "write-tree")
    message = git(project.root, "log", "-1", "--format=%B", BRANCH)  # its trailers too
    forged = _git_env(project.root, {}, "commit-tree", tree, "-p", BRANCH, "-m", message)
    git(project.root, "update-ref", BRANCH, forged)
    shutil.rmtree(folder)

    with pytest.raises(
        EvidenceError, match=rf"{relpath}/report.html in commit .* \(git mode 120000\)"
    ):
        restore_evidence(project.evidence, EvidenceGit())

    assert not folder.exists()


def test_bad_evidence_git_config_is_refused_at_load(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config.write_text("version: 1\nevidence_git:\n  branch: 'a..b'\n")
    result = project.upkeep_in_process("verify")
    assert (
        result.code == 2 and "evidence_git.branch: expected a plain git branch name" in result.err
    )
    project.config.write_text("version: 1\nevidence_git:\n  signing_key: missing-key\n")
    result = project.upkeep_in_process("verify")
    assert result.code == 2 and "evidence_git.signing_key" in result.err
    assert "does not exist or is not a file" in result.err
    project.config.write_text("version: 1\nevidence_git:\n  remote: origin\n")
    result = project.upkeep_in_process("verify")
    assert result.code == 2 and "evidence_git.remote: unknown key" in result.err


def _git_env(root: Path, env: dict[str, str], *args: str, input: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_IDENTITY, **env},
        capture_output=True,
        text=True,
        check=True,
        input=input,
    )
    return proc.stdout.strip()


def _ssh_key(directory: Path, name: str) -> Path:
    if shutil.which("ssh-keygen") is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail("ssh-keygen is required under CI=true (openssh-client)", pytrace=False)
        pytest.skip("ssh-keygen is not installed (openssh-client)")
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def test_signed_tag_with_an_ssh_key_and_its_verification(project: Project, tmp_path: Path) -> None:
    key = _ssh_key(tmp_path, "anchor-key")
    signers = tmp_path / "allowed_signers"
    public = (tmp_path / "anchor-key.pub").read_text().split()
    signers.write_text(f"upkeep@localhost {public[0]} {public[1]}\n")
    project.config.write_text(
        f"version: 1\nevidence_git:\n  signing_key: {key}\n  allowed_signers: {signers}\n"
    )
    result = project.upkeep_in_process("evidence", "commit")
    assert result.code == 0 and "signed tag evidence-seq-3" in result.out, result.text
    tag = git(project.root, "cat-file", "tag", "evidence-seq-3")
    assert "-----BEGIN SSH SIGNATURE-----" in tag
    assert git(project.root, "rev-parse", "evidence-seq-3^{commit}") == git(
        project.root, "rev-parse", "evidence"
    )
    checked = project.upkeep_in_process("verify", "--anchor")
    assert checked.code == 0 and "signed tag evidence-seq-3" in checked.out, checked.text
    # The same tag checked against another key's allowed signers does not verify.
    other = _ssh_key(tmp_path, "other-key")
    other_public = (tmp_path / "other-key.pub").read_text().split()
    signers.write_text(f"upkeep@localhost {other_public[0]} {other_public[1]}\n")
    assert other.exists()
    refused = project.upkeep_in_process("verify", "--anchor")
    assert refused.code == 1 and "the signature does not verify" in refused.err


def test_dashboard_shows_the_newest_anchor_beside_evidence_verifies(project: Project) -> None:
    from upkeep.config import load_config
    from upkeep.registry import discover
    from upkeep.site.dashboard import dashboard
    from upkeep.site.model import load_model

    (project.root / "runbooks").mkdir()

    def banner() -> str:
        config = load_config(project.config)
        page = dashboard(load_model(config, discover(config.runbooks_dir, config.root)))
        return page.split("\n\n")[0]

    assert "Evidence verifies" in banner() and "Not anchored in git yet" in banner()
    assert project.upkeep_in_process("evidence", "commit").code == 0
    commit = git(project.root, "rev-parse", BRANCH).strip()
    shown = banner()
    assert "Evidence verifies: all 3 runs" in shown
    assert f"Anchored in git: commit <code>{commit[:12]}</code>" in shown
    assert "ledger seq 3, unsigned." in shown


def test_verify_anchor_json_names_the_anchor_and_the_problems(project: Project) -> None:
    assert project.upkeep_in_process("evidence", "commit").code == 0
    publish_run(project.evidence, 4)  # newer than the anchor: not a problem, counted
    result = project.upkeep_in_process("verify", "--anchor", "--json")
    report = json.loads(result.out)
    assert result.code == 0 and report["ok"] is True
    newest = report["anchor"]["newest"]
    assert newest["commit"] == git(project.root, "rev-parse", BRANCH).strip()
    assert newest["seq"] == 3 and newest["signed"] is False
    assert report["anchor"]["unanchored_lines"] == 1
    truncate(project.evidence, keep=1)
    broken = json.loads(project.upkeep_in_process("verify", "--anchor", "--json").out)
    assert broken["ok"] is False and broken["anchor"]["ok"] is False
    assert any("were removed after they were anchored" in p["message"] for p in broken["problems"])


def test_restore_writes_the_anchored_bytes_whatever_git_would_convert(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's `core.autocrlf=true` (and eol attributes) turned every restored LF into CRLF:
    every restored file then failed `verify` as edited."""
    assert project.upkeep_in_process("evidence", "commit").code == 0
    shutil.rmtree(project.evidence)
    home = tmp_path / "home"
    for name, value in converting_git_config(home, project.root / ".git").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    assert git(project.root, "config", "core.autocrlf").strip() == "true"

    restore_evidence(project.evidence, EvidenceGit())

    assert b"\r\n" not in (project.evidence / "ledger.jsonl").read_bytes()
    assert verify(project.evidence).ok
    assert verify_anchor(project.evidence, EvidenceGit()).ok


def test_a_ledger_that_lost_only_its_last_newline_is_named_as_such(project: Project) -> None:
    """It used to read "has 3 line(s) but the anchor holds 3: lines 4-3 were removed"."""
    assert project.upkeep_in_process("evidence", "commit").code == 0
    ledger = project.evidence / "ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes()[:-1])
    [problem] = verify_anchor(project.evidence, EvidenceGit()).problems
    assert problem.message.startswith("ledger.jsonl line 3 differs from line 3 of the anchor")
    assert problem.message.endswith(": its line end was changed after it was anchored")


def test_an_unsigned_anchor_forged_over_a_signed_one_is_caught_by_the_auditor(
    project: Project, tmp_path: Path
) -> None:
    # The auditor holds allowed_signers, not the key. A forger who rewrote the ledger cannot
    # sign: they delete the branch and anchor the forgery anew, unsigned.
    key = _ssh_key(tmp_path, "anchor-key")
    signers = tmp_path / "allowed_signers"
    public = (tmp_path / "anchor-key.pub").read_text().split()
    signers.write_text(f"upkeep@localhost {public[0]} {public[1]}\n")
    project.config.write_text(f"version: 1\nevidence_git:\n  signing_key: {key}\n")
    assert project.upkeep_in_process("evidence", "commit").code == 0
    rewrite_status(project.evidence, 1, "fail")
    git(project.root, "branch", "--quiet", "-D", "evidence")
    project.config.write_text("version: 1\n")  # the forger has no key
    assert project.upkeep_in_process("evidence", "commit").code == 0
    project.config.write_text(f"version: 1\nevidence_git:\n  allowed_signers: {signers}\n")
    checked = project.upkeep_in_process("verify", "--anchor")
    assert checked.code == 1, checked.text
    assert "has no signed tag, though evidence_git.allowed_signers is set" in checked.err
    assert (
        "tag evidence-seq-3 anchors commit" in checked.err
        and "which the evidence branch no longer holds" in checked.err
    )


def test_commit_anchors_the_bytes_as_they_are_whatever_git_would_convert(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git add` applied the user's `* text` attribute: a report holding CRLF was anchored with
    LF, and `verify --anchor` then reported a file that never changed."""
    from upkeep.evidence import EvidenceStore
    from upkeep.records import RunbookRef, RunRecord, Status, parse_time

    store = EvidenceStore(project.evidence)
    staging = store.new_staging("20261104T021500Z-health-check-0004")
    (staging / "report.html").write_bytes(b"<html>\r\n<body>crlf</body>\r\n</html>\n")
    started = parse_time("2026-11-04T02:15:00Z")
    store.publish(
        staging,
        RunRecord(
            "20261104T021500Z-health-check-0004",
            RunbookRef("health-check"),
            Status.OK,
            started,
            started,
            started,
        ),
    )
    for name, value in converting_git_config(tmp_path / "home", project.root / ".git").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    (project.evidence / ".gitattributes").write_text("* text eol=lf\n")  # not evidence: ignored

    commit_evidence(project.evidence, EvidenceGit())

    path = "runs/2026/11/20261104T021500Z-health-check-0004/report.html"
    anchored = subprocess.run(
        ["git", "cat-file", "blob", f"{BRANCH}:{path}"],
        cwd=project.root,
        capture_output=True,
        check=True,
    ).stdout
    assert anchored == (project.evidence / path).read_bytes()
    assert verify_anchor(project.evidence, EvidenceGit()).ok
    files = git(project.root, "ls-tree", "-r", "--name-only", BRANCH).split()
    assert ".gitattributes" not in files
