"""A run keeps the first `max_output_bytes` of what it prints: the runner's memory and the
evidence stay bounded, the results and errors the run is judged by are all kept, each cell that
lost output says so, a secret cut in half by the limit is not left half-shown, and the run's
record warns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers.project import CHECK_OK, Project

from upkeep.plain_text import CUT_MARK
from upkeep.records import Status
from upkeep.report import MIMETYPE, OUTPUT_CUT
from upkeep.run.output_limit import (
    CHECK_NAME,
    ERROR_CHARS,
    RESULT_BYTES,
    KernelLogTrim,
    OutputLimit,
    output_size,
)


def _stream(text: str) -> dict[str, Any]:
    return {"name": "stdout", "text": text}


def test_output_is_kept_until_the_limit_then_cut_at_a_line_end_and_dropped_after() -> None:
    limit = OutputLimit(100)
    first = _stream("a" * 59 + "\n")
    assert limit.take("stream", first) == (first, 0)
    crossing = _stream("b" * 29 + "\n" + "c" * 29 + "\n")  # 60 bytes; 40 fit, one whole line
    kept, dropped = limit.take("stream", crossing)
    assert kept == _stream("b" * 29 + "\n") and dropped == 30
    # Once anything was dropped, output that would still fit is dropped too: no silent gap.
    assert limit.take("stream", _stream("d\n")) == (None, 2)
    picture = {"data": {"image/png": "x" * 10}}
    assert limit.take("display_data", picture) == (None, 10)
    # What the run is judged by is kept whatever the limit.
    result = {"data": {MIMETYPE: {"kind": "check", "name": "n", "status": "ok"}}}
    assert limit.take("display_data", result) == (result, 0)
    error = {"ename": "E", "evalue": "v", "traceback": ["line one", "line two"]}
    assert limit.take("error", error) == (error, 0)
    recorded = len(json.dumps(result["data"][MIMETYPE]))
    assert limit.printed == 60 + 60 + 2 + 10 + recorded + 16
    assert limit.kept == 60 + 30 + recorded + 16
    assert limit.dropped == 30 + 2 + 10


def test_a_result_written_by_hand_past_any_recorded_size_counts_as_output() -> None:
    limit = OutputLimit(1024)
    huge = {"data": {MIMETYPE: {"kind": "check", "message": "m" * RESULT_BYTES}}}
    assert limit.take("display_data", huge) == (None, output_size("display_data", huge))


def test_an_error_is_kept_with_its_message_and_lines_cut_when_long() -> None:
    limit = OutputLimit(1024)
    short = {"ename": "E", "evalue": "v", "traceback": ["line"]}
    assert limit.take("error", short) == (short, 0)
    long = {"ename": "E", "evalue": "v" * 50_000, "traceback": ["t" * 30_000, "last line"]}
    kept, dropped = limit.take("error", long)
    assert kept is not None and kept["ename"] == "E"
    assert kept["evalue"] == "v" * (ERROR_CHARS - 1) + CUT_MARK
    assert kept["traceback"] == ["t" * (ERROR_CHARS - 1) + CUT_MARK, "last line"]
    assert dropped == output_size("error", long) - output_size("error", kept)


def test_a_stream_with_no_line_end_inside_the_limit_is_dropped_whole() -> None:
    limit = OutputLimit(10)
    assert limit.take("stream", _stream("0123456789abcdef\n")) == (None, 17)
    assert limit.kept == 0 and limit.exhausted


def test_bytes_not_characters_are_counted() -> None:
    limit = OutputLimit(10)
    text = "é" * 5 + "\n"  # 6 characters, 11 bytes
    assert limit.take("stream", _stream(text)) == (None, 11)


def test_a_display_update_is_kept_while_its_growth_fits_and_counted_once() -> None:
    limit = OutputLimit(100)
    assert limit.take("display_data", {"data": {"text/plain": "x" * 40}}) == (
        {"data": {"text/plain": "x" * 40}},
        0,
    )
    assert limit.replace(40, 40)  # redrawn in place 100 times: printed 4 KB, kept 40 bytes
    for _ in range(99):
        assert limit.replace(40, 40)
    assert (limit.kept, limit.dropped, limit.printed) == (40, 0, 40 * 101)
    assert limit.replace(40, 100)  # grows to the limit
    assert not limit.replace(100, 101)  # past it: dropped, the output keeps its last value
    assert (limit.kept, limit.dropped) == (100, 101)
    assert not limit.replace(100, 10)  # after a drop, nothing more is kept
    assert limit.dropped == 111 and limit.check() is not None


def test_nothing_dropped_records_no_check_and_a_drop_records_a_warning() -> None:
    limit = OutputLimit(1024)
    limit.take("stream", _stream("short\n"))
    assert limit.check() is None
    limit.log_dropped = 2 * 1024  # cut from the kernel's log past its first 1 KiB
    check = limit.check()
    assert check is not None and check.name == CHECK_NAME and check.status is Status.WARN
    assert (check.value, check.limit, check.unit) == (3 * 1024, 1024, "B")
    assert "past its limit of 1.0 KiB" in check.message
    assert "2.0 KiB of its kernel's own output (kernel.log) not kept" in check.message
    assert "cells' output" not in check.message


def test_the_kernels_log_is_cut_back_to_its_limit_while_its_writer_goes_on(
    tmp_path: Path,
) -> None:
    log = tmp_path / "kernel.log"
    writer = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # as the kernel's fds 1 and 2
    try:
        with KernelLogTrim(log, 1000, every_s=3600) as trim:  # trimmed by hand here
            os.write(writer, b"a" * 5000)
            trim.trim()
            assert (log.stat().st_size, trim.dropped) == (1000, 4000)
            os.write(writer, b"b" * 500)  # appended at the new end, not past a hole
            assert log.read_bytes() == b"a" * 1000 + b"b" * 500
        assert (log.stat().st_size, trim.dropped) == (1000, 4500)  # trimmed once more at exit
    finally:
        os.close(writer)


# A key of long lines, printed where the limit falls inside it (see the test below): after 40
# lines of 64 bytes its lines end at 2585, 3386 and 4187 bytes, so a 4 KiB limit keeps its first
# two lines, and still cuts it in the kernel's log when up to 1.5 KiB of start-up noise comes
# first there.
_KEY_LINES = [
    "-----BEGIN TEST KEY-----",
    "QmFzZTY0IGJvZHkgb2YgYSBrZXkgdGhhdCBtdXN0IG5vdCBsZWFr" * 15 + "0" * 20,
    "c2Vjb25kIGxpbmUgb2YgdGhlIGtleQ" * 26 + "1" * 20,
    "-----END TEST KEY-----",
]
_KEY = "\n".join(_KEY_LINES) + "\n"
_LIMIT = 4096


def _printing_runbook(project: Project) -> None:
    """A runbook that prints past a 4 KiB limit in two cells, and through a subprocess, with a
    secret key printed where the limit falls, then records a check."""
    filler = "x" * 63 + "\n"
    first = f"""
        import os, sys
        from upkeep import report, secrets
        key = secrets.resolve(token)
        sys.stdout.write({filler!r} * 40)
        sys.stdout.write(key)
        _ = sys.stdout.write({filler!r} * 200)
    """
    second = f"""
        print({filler!r} * 100)
        os.write(1, ({filler!r} * 40).encode() + key.encode() + ({filler!r} * 100).encode())
        report.check("after-the-flood", "ok", message="recorded after the limit")
    """
    project.add_runbook(
        "loud",
        [("code", textwrap.dedent(first)), ("code", textwrap.dedent(second))],
        params='token: str = ""',
        meta={"max_output_bytes": _LIMIT, "parameters": {"token": {"secret": True}}},
    )


@pytest.mark.slow
def test_a_run_keeps_the_start_of_its_output_and_says_what_it_dropped(project: Project) -> None:
    _printing_runbook(project)
    result = project.upkeep("run", "loud", "-p", "token=env:TEST_KEY", env={"TEST_KEY": _KEY})
    assert result.code == 0, result.text  # a warning, not an error
    assert "WARN    loud" in result.text and "warn: output:limit: " in result.text
    run = project.run_dirs()[0]
    record = json.loads((run / "run.json").read_text())
    checks = {check["name"]: check for check in record["checks"]}
    assert checks["after-the-flood"]["status"] == "ok"  # recorded after the limit: kept
    assert checks[CHECK_NAME]["status"] == "warn" and checks[CHECK_NAME]["limit"] == _LIMIT
    nb = json.loads((run / "notebook.ipynb").read_text())
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"][-2:]
    first, second = (cell["outputs"] for cell in code)
    streams = [o for o in first if o["output_type"] == "stream"]
    assert len(streams) == 1
    kept = "".join(streams[0]["text"])
    assert len(kept.encode()) <= _LIMIT and kept.startswith("x" * 63 + "\n")
    (note_one,), (note_two,) = (
        [o["data"][OUTPUT_CUT] for o in cell if OUTPUT_CUT in o.get("data", {})]
        for cell in (first, second)
    )
    assert note_one["limit"] == note_two["limit"] == _LIMIT
    assert note_one["cut"] == ["stdout"] and note_two["cut"] == []
    # Kept: the filler and the key's first two lines, the most whole lines within 4 KiB.
    kept_before_scrubbing = 40 * 64 + len("".join(line + "\n" for line in _KEY_LINES[:2]))
    assert note_one["dropped"] == 40 * 64 + len(_KEY) + 200 * 64 - kept_before_scrubbing
    assert note_two["dropped"] >= 100 * 64 + 1  # the whole print, and any of the os.write
    assert any(MIMETYPE in o.get("data", {}) for o in second)  # the check after the flood
    # Where the limit fell inside the key, its start is not left in the notebook or the report.
    for path in (run / "notebook.ipynb", run / "report.html", run / "kernel.log"):
        text = path.read_text()
        assert _KEY_LINES[1] not in text, path
        assert _KEY_LINES[0] not in text, path
    assert "«secret:env:TEST_KEY»" in kept
    log = (run / "kernel.log").read_text()
    assert len(log.encode()) < _LIMIT + 200
    assert log.rstrip().endswith("more of this output was not kept (max_output_bytes)")
    report = (run / "report.html").read_text()
    assert "output was not kept: the run's output passed its limit of 4.0 KiB" in report
    assert project.upkeep("verify").code == 0


@pytest.mark.slow
def test_a_runbook_printing_without_end_does_not_fill_the_runners_memory(
    project: Project,
) -> None:
    """38 MB printed under a 1 MiB limit: upkeep's peak memory stays near its own size (170 MiB
    here; 1.1 GiB when every output was kept), and so does the evidence."""
    flood = "for i in range(800_000):\n    print(f'line {i:08d} of a log that goes on and on')"
    project.add_runbook("flood", [("code", flood), CHECK_OK], meta={"max_output_bytes": 2**20})
    command = [sys.executable, "-m", "upkeep.cli", "--config", str(project.config), "run", "flood"]
    # A child of its own, so that RUSAGE_CHILDREN holds upkeep's peak and nothing of this test's.
    measure = (
        "import resource, subprocess, sys\n"
        f"code = subprocess.run({command!r}, capture_output=True).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", measure], capture_output=True, text=True, check=True
    )
    code, peak_kib = map(int, out.stdout.split())
    assert code == 0
    assert peak_kib < 500 * 1024, f"upkeep peaked at {peak_kib // 1024} MiB"
    run = project.run_dirs()[0]
    assert (run / "notebook.ipynb").stat().st_size < 2 * 2**20
    assert (run / "report.html").stat().st_size < 2 * 2**20


@pytest.mark.slow
def test_a_subprocess_writing_without_end_does_not_fill_the_disk(project: Project) -> None:
    """The kernel's log was cut at sealing only: meanwhile a writer filled the evidence's
    filesystem. The runbook looks at its own log's size after writing 30 MB."""
    writes = """
        import os, time
        from upkeep import report
        log = os.path.join(os.environ["UPKEEP_RUN_DIR"], "kernel.log")
        for _ in range(30):
            os.write(1, b"y" * (1 << 20))
        time.sleep(2.5)  # the log is looked at every second
        report.check("log-size", "ok", value=os.path.getsize(log), unit="B")
    """
    project.add_runbook(
        "writer", [("code", textwrap.dedent(writes))], meta={"max_output_bytes": 2**20}
    )
    result = project.upkeep("run", "writer")
    assert result.code == 0, result.text
    checks = {check["name"]: check for check in project.records()[0]["checks"]}
    assert checks["log-size"]["value"] <= 2**20  # on disk, while the run went on
    assert (
        "29.0 MiB of its kernel's own output (kernel.log) not kept"
        in (checks[CHECK_NAME]["message"])
    )
    log = (project.run_dirs()[0] / "kernel.log").read_text()
    assert log.endswith("upkeep: 30.0 MiB more of this output was not kept (max_output_bytes)\n")


