"""upkeep.rendering.report: the report shows the verdict first and can never run script."""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from pathlib import Path
from typing import Any

import nbformat
import pytest
from helpers.hostile_html import HOSTILE, PNG, Parsed
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from upkeep.records import RunRecord
from upkeep.rendering import notebook as notebook_body
from upkeep.rendering.report import CONTENT_SECURITY_POLICY
from upkeep.rendering.report import render_report as render_record
from upkeep.report import MIMETYPE


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "20261127T021500Z-db-health-7f3a",
        "status": "fail",
        "started_at": "2026-11-27T02:15:00+00:00",
        "ended_at": "2026-11-27T02:15:04+00:00",
        "duration_s": 4.25,
        "trigger": "schedule",
        "host": {"name": "ops-1", "user": "backup", "platform": "Linux-6.1-x86_64"},
        "runbook": {
            "name": "db-health",
            "title": "Database health",
            "path": "runbooks/daily/db-health.ipynb",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "git_commit": "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
        },
        "parameters": {"db_password": "env:DB_PASSWORD", "max_bloat": 30},
        "checks": [
            {"name": "connections", "status": "ok", "value": 12, "limit": 100, "unit": "",
             "message": ""},
            {"name": "disk:/", "status": "warn", "value": 87.1, "limit": 85, "unit": "%",
             "message": "root filesystem filling"},
            {"name": "orphans", "status": "fail", "value": 12, "limit": 0, "unit": "",
             "message": "orders reference missing customers"},
        ],
        "metrics": [{"name": "disk_used_percent", "value": 87.1, "unit": "%",
                     "labels": {"mount": "/"}}],
        "findings": [{"key": "orphans:orders.customer_id", "message": "12 orphaned orders",
                      "severity": "warn"}],
        "error": None,
        "versions": {"python": "3.11.7", "upkeep": "0.1.0", "papermill": "2.7.0",
                     "kernel": "ipykernel 7.4.0"},
    }  # fmt: skip
    base.update(overrides)
    return base


def render_report(nb: nbformat.NotebookNode | None, value: dict[str, Any]) -> str:
    """The report of the run record `value` (run.json's JSON)."""
    return render_record(nb, RunRecord.from_json(value))


def notebook(*extra_cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = new_notebook(
        metadata={"language_info": {"name": "python"}, "papermill": {"parameters": {}}},
        cells=[
            new_markdown_cell("# Database health\n\nWhy this runbook exists: the **narrative**."),
            new_code_cell(
                'db_password = "env:DB_PASSWORD"',
                metadata={"tags": ["injected-parameters"]},
                execution_count=1,
            ),
            new_code_cell(
                "usage = disk_usage('/')\nreport.check('disk:/', 'warn')",
                execution_count=2,
                outputs=[
                    new_output("stream", name="stdout", text="measured 87.1%\n"),
                    new_output(
                        "display_data",
                        data={
                            MIMETYPE: {"kind": "check", "name": "disk:/", "status": "warn"},
                            "text/plain": "[WARN] disk:/: 87.1% (limit 85%) filling",
                        },
                    ),
                ],
            ),
            *extra_cells,
        ],
    )
    return nb


def hostile_cell() -> nbformat.NotebookNode:
    outputs = [new_output("stream", name="stdout", text="\n".join(HOSTILE) + "\n")]
    for payload in HOSTILE:
        outputs.append(
            new_output("display_data", data={"text/html": payload, "text/plain": "<HTML object>"})
        )
        outputs.append(new_output("display_data", data={"text/html": payload}))
    outputs += [
        new_output("display_data", data={"image/svg+xml": HOSTILE[4]}),
        new_output("display_data", data={"text/markdown": f"[x](javascript:1) {HOSTILE[1]}"}),
        new_output("display_data", data={"application/javascript": "alert(1)"}),
        new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                  "text/plain": "IntSlider(value=1)"},
        ),
        new_output("execute_result", data={"text/html": HOSTILE[0]}, execution_count=9),
        new_output(
            "error",
            ename="ValueError",
            evalue=HOSTILE[1],
            traceback=["\x1b[31mValueError\x1b[0m: " + HOSTILE[0]],
        ),
    ]  # fmt: skip
    return new_code_cell("show(rows)", execution_count=9, outputs=outputs)


