"""Tests for upkeep.redact: secret values leave no trace in a published notebook, log or record."""

from __future__ import annotations

import base64
import copy
import html
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from upkeep.plain_text import CUT_MARK, cut
from upkeep.redact import (
    MIN_SECRET_LENGTH,
    Scrubber,
    marker,
    scrub_notebook,
    scrub_text,
    scrub_value,
)

CANARY = "CANARY-7f3a9b2c1d"
REFERENCE = "env:DB_PASSWORD"
SECRETS = {REFERENCE: CANARY}
MARK = "«secret:env:DB_PASSWORD»"
# Quotes, backslash, slash, ampersand, angle brackets, non-ASCII: every encoding differs from it.
TRICKY = "p\"a's\\s/w&<ö>rd"


def strings(obj: Any) -> Iterator[str]:
    """Every string in a JSON-like structure, dict keys included."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from strings(item)


def executed_notebook(secret: str) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it, with `secret` in every place a value can end up."""
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "papermill": {
                "parameters": {"db_password": secret, "host": "db.internal"},
                "input_path": "runbooks/daily/x.ipynb",
                "exception": True,
            },
            "upkeep": {"title": "Database health", "owner": "ops"},
            "note": f"dsn=postgresql://app:{secret}@db.internal/app",
        },
        cells=[
            new_markdown_cell("# Database health\n\nChecks the database is alive."),
            new_code_cell(
                f'db_password = "{secret}"\nhost = "db.internal"',
                metadata={"tags": ["injected-parameters"], "papermill": {"status": "completed"}},
            ),
            new_code_cell(
                "print(connect())",
                metadata={"debug": {"last_dsn": f"postgresql://app:{secret}@db/app"}},
                outputs=[
                    new_output("stream", name="stdout", text=f"connecting with {secret}\nok\n"),
                    new_output("stream", name="stderr", text=f"WARNING password={secret}\n"),
                ],
            ),
            new_code_cell(
                "show(rows)",
                outputs=[
                    new_output(
                        "display_data",
                        data={
                            "text/html": f"<table><tr><td>{secret}</td></tr></table>",
                            "text/plain": f"[('{secret}',)]",
                            "application/json": {"rows": [{"dsn": {"password": secret}}]},
                        },
                        metadata={"application/json": {"expanded": secret}},
                    ),
                    new_output(
                        "execute_result",
                        data={"text/plain": f"'{secret}'"},
                        execution_count=3,
                    ),
                ],
            ),
            new_code_cell(
                "connect(db_password)",
                outputs=[
                    new_output(
                        "error",
                        ename="OperationalError",
                        evalue=f'password authentication failed: "{secret}"',
                        traceback=[
                            "\x1b[0;31m--------------------------------------\x1b[0m",
                            f"\x1b[0;32mconnect\x1b[0m(\x1b[0;34m'{secret}'\x1b[0m)",
                            f"\x1b[0;31mOperationalError\x1b[0m: password failed: {secret}",
                        ],
                    )
                ],
            ),
        ],
    )
    return nb


def test_canary_is_gone_from_every_part_of_the_notebook() -> None:
    scrubbed = scrub_notebook(executed_notebook(CANARY), SECRETS)

    dumped = json.dumps(scrubbed, ensure_ascii=False)
    assert CANARY not in dumped
    assert MARK in dumped
    injected = scrubbed.cells[1]
    assert injected.source == f'db_password = "{MARK}"\nhost = "db.internal"'
    stdout, stderr = scrubbed.cells[2].outputs
    assert stdout.text == f"connecting with {MARK}\nok\n"
    assert stderr.text == f"WARNING password={MARK}\n"
    assert scrubbed.cells[2].metadata.debug.last_dsn == f"postgresql://app:{MARK}@db/app"
    display, result = scrubbed.cells[3].outputs
    assert display.data["text/html"] == f"<table><tr><td>{MARK}</td></tr></table>"
    assert display.data["application/json"] == {"rows": [{"dsn": {"password": MARK}}]}
    assert display.metadata["application/json"] == {"expanded": MARK}
    assert result.data["text/plain"] == f"'{MARK}'"
    error = scrubbed.cells[4].outputs[0]
    assert error.evalue == f'password authentication failed: "{MARK}"'
    assert all(CANARY not in line for line in error.traceback)
    assert error.traceback[2].endswith(f"password failed: {MARK}")
    assert scrubbed.metadata.papermill.parameters == {"db_password": MARK, "host": "db.internal"}
    assert scrubbed.metadata.note == f"dsn=postgresql://app:{MARK}@db.internal/app"


