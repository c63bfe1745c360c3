"""Evidence for the anchoring tests: runs published through the real store (no kernel), a
project repository holding the evidence folder, and the attacker's tools — ledger lines cut or
rewritten with every hash of the chain recomputed, so that `upkeep verify` alone passes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from helpers.git import git
from upkeep.evidence import EvidenceStore, PublishedRun
from upkeep.evidence.layout import GENESIS, canonical, line_hash, run_json_bytes, sha256_file
from upkeep.records import RunbookRef, RunRecord, Status, parse_time


def publish_run(root: Path, day: int, runbook: str = "health-check", status: str = "ok") -> str:
    """Publish one run started on 2026-11-<day> into the evidence at `root`; its folder."""
    store = EvidenceStore(root)
    run_id = f"202611{day:02d}T021500Z-{runbook}-{day:04x}"
    staging = store.new_staging(run_id)
    (staging / "notebook.ipynb").write_text(json.dumps({"cells": [], "run": run_id}))
    (staging / "report.html").write_text(f"<html><body>{run_id} {status}</body></html>\n")
    started = parse_time(f"2026-11-{day:02d}T02:15:00Z")
    record = RunRecord(run_id, RunbookRef(runbook), Status(status), started, started, started)
    published: PublishedRun = store.publish(staging, record)
    return published.path.relative_to(store.root).as_posix()


def project_repository(root: Path) -> Path:
    """A git repository with one commit whose evidence/ folder is git-ignored, as upkeep's is."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("/evidence/\n")
    (root / "upkeep.yml").write_text("version: 1\n")
    git(root, "init", "--quiet", "--initial-branch", "main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "The project")
    return root


def ledger(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]


def write_chain(root: Path, lines: list[dict[str, Any]]) -> None:
    """Write `lines` as the ledger with seq, prev and hash recomputed: a consistent forgery."""
    prev = GENESIS
    out = []
    for seq, line in enumerate(lines, 1):
        line = {**line, "seq": seq, "prev": prev}
        line["hash"] = line_hash(line)
        prev = line["hash"]
        out.append(canonical(line) + b"\n")
    (root / "ledger.jsonl").write_bytes(b"".join(out))


def truncate(root: Path, keep: int) -> list[str]:
    """Cut the ledger after `keep` lines and delete the cut lines' run folders; their paths."""
    lines = ledger(root)
    for line in lines[keep:]:
        shutil.rmtree(root / line["path"])
    write_chain(root, lines[:keep])
    return [line["path"] for line in lines[keep:]]


def rewrite_status(root: Path, index: int, status: str) -> None:
    """Change the status of the run on ledger line `index` (0-based) in its run.json and its
    line, recomputing the run.json hash and the whole chain: `upkeep verify` finds nothing."""
    lines = ledger(root)
    run_json = root / lines[index]["path"] / "run.json"
    record = json.loads(run_json.read_text())
    record["status"] = status
    run_json.chmod(0o644)
    run_json.write_bytes(run_json_bytes(record))
    lines[index] = {**lines[index], "status": status, "run_json_sha256": sha256_file(run_json)}
    write_chain(root, lines)