def hostile_markdown() -> nbformat.NotebookNode:
    return new_markdown_cell(
        "## Raw HTML in the runbook\n\n"
        + "\n\n".join(HOSTILE)
        + "\n\n[docs](javascript:alert(1)) ![pixel](https://tracker.example/p.png)"
    )


@pytest.fixture(scope="module")
def report() -> str:
    return render_report(notebook(), record())


def test_verdict_comes_before_the_notebook(report: str) -> None:
    verdict = report.index('<span class="uk-status uk-fail">FAIL</span>')
    checks = report.index('id="checks"')
    narrative = report.index("the <strong>narrative</strong>")

    assert verdict < checks < narrative
    assert report.index("Database health") < narrative
    assert "20261127T021500Z-db-health-7f3a" in report[:narrative]


def test_verdict_names_runbook_version_and_run(report: str) -> None:
    header = report[report.index("<header") : report.index("</header>")]

    for expected in (
        "Database health",
        "db-health",
        "20261127T021500Z-db-health-7f3a",
        "2026-11-27 02:15:00 UTC",
        "2026-11-27 02:15:04 UTC",
        "4.2 s",
        "schedule",
        "backup@ops-1",
        "runbooks/daily/db-health.ipynb",
        "9f86d081884c",
        "3b18e512dba7",
    ):
        assert expected in header


def test_checks_table_shows_each_check_with_its_status_word_worst_first(report: str) -> None:
    table = report[report.index('id="checks"') : report.index('id="metrics"')]
    rows = re.findall(
        r'<tr><td><span class="uk-status uk-(\w+)">(\w+)</span></td><td>(.*?)</td>', table
    )

    assert rows == [
        ("fail", "FAIL", "orphans"),
        ("warn", "WARN", "disk:/"),
        ("ok", "OK", "connections"),
    ]
    assert "87.1%" in table and "85%" in table


def test_metrics_findings_and_parameters_are_listed(report: str) -> None:
    assert "disk_used_percent" in report and "mount=/" in report
    assert "orphans:orders.customer_id" in report and "12 orphaned orders" in report
    parameters = report[report.index('id="parameters"') : report.index('id="notebook"')]
    assert "db_password" in parameters and '"env:DB_PASSWORD"' in html.unescape(parameters)
    assert "max_bloat" in parameters and "<code>30</code>" in parameters


def test_failing_run_has_an_error_box_naming_the_cell_and_exception() -> None:
    failing = new_code_cell(
        "1 / 0",
        execution_count=3,
        outputs=[
            new_output(
                "error",
                ename="ZeroDivisionError",
                evalue="division by zero",
                traceback=["\x1b[31mZeroDivisionError\x1b[0m: division by zero"],
            )
        ],
    )
    error = {
        "cell": 3,
        "ename": "ZeroDivisionError",
        "evalue": "division by zero",
        "traceback": "Traceback (most recent call last):\n  1 / 0\n"
        "ZeroDivisionError: division by zero",
    }

    document = render_report(notebook(failing), record(status="error", error=error, checks=[]))

    box = document[document.index('id="error"') : document.index("</section>")]
    assert "cell 3 (In [3])" in box
    assert 'href="#cell-id=cell-3"' in box
    assert "ZeroDivisionError: division by zero" in box
    assert "Traceback (most recent call last):" in box
    assert document.index('id="error"') < document.index('id="notebook"')
    assert 'id="cell-id=cell-3"' in document
    # The failing cell is marked, so its code shows even in the auditor's view.
    assert re.search(r'class="[^"]*celltag_upkeep-failed[^"]*" id="cell-id=cell-3"', document)
    assert ".notebook .celltag_upkeep-failed .input" in document
    assert '<span class="uk-status uk-error">ERROR</span>' in document