def test_scrubbed_notebook_is_a_valid_copy_and_the_original_is_untouched() -> None:
    original = executed_notebook(CANARY)
    before = copy.deepcopy(original)

    scrubbed = scrub_notebook(original, SECRETS)

    assert original == before
    assert CANARY in json.dumps(original)
    assert isinstance(scrubbed, nbformat.NotebookNode)
    assert isinstance(scrubbed.cells[0], nbformat.NotebookNode)
    nbformat.validate(scrubbed)
    scrubbed.cells[0].source = "changed"
    assert original.cells[0].source != "changed"


def test_text_without_secrets_is_left_exactly_as_it_was() -> None:
    nb = executed_notebook("nothing-secret-here")

    scrubbed = scrub_notebook(nb, SECRETS)

    assert scrubbed == nb
    text = "2026-11-27 02:15 INFO vacuum finished in 3.2 s; 0 errors\n\x1b[31mred\x1b[0m"
    assert scrub_text(text, SECRETS) == text


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda v: v, id="raw"),
        pytest.param(lambda v: repr(v), id="repr"),
        pytest.param(lambda v: repr({"password": v}), id="repr-in-dict"),
        pytest.param(lambda v: repr(v + '"'), id="repr-single-quote-escaped"),
        pytest.param(lambda v: repr(v.encode()), id="bytes-repr"),  # non-ASCII: \xc3\xa4
        pytest.param(lambda v: repr({b"Authorization": b"Bearer " + v.encode()}), id="bytes-dict"),
        pytest.param(lambda v: json.dumps(v), id="json"),
        pytest.param(lambda v: json.dumps({"password": v}, ensure_ascii=False), id="json-utf8"),
        pytest.param(lambda v: html.escape(v), id="html"),
        pytest.param(lambda v: urllib.parse.quote(v, safe=""), id="url-quoted"),
        pytest.param(lambda v: "https://h/?p=" + urllib.parse.quote_plus(v), id="url-query"),
        pytest.param(lambda v: base64.b64encode(v.encode()).decode(), id="base64"),
        pytest.param(lambda v: base64.urlsafe_b64encode(v.encode()).decode(), id="base64-url"),
        pytest.param(
            lambda v: "Basic " + base64.b64encode(f"app:{v}".encode()).decode(),
            id="base64-inside-basic-auth",
        ),
        # UTF-16 printed as text: a NUL between characters, which a report that drops NULs
        # would join back into the value.
        pytest.param(lambda v: v.encode("utf-16-le").decode("latin-1"), id="utf-16-le"),
        pytest.param(lambda v: v.encode("utf-16-be").decode("latin-1"), id="utf-16-be"),
    ],
)
@pytest.mark.parametrize("secret", [CANARY, TRICKY])
def test_encoded_forms_of_a_secret_are_scrubbed(encode: Any, secret: str) -> None:
    encoded = encode(secret)
    line = f"before {encoded} after"

    scrubbed = scrub_text(line, {REFERENCE: secret})

    assert encoded not in scrubbed
    assert MARK in scrubbed
    assert scrubbed.startswith("before ")
    assert scrubbed.endswith(" after")


def test_tricky_secret_is_gone_from_the_notebook_in_every_encoding() -> None:
    nb = executed_notebook(TRICKY)
    nb.cells[2].outputs.append(
        new_output(
            "stream",
            name="stdout",
            text=(
                f"json={json.dumps(TRICKY)} b64={base64.b64encode(TRICKY.encode()).decode()} "
                f"url={urllib.parse.quote(TRICKY, safe='')}\n"
            ),
        )
    )

    scrubbed = scrub_notebook(nb, {REFERENCE: TRICKY})

    dumped = json.dumps(scrubbed)  # ASCII: the secret would show JSON-escaped here
    assert json.dumps(TRICKY)[1:-1] not in dumped
    assert base64.b64encode(TRICKY.encode()).decode() not in dumped
    for text in strings(scrubbed):
        assert TRICKY not in text
    assert dumped.count(json.dumps(MARK)[1:-1]) >= 12


