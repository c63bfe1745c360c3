"""Responsible for masking credentials nobody declared secret in what a run leaves as evidence.

A declared secret (`-p password=env:DB_PASSWORD`, a database's password) is scrubbed by value
(`upkeep.redact`). A credential the run came by otherwise (a DSN with its password read from a
file, a token in an exception's message, a password given as a plain parameter) is masked by
its form (`masking.mask_credentials`: keys, tokens, credentials in URLs, `password=` values,
private keys) wherever the run's own text lands: what its cells printed, displayed and raised,
the parameters papermill injected, and the record's error and parameters. Check and finding
messages are masked already when they are recorded (`upkeep.report`). Cell sources are the
runbook's, hashed into the record: never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from upkeep.masking import mask_credentials
from upkeep.records import RunRecord

INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell of the parameters it set


def mask_notebook(nb: Any) -> None:
    """Mask credentials, in place, in every output of `nb` that holds text (streams, errors and
    their tracebacks, text/* displays), in the injected parameters' cell and in the parameters
    papermill recorded in the notebook's metadata."""
    for cell in nb.get("cells", []):
        if INJECTED_TAG in cell.get("metadata", {}).get("tags", []):
            cell["source"] = _masked(cell.get("source", ""))
        for output in cell.get("outputs", []):
            _mask_output(output)
    papermill = nb.get("metadata", {}).get("papermill")
    if isinstance(papermill, dict) and isinstance(papermill.get("parameters"), dict):
        papermill["parameters"] = _masked(papermill["parameters"])


def _mask_output(output: dict[str, Any]) -> None:
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = _masked(output.get("text", ""))
    elif kind == "error":
        output["evalue"] = _masked(output.get("evalue", ""))
        output["traceback"] = _masked(output.get("traceback", []))
    data = output.get("data")
    if isinstance(data, dict):
        for mimetype, value in data.items():
            if mimetype.startswith("text/") or mimetype.endswith("json"):
                data[mimetype] = _masked(value)


def mask_record(record: RunRecord) -> RunRecord:
    """`record` with credentials masked in its error (message and traceback) and its
    parameters' values."""
    error = record.error
    if error is not None:
        evalue, traceback = mask_credentials(error.evalue), mask_credentials(error.traceback)
        error = replace(error, evalue=evalue, traceback=traceback)
    return replace(record, error=error, parameters=_masked(dict(record.parameters)))


def _masked(value: Any) -> Any:
    """`value` with credentials masked in every string in it (JSON-like data, lists of lines)."""
    if isinstance(value, str):
        return mask_credentials(value)
    if isinstance(value, Mapping):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value