def _error_heading(document: str) -> str:
    box = document[document.index('id="error"') : document.index("</section>")]
    [heading] = re.findall(r"<h2>(.*?)</h2>", box, re.DOTALL)
    return re.sub(r"<[^>]+>", "", heading)


@pytest.mark.parametrize(
    ("error", "heading"),
    [
        (
            {"ename": "NoChecksRecorded", "evalue": "the runbook finished without a check"},
            "The run finished without recording any check",
        ),
        (
            {"ename": "NoChecksRecorded", "evalue": "stopped early", "cell": 3,
             "execution_count": 3},
            "The run stopped early in cell 3 (In [3]), before recording any check",
        ),
        (
            {"ename": "Timeout", "evalue": "past its timeout", "cell": 3, "execution_count": 3},
            "The run stopped with an error in cell 3 (In [3])",
        ),
        (
            {"ename": "NoSuchKernel", "evalue": "the kernel did not start"},
            "The run stopped with an error",
        ),
    ],
)  # fmt: skip
def test_the_error_heading_says_where_and_how_the_run_ended(
    error: dict[str, Any], heading: str
) -> None:
    stopped = new_code_cell("import sys\nsys.exit(0)", execution_count=3)
    document = render_report(notebook(stopped), record(status="error", error=error, checks=[]))
    assert _error_heading(document) == heading
    assert "unknown cell" not in document


def test_hostile_outputs_and_markdown_render_as_inert_text() -> None:
    nasty = record(
        checks=[{"name": HOSTILE[0], "status": "fail", "value": None, "limit": None,
                 "unit": "", "message": HOSTILE[1]}],
        parameters={"x": HOSTILE[2]},
        host={"name": HOSTILE[3], "user": HOSTILE[0]},
    )  # fmt: skip

    document = render_report(notebook(hostile_cell(), hostile_markdown()), nasty)

    parsed = Parsed(document)
    tags = {name for name, _ in parsed.tags}
    assert not tags & {"script", "iframe", "object", "embed", "svg", "link", "base", "form"}
    assert all(attrs.get("http-equiv", "").lower() != "refresh" for attrs in parsed.named("meta"))
    for name, attrs in parsed.tags:
        for attribute, value in attrs.items():
            assert not attribute.startswith("on"), (name, attribute)
            assert attribute != "style", (name, attribute)
            assert "javascript:" not in (value or "").lower(), (name, attribute)
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text  # shown to the reader, as text
    assert "<img src=x onerror=alert(1)>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "IntSlider(value=1)" in text
    assert "alert(1)" in text  # the JavaScript output's source, as text


def test_document_loads_nothing_from_outside() -> None:
    document = render_report(notebook(hostile_cell()), record())

    parsed = Parsed(document)
    for _name, attrs in parsed.tags:
        for attribute in ("src", "href"):
            value = attrs.get(attribute) or ""
            assert not value.lower().startswith(("http://", "https://", "//")), attrs
    assert [m["content"] for m in parsed.named("meta") if m.get("http-equiv")] == [
        CONTENT_SECURITY_POLICY
    ]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY
    stylesheet = document[document.index("<style>") : document.index("</style>")]
    assert "@import" not in stylesheet and "url(" not in stylesheet


def test_markdown_links_stay_but_remote_images_are_dropped() -> None:
    cell = new_markdown_cell(
        "See [the docs](https://www.postgresql.org/docs/) and ![pixel](https://t.example/p.png)"
    )

    parsed = Parsed(render_report(notebook(cell), record()))

    assert {"href": "https://www.postgresql.org/docs/"} in parsed.named("a")
    assert all(not (img.get("src") or "").startswith("http") for img in parsed.named("img"))


