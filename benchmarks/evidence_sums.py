"""Responsible for `SHA256SUMS` of exactly the files `upkeep verify` hashes, for the benchmarks
that set `sha256sum --check` beside it (`verify.py`, `fleet_scale.py`): each run's run.json
with the sha256 its ledger line holds and each artifact with the sha256 its run.json holds, in
ledger order, checked to be every file under the evidence's `runs/`.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import BenchError

from upkeep.evidence import LEDGER, RUN_JSON
from upkeep.evidence.ledger import entries

PARTS = 4  # the parallel sha256sum's processes: as many as upkeep verify's threads


def sum_lines(evidence: Path, prefix: str = "") -> tuple[list[str], int]:
    """The SHA256SUMS lines of one evidence folder, each path relative to the evidence root
    with `prefix` before it (`host-001/evidence/`: one list for a fleet); and their bytes."""
    lines: list[str] = []
    size = 0
    for entry in entries(evidence / LEDGER):
        folder = evidence / entry.path
        lines.append(f"{entry.run_json_sha256}  {prefix}{entry.path}/{RUN_JSON}\n")
        size += (folder / RUN_JSON).stat().st_size
        artifacts = json.loads((folder / RUN_JSON).read_bytes())["artifacts"]
        for name, digest in sorted(artifacts.items()):
            lines.append(f"{digest}  {prefix}{entry.path}/{name}\n")
            size += (folder / name).stat().st_size
    on_disk = sum(1 for path in (evidence / "runs").rglob("*") if path.is_file())
    if on_disk != len(lines):
        raise BenchError(f"SHA256SUMS lists {len(lines)} files, {evidence}/runs holds {on_disk}")
    return lines, size


def write_sums(lines: list[str], work: Path) -> None:
    """`work/SHA256SUMS`, and the same list cut in PARTS parts listed in SHA256SUMS.parts (for
    `xargs -P PARTS`)."""
    (work / "SHA256SUMS").write_text("".join(lines))
    step = -(-len(lines) // PARTS)
    for n in range(PARTS):
        (work / f"SHA256SUMS.{n}").write_text("".join(lines[n * step : (n + 1) * step]))
    (work / "SHA256SUMS.parts").write_text(
        "".join(f"{work / f'SHA256SUMS.{n}'}\n" for n in range(PARTS))
    )


def sha256sum_check(work: Path) -> list[str]:
    """The baseline's command: `sha256sum --quiet --check work/SHA256SUMS` (run where the
    listed paths start)."""
    return ["sha256sum", "--quiet", "--check", str(work / "SHA256SUMS")]