def test_colour_codes_inside_a_secret_do_not_hide_it() -> None:
    line = "\x1b[0;31mOperationalError\x1b[0m: CANARY-\x1b[1m7f3a\x1b[0m9b2c1d refused"

    assert scrub_text(line, SECRETS) == f"\x1b[0;31mOperationalError\x1b[0m: {MARK} refused"


def test_longer_secret_is_replaced_whole_before_a_shorter_one_it_contains() -> None:
    secrets = {"env:SHORT": "hunter22", "env:LONG": "hunter22-and-more"}

    text = scrub_text("a=hunter22-and-more b=hunter22", secrets)

    assert text == f"a={marker('env:LONG')} b={marker('env:SHORT')}"


def test_secret_shorter_than_the_minimum_is_not_scrubbed() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)

    assert scrub_text(f"value {short} here", {"env:SHORT": short}) == f"value {short} here"
    assert not Scrubber({"env:SHORT": short, "env:EMPTY": ""})


def test_a_secret_spanning_lines_in_list_form_source_is_scrubbed() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    raw = nbformat.v4.new_notebook()
    raw = json.loads(json.dumps(raw))
    raw["cells"] = [
        {
            "cell_type": "code",
            "id": "c1",
            "metadata": {},
            "execution_count": 1,
            "source": [
                "key = '''" + key.splitlines()[0] + "\n",
                *[f"{line}\n" for line in key.splitlines()[1:]],
                "'''",
            ],
            "outputs": [
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": [f"{line}\n" for line in key.splitlines()],
                }
            ],
        }
    ]

    scrubbed = scrub_notebook(nbformat.from_dict(raw), {"file:/run/secrets/key": key})

    assert scrubbed.cells[0].source == "key = '''«secret:file:/run/secrets/key»\n'''"
    assert scrubbed.cells[0].outputs[0].text == "«secret:file:/run/secrets/key»\n"


def test_scrub_value_copies_a_run_record_and_scrubs_keys_and_values() -> None:
    record = {
        "run_id": "20261127T021500Z-db-7f3a",
        "duration_s": 3.25,
        "parameters": {"db_password": REFERENCE, "retries": 3, "verbose": True, "extra": None},
        "error": {"evalue": f"auth failed for {CANARY}", "cell": 4},
        "findings": [{"key": f"leak:{CANARY}", "message": "x"}],
        f"odd-{CANARY}": ["a", CANARY],
    }
    before = copy.deepcopy(record)

    scrubbed = scrub_value(record, SECRETS)

    assert record == before
    assert CANARY not in json.dumps(scrubbed)
    assert scrubbed["parameters"] == {
        "db_password": REFERENCE,
        "retries": 3,
        "verbose": True,
        "extra": None,
    }
    assert scrubbed["duration_s"] == 3.25
    assert scrubbed["error"] == {"evalue": f"auth failed for {MARK}", "cell": 4}
    assert scrubbed[f"odd-{MARK}"] == ["a", MARK]


@pytest.mark.slow
def _ipc_kernel_manager(folder: Path) -> type:
    """A kernel manager whose kernel talks over Unix sockets in `folder`: papermill's TCP ports
    are chosen free, then bound by the kernel, and a test running beside it took one in between
    ("Address already in use", "Kernel died before replying to kernel_info")."""
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(folder / "kernel")

    return IpcKernelManager