@pytest.mark.slow
def test_a_link_in_place_of_the_kernels_log_is_neither_cut_nor_kept(
    project: Project, tmp_path: Path
) -> None:
    """The log is cut back and read as the kernel's own file: a link a runbook put in its
    place led both to a file elsewhere (cut to the limit, copied into the evidence)."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("CANARY-not-for-the-evidence\n" * 100_000)  # 2.7 MB, past the limit
    swap = f"""
        import os, time
        from upkeep import report
        log = os.path.join(os.environ["UPKEEP_RUN_DIR"], "kernel.log")
        os.write(1, b"from the kernel\\n")
        os.replace(log, log + ".old")
        os.symlink({str(elsewhere)!r}, log)
        time.sleep(2.5)  # the log is looked at every second
        report.check("swapped", "ok")
    """
    project.add_runbook(
        "swapper", [("code", textwrap.dedent(swap))], meta={"max_output_bytes": 2**20}
    )
    result = project.upkeep("run", "swapper")
    assert result.code == 0, result.text
    assert elsewhere.stat().st_size == len("CANARY-not-for-the-evidence\n") * 100_000
    for path in project.evidence_files():
        assert b"CANARY-not-for-the-evidence" not in path.read_bytes(), path
    assert not (project.run_dirs()[0] / "kernel.log").exists()


@pytest.mark.slow
def test_an_exception_carrying_a_whole_log_is_kept_cut(project: Project) -> None:
    project.add_runbook("raiser", [("code", 'raise RuntimeError("e" * 100_000)')])
    result = project.upkeep("run", "raiser")
    assert result.code == 3, result.text  # the run's error, kept whatever the limit
    run = project.run_dirs()[0]
    nb = json.loads((run / "notebook.ipynb").read_text())
    (error,) = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert error["evalue"] == "e" * (ERROR_CHARS - 1) + CUT_MARK
    record = json.loads((run / "run.json").read_text())
    assert record["error"]["ename"] == "RuntimeError"
    assert record["error"]["evalue"].endswith(CUT_MARK) and len(record["error"]["evalue"]) == 2000


@pytest.mark.slow
def test_a_display_redrawn_past_the_limit_keeps_its_last_kept_value(project: Project) -> None:
    """A display updated in place (a progress table, `DisplayHandle.update`) bypassed the limit:
    each update rewrote the kept output, however large."""
    redraw = """
        from IPython.display import display
        handle = display("starting", display_id=True)
        for n in range(1, 41):
            handle.update("row\\n" * (n * 10_000))  # 40 KB more each time, to 1.6 MB
    """
    project.add_runbook(
        "redraw", [("code", textwrap.dedent(redraw)), CHECK_OK], meta={"max_output_bytes": 2**20}
    )
    result = project.upkeep("run", "redraw")
    assert result.code == 0, result.text
    run = project.run_dirs()[0]
    nb = json.loads((run / "notebook.ipynb").read_text())
    redrawn = [c for c in nb["cells"] if "handle.update" in "".join(c["source"])]
    outputs = redrawn[0]["outputs"]
    shown = [o for o in outputs if "text/plain" in o.get("data", {}) and "row" in str(o["data"])]
    assert len(shown) == 1
    text = "".join(shown[0]["data"]["text/plain"])
    assert 0 < len(text.encode()) <= 2**20  # the last value that fitted, not the 1.6 MB one
    assert text.count("row") % 10_000 == 0
    notes = [o["data"][OUTPUT_CUT] for o in outputs if OUTPUT_CUT in o.get("data", {})]
    assert len(notes) == 1 and notes[0]["dropped"] > 0
    checks = {check["name"]: check for check in project.records()[0]["checks"]}
    assert checks[CHECK_NAME]["status"] == "warn"
    # The limit counts the text; nbformat stores it one JSON string per line, indented.
    assert (run / "notebook.ipynb").stat().st_size < 1.5 * 2**20