def test_png_output_is_kept_as_a_data_uri() -> None:
    cell = new_code_cell(
        "plot()",
        execution_count=4,
        outputs=[new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})],
    )

    parsed = Parsed(render_report(notebook(cell), record()))

    assert [img["src"] for img in parsed.named("img")] == [f"data:image/png;base64,{PNG}"]
    base64.b64decode(PNG, validate=True)


def test_upkeep_result_output_renders_as_its_readable_line(report: str) -> None:
    body = report[report.index('<div class="notebook">') :]

    assert "[WARN] disk:/: 87.1% (limit 85%) filling" in body
    assert '"kind"' not in body and "&quot;kind&quot;" not in body


def test_code_is_in_the_document_but_hidden_until_asked_for(report: str) -> None:
    parsed = Parsed(report)
    body = report[report.index('<div class="notebook">') :]

    assert "disk_usage" in body
    inputs = re.findall(r'<div class="input">.*?</div>\s*</div>\s*</div>', body, re.S)
    assert len(inputs) == 2 and "disk_usage" in inputs[1]
    toggle = [t for t in parsed.named("input") if t.get("id") == "upkeep-show-code"]
    assert toggle == [{"type": "checkbox", "id": "upkeep-show-code", "class": "show-code"}]
    assert re.search(r"\.notebook \.input, \.notebook \.prompt \{ display: none; \}", report)
    assert "#upkeep-show-code:checked ~ .notebook .input" in report
    assert report.index('id="upkeep-show-code"') < report.index('<div class="notebook">')


def test_report_is_small_and_uses_the_light_template(report: str) -> None:
    assert len(report.encode()) < 60_000
    assert "jp-Notebook" not in report and "--jp-" not in report
    assert ".highlight .k" in report  # pygments CSS for the code view
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")


def test_skipped_run_renders_the_verdict_only() -> None:
    document = render_report(None, record(status="skipped", checks=[], metrics=[], findings=[]))

    assert '<span class="uk-status uk-skipped">SKIPPED</span>' in document
    assert "no notebook was executed" in document
    assert '<div class="notebook">' not in document
    assert "No check recorded." in document


def test_a_record_with_an_unknown_status_never_reaches_the_report() -> None:
    # The status is typed: a run.json saying anything else does not load, so no unknown word
    # (or markup in one) can be shown as a status.
    with pytest.raises(ValueError, match="not one of ok, warn, fail, error, skipped"):
        render_report(None, record(status="<b>odd</b>"))