def test_notebook_executed_by_papermill_is_scrubbed(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    source = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        cells=[
            new_code_cell('db_password = "env:DB_PASSWORD"', metadata={"tags": ["parameters"]}),
            new_code_cell("print('connecting with', db_password)\ndb_password"),
            new_code_cell("raise RuntimeError(f'login refused for {db_password!r}')"),
        ],
    )
    path = tmp_path / "in.ipynb"
    nbformat.write(source, path)

    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(
            str(path),
            str(tmp_path / "out.ipynb"),
            parameters={"db_password": CANARY},
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=_ipc_kernel_manager(tmp_path),
        )
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert CANARY in json.dumps(executed)

    scrubbed = scrub_notebook(executed, SECRETS)

    assert CANARY not in json.dumps(scrubbed)
    assert scrubbed.metadata.papermill.parameters == {"db_password": MARK}
    injected = [c for c in scrubbed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert MARK in injected[0].source


def _cut_in_canary(limit: int) -> str:
    """A text cut at `limit` as upkeep cuts one (`plain_text.cut`), the cut inside CANARY."""
    text = cut("x" * (limit - 10) + " " + CANARY, limit)
    assert CANARY not in text and text.endswith(CANARY[:8] + CUT_MARK)
    return text


def _repaired(text: str) -> str:
    """What scrubbing makes of a `_cut_in_canary` text: the secret's start is its marker too."""
    return text[: -8 - len(CUT_MARK)] + MARK + CUT_MARK


def test_a_summary_cut_in_the_middle_of_a_secret_loses_its_start_too() -> None:
    # report.summary cuts at SUMMARY_CHARS in the kernel: a secret straddling the cut left its
    # first characters, which no longer match the whole secret, in run.json.
    from datetime import UTC, datetime

    from upkeep.records import RunbookRef, RunRecord, Status
    from upkeep.report import SUMMARY_CHARS
    from upkeep.run.seal import scrub_record

    line = _cut_in_canary(SUMMARY_CHARS)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    record = RunRecord("r", RunbookRef("r"), Status.OK, now, now, now, summary=line)
    scrubbed = scrub_record(record, Scrubber({REFERENCE: CANARY})).summary
    assert scrubbed == _repaired(line)
    # Summaries are joined with "; ": one cut before the last leaves its mark in the middle.
    joined = replace(record, summary=f"{line}; done")
    assert scrub_record(joined, Scrubber({REFERENCE: CANARY})).summary == f"{_repaired(line)}; done"


def test_a_summary_cut_in_the_middle_of_a_secret_loses_its_start_in_the_notebook_too() -> None:
    # The cut summary is in the notebook too (the record and its text line), and from there in
    # report.html: only run.json had its end repaired, and the secret's first characters stayed.
    from upkeep.report import MIMETYPE, SUMMARY, SUMMARY_CHARS

    line = _cut_in_canary(SUMMARY_CHARS)
    short = "ran backup-2024"  # not cut: a word a secret starts with stays
    cell = new_code_cell("report.summary(...)")
    cell.outputs = [
        new_output("display_data", {MIMETYPE: {"kind": SUMMARY, "text": text}, "text/plain": text})
        for text in (line, short)
    ]
    nb = Scrubber({REFERENCE: CANARY, "env:OTHER": "backup-2024-xyz"}).notebook(
        new_notebook(cells=[cell])
    )
    cut, kept = (output["data"] for output in nb.cells[0].outputs)
    assert cut[MIMETYPE]["text"] == cut["text/plain"] == _repaired(line)
    assert kept[MIMETYPE]["text"] == kept["text/plain"] == short


def test_a_results_message_cut_in_the_middle_of_a_secret_loses_its_start_everywhere() -> None:
    from datetime import UTC, datetime

    from upkeep.records import Check, Finding, RunbookRef, RunRecord, Status
    from upkeep.report import MESSAGE_CHARS, MIMETYPE
    from upkeep.run.seal import scrub_record

    message = _cut_in_canary(MESSAGE_CHARS)
    shown = f"[FAIL] apt: {message}"
    cell = new_code_cell("report.check(...)")
    record = {"kind": "check", "name": "apt", "status": "fail", "message": message}
    cell.outputs = [new_output("display_data", {MIMETYPE: record, "text/plain": shown})]
    nb = Scrubber(SECRETS).notebook(new_notebook(cells=[cell]))
    data = nb.cells[0].outputs[0]["data"]
    assert data[MIMETYPE]["message"] == _repaired(message)
    assert data["text/plain"] == _repaired(shown)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = RunRecord(
        "r",
        RunbookRef("r"),
        Status.FAIL,
        now,
        now,
        now,
        checks=(Check("apt", Status.FAIL, message=message),),
        findings=(Finding("apt:held", message),),
    )
    scrubbed = scrub_record(run, Scrubber(SECRETS))
    assert scrubbed.checks[0].message == scrubbed.findings[0].message == _repaired(message)


def test_an_errors_message_and_lines_cut_inside_a_secret_lose_its_start_in_the_notebook() -> None:
    from upkeep.run.output_limit import ERROR_CHARS

    evalue, line = _cut_in_canary(ERROR_CHARS), _cut_in_canary(ERROR_CHARS)
    cell = new_code_cell("raise ...")
    cell.outputs = [new_output("error", ename="E", evalue=evalue, traceback=[line, "whole"])]
    nb = Scrubber(SECRETS).notebook(new_notebook(cells=[cell]))
    error = nb.cells[0].outputs[0]
    assert error["evalue"] == _repaired(evalue)
    assert error["traceback"] == [_repaired(line), "whole"]


def test_outputs_that_only_look_like_upkeeps_own_do_not_stop_the_scrubbing() -> None:
    # A runbook may display anything under upkeep's mimetypes: sealing its notebook must not
    # fail on a note or a record of the wrong shape.
    from upkeep.report import MIMETYPE, OUTPUT_CUT

    cell = new_code_cell("display(...)")
    cell.outputs = [
        new_output("display_data", {OUTPUT_CUT: "not a note", MIMETYPE: ["not", "a", "record"]}),
        new_output("display_data", {OUTPUT_CUT: {"cut": [["stdout"]]}, "text/plain": CANARY}),
        new_output("stream", name="stdout", text=f"{CANARY}\n"),
    ]
    nb = Scrubber(SECRETS).notebook(new_notebook(cells=[cell]))
    assert CANARY not in json.dumps(nb)


def test_an_errors_message_and_traceback_cut_in_the_middle_of_a_secret_lose_its_start() -> None:
    from datetime import UTC, datetime

    from upkeep.records import RunbookRef, RunError, RunRecord, Status
    from upkeep.run.collect import EVALUE_CHARS, TRACEBACK_CHARS
    from upkeep.run.seal import scrub_record

    now = datetime(2026, 12, 1, tzinfo=UTC)
    evalue, traceback = _cut_in_canary(EVALUE_CHARS), _cut_in_canary(TRACEBACK_CHARS)
    error = RunError("RuntimeError", evalue, 1, 1, traceback)
    record = RunRecord("r", RunbookRef("r"), Status.ERROR, now, now, now, error=error)
    scrubbed = scrub_record(record, Scrubber({REFERENCE: CANARY})).error
    assert scrubbed is not None
    assert scrubbed.evalue == _repaired(evalue)
    assert scrubbed.traceback == _repaired(traceback)
    # Shorter than the limit, the text was not cut: a word a secret starts with stays.
    whole = RunError("RuntimeError", "ends in CANARY-7f", 1, 1, "ends in CANARY-7f")
    kept = scrub_record(replace(record, error=whole), Scrubber({REFERENCE: CANARY})).error
    assert kept == whole


def test_a_summary_that_was_not_cut_keeps_a_word_a_secret_starts_with() -> None:
    # Every summary went through the cut repair: with the secret "backup-2024-xyz" the summary
    # "ran backup" became "ran «secret:...»" (and told that the secret starts with "backup").
    from datetime import UTC, datetime

    from upkeep.records import RunbookRef, RunRecord, Status
    from upkeep.run.seal import scrub_record

    now = datetime(2026, 12, 1, tzinfo=UTC)
    record = RunRecord("r", RunbookRef("r"), Status.OK, now, now, now, summary="ran backup")
    scrubbed = scrub_record(record, Scrubber({REFERENCE: "backup-2024-xyz"})).summary
    assert scrubbed == "ran backup"


def test_a_secret_with_blanks_around_it_is_scrubbed_stripped_too() -> None:
    """A secret file `  token  `: the runbook strips what it read, and prints that."""
    value = "  SpacedSecret77  "
    scrubbed = scrub_text("got SpacedSecret77 and '  SpacedSecret77  '", {REFERENCE: value})
    assert "SpacedSecret77" not in scrubbed
    assert scrubbed.count(MARK) == 2
