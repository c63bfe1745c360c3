"""Responsible for reading a runbook's `metadata.upkeep`: each key checked against what it may
hold (text shown as it is, a cadence upkeep can schedule, bounded numbers, names of other
runbooks), with one message naming the runbook, the key and what was expected.
"""

from __future__ import annotations

import re
from typing import Any

from upkeep import schedule
from upkeep.config.model import MAX_MAX_OUTPUT_BYTES, MIN_MAX_OUTPUT_BYTES
from upkeep.docs_review.interval import parse_review_every
from upkeep.errors import RunbookError
from upkeep.plain_text import HIDDEN

__all__ = ["DEFAULT_RETRIES", "MAX_RETRIES", "MAX_TIMEOUT_S", "NAME", "runbook_metadata"]

# A runbook's name: its notebook's file name, kebab-case.
NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A run that takes longer than a week is no run of a maintenance plan; a bound also keeps the
# timeout within what status, watch and the alerting rules can count with.
MAX_TIMEOUT_S = 7 * 24 * 3600
# Text printed as HTML by the theme (a title in the nav and the header) holds no markup.
_MARKUP = re.compile("[<>]")

_METADATA_KEYS = {
    "after",
    "title",
    "summary",
    "cadence",
    "category",
    "owner",
    "references",
    "timeout_s",
    "max_output_bytes",
    "destructive",
    "retries",
    "runs_alone",
    "parameters",
    "review_every",
    "window",
}
DEFAULT_RETRIES = 2  # a run that ended in error is retried by the next `--due`, this many times
MAX_RETRIES = 10


def runbook_metadata(meta: dict[str, Any], where: str) -> dict[str, Any]:
    """The `Runbook` fields `meta` gives (all but name, path and parameters); RunbookError
    naming `where`, the key and what was expected when one is wrong or unknown."""
    unknown = sorted(set(meta) - _METADATA_KEYS)
    if unknown:
        raise RunbookError(
            f"{where}: metadata.upkeep.{unknown[0]}: unknown key "
            f"(known: {', '.join(sorted(_METADATA_KEYS))})"
        )

    def text(key: str, default: str | None = None) -> str:
        value = meta.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise RunbookError(
                f"{where}: metadata.upkeep.{key}: expected a non-empty string, got {value!r}"
            )
        # Shown on the site and in the console as it is: no control or bidi characters, one line
        # (but a summary), and a title without < or > (the theme prints titles as HTML).
        if key == "summary":
            bad, what = HIDDEN.search(value.replace("\n", "")), "text without control characters"
        elif key == "title":
            bad = HIDDEN.search(value) or _MARKUP.search(value)
            what = "one line of text without < > or control characters"
        else:
            bad, what = HIDDEN.search(value), "one line of text without control characters"
        if bad:
            raise RunbookError(f"{where}: metadata.upkeep.{key}: expected {what}, got {value!r}")
        return value

    cadence = text("cadence")
    try:
        schedule.cron_for(cadence)
    except ValueError as exc:
        raise RunbookError(f"{where}: metadata.upkeep.cadence: {exc}") from None
    references = meta.get("references", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise RunbookError(f"{where}: metadata.upkeep.references: expected a list of strings")
    timeout_s = meta.get("timeout_s")
    if timeout_s is not None and (
        type(timeout_s) is not int or not 1 <= timeout_s <= MAX_TIMEOUT_S
    ):
        raise RunbookError(
            f"{where}: metadata.upkeep.timeout_s: expected a whole number of seconds from 1 to"
            f" {MAX_TIMEOUT_S} (a week), got {timeout_s!r}"
        )
    max_output = meta.get("max_output_bytes")
    if max_output is not None and (
        type(max_output) is not int
        or not MIN_MAX_OUTPUT_BYTES <= max_output <= MAX_MAX_OUTPUT_BYTES
    ):
        raise RunbookError(
            f"{where}: metadata.upkeep.max_output_bytes: expected a whole number of bytes from"
            f" {MIN_MAX_OUTPUT_BYTES} to {MAX_MAX_OUTPUT_BYTES} (1 GiB), got {max_output!r}"
        )
    flags = {key: meta.get(key, False) for key in ("destructive", "runs_alone")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise RunbookError(f"{where}: metadata.upkeep.{key}: expected true or false")
    retries = meta.get("retries", DEFAULT_RETRIES)
    if type(retries) is not int or not 0 <= retries <= MAX_RETRIES:
        raise RunbookError(
            f"{where}: metadata.upkeep.retries: expected a whole number from 0 to {MAX_RETRIES} "
            f"(runs of one period that `run --due` repeats after an error), got {retries!r}"
        )
    review_every = meta.get("review_every")
    if review_every is not None:
        try:
            review_every = parse_review_every(review_every)
        except ValueError as exc:
            raise RunbookError(f"{where}: metadata.upkeep.review_every: {exc}") from None
    after = meta.get("after", [])
    if (
        not isinstance(after, list)
        or not all(isinstance(n, str) and NAME.fullmatch(n) for n in after)
        or len(set(after)) != len(after)
    ):
        raise RunbookError(
            f"{where}: metadata.upkeep.after: expected a list of runbook names, each once"
            f" (kebab-case, e.g. [backup]), got {after!r}"
        )
    if after and flags["runs_alone"]:
        raise RunbookError(
            f"{where}: metadata.upkeep.after: a runbook that runs alone runs before every other"
            " one; expected no `after` beside `runs_alone: true`"
        )
    window = meta.get("window")
    if window not in (None, "required"):
        raise RunbookError(
            f"{where}: metadata.upkeep.window: expected 'required' (runs only inside a "
            f"maintenance window) or no key, got {window!r}"
        )
    return {
        "title": text("title"),
        "summary": text("summary"),
        "cadence": cadence,
        "category": text("category"),
        "owner": text("owner"),
        "references": tuple(references),
        "timeout_s": timeout_s,
        "max_output_bytes": max_output,
        "retries": retries,
        "review_every": review_every,
        "window_required": window == "required",
        "after": tuple(after),
        **flags,
    }