def test_rendering_many_notebooks_creates_one_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[HTMLExporter] = []

    class CountingExporter(HTMLExporter):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            created.append(self)

    monkeypatch.setattr(notebook_body, "HTMLExporter", CountingExporter)
    monkeypatch.setattr(notebook_body, "_exporter", None)
    documents: list[str] = []

    def render_some(count: int) -> None:
        for i in range(count):
            documents.append(render_report(notebook(), record(run_id=f"run-{i}")))

    threads = [threading.Thread(target=render_some, args=(5,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(created) == 1
    assert len(documents) == 20
    assert all("[WARN] disk:/" in document for document in documents)


@pytest.mark.slow
def test_report_of_a_notebook_executed_by_papermill(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    source = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        cells=[
            new_markdown_cell("# Tiny runbook\n\nRecords a check, then fails."),
            new_code_cell("limit = 10", metadata={"tags": ["parameters"]}),
            new_code_cell(
                "from upkeep import report\n"
                "from IPython.display import HTML, display\n"
                "report.check('rows', 'fail', value=12, limit=limit, message='too many')\n"
                "display(HTML('<script>alert(1)</script>'))\n"
                "print('<img src=x onerror=alert(1)>')"
            ),
            new_code_cell("raise RuntimeError('backup target unreachable')"),
        ],
    )
    path = tmp_path / "in.ipynb"
    nbformat.write(source, path)
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(
            str(path), str(tmp_path / "out.ipynb"), parameters={"limit": 5}, progress_bar=False
        )
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    index = next(
        i
        for i, cell in enumerate(executed.cells)
        if "RuntimeError" in json.dumps(cell.get("outputs"))
    )
    error = {"cell": index, "ename": "RuntimeError", "evalue": "backup target unreachable",
             "traceback": "RuntimeError: backup target unreachable"}  # fmt: skip

    document = render_report(executed, record(status="error", error=error))

    parsed = Parsed(document)
    assert not {"script", "iframe"} & {name for name, _ in parsed.tags}
    assert not any(a.startswith("on") for _, attrs in parsed.tags for a in attrs)
    assert "[FAIL] rows: 12 (limit 5) too many" in document
    assert "&lt;img src=x onerror=alert(1)&gt;" in document
    assert f'href="#cell-id=cell-{index}"' in document
    assert "Tiny runbook" in document


def test_rich_outputs_give_way_to_plain_text_or_are_shown_as_text() -> None:
    cell = new_code_cell(
        "df",
        execution_count=5,
        outputs=[
            new_output(
                "execute_result",
                data={"text/html": "<table><tr><td>rich</td></tr></table>", "text/plain": "plain"},
                execution_count=5,
            ),
            new_output("display_data", data={"text/html": "<b>only html</b>"}),
            new_output("display_data", data={"text/markdown": "**only markdown**"}),
            new_output("display_data", data={"application/json": {"a": [1, 2]}}),
        ],
    )

    document = render_report(notebook(cell), record())

    body = document[document.index('<div class="notebook">') :]
    assert "plain" in body and "rich" not in body
    assert "&lt;b&gt;only html&lt;/b&gt;" in body
    assert "**only markdown**" in body and "<strong>only markdown" not in body
    assert "&quot;a&quot;: [" in body or '"a": [' in body


def test_the_runs_summary_line_is_among_the_facts() -> None:
    document = render_report(None, record(summary="removed 26 entries, freeing 1.2 MiB <b>"))
    header = document[document.index("<header") : document.index("</header>")]
    assert "What it did" in header and "removed 26 entries, freeing 1.2 MiB &lt;b&gt;" in header


def test_control_characters_and_bidi_overrides_a_run_printed_are_shown_not_obeyed() -> None:
    # A run's output is the run's to choose: a right-to-left override makes the rest of its line
    # read backwards ("exe.txt" shown for "txt.exe"), a NUL or BEL is invisible. The reader sees
    # a sign instead (nbconvert's own for C0 controls in streams), while a colour escape is still
    # drawn as colour.
    override = "\u202e"
    cell = new_code_cell(
        "print(name)",
        execution_count=3,
        outputs=[
            new_output("stream", name="stdout", text=f"saved {override}exe.txt\x00\x07\n"),
            new_output("stream", name="stderr", text="\x1b[31mred\x1b[0m and \x1b stray\n"),
            new_output("display_data", data={"text/markdown": f"*{override}gnp.evil*"}),
        ],
    )

    markdown = new_markdown_cell("Written as references: &#x202E;abc &#8238;def")

    document = render_report(notebook(cell, markdown), record())

    without_style = re.sub(r"<style[^>]*>.*?</style>", "", document, flags=re.S)
    for code in (0x00, 0x07, 0x1B, 0x202E):
        assert chr(code) not in without_style, hex(code)
    assert "&#x202E;" not in document and "&#8238;" not in document
    text = "".join(Parsed(document).text)
    assert "saved <U+202E>exe.txt" in text
    assert "<U+202E>abc <U+202E>def" in text
    assert "<U+202E>gnp.evil" in text
    assert re.search(r"and \S stray", text)
    assert "\u241b[31m" not in text  # the colour escape is drawn, not shown
    assert "red" in text
