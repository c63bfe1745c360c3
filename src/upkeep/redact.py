"""Responsible for scrubbing secret values from an executed notebook before it is published.

The runner resolves every secret reference a run used, then replaces each value, and the
encodings of it that commonly show up in output (repr, JSON, URL-quoted, HTML-escaped, base64),
with a marker naming the reference: `«secret:env:DB_PASSWORD»`. Matching tolerates ANSI colour
codes between characters, as IPython tracebacks colour what they print.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from upkeep.plain_text import CUT_MARK

if TYPE_CHECKING:
    from nbformat import NotebookNode

MIN_SECRET_LENGTH = 4
# A base64 fragment shorter than this could occur by chance inside image data.
_MIN_BASE64_FRAGMENT = 8
_ANSI_GAP = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"

__all__ = [
    "MIN_SECRET_LENGTH",
    "Scrubber",
    "marker",
    "scrub_notebook",
    "scrub_text",
    "scrub_value",
]


def marker(reference: str) -> str:
    """The text that stands in for the value of the secret `reference`."""
    return f"«secret:{reference}»"


def _base64_forms(value: str) -> Iterable[str]:
    raw = value.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        yield whole
        yield whole.rstrip("=")
        # Inside a longer base64 text (an HTTP basic-auth header, say) the value may start at
        # any of three byte offsets; keep only the characters that depend on the value alone.
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw).decode("ascii")
            first = -(-8 * offset // 6)
            last = 8 * (offset + len(raw)) // 6
            fragment = encoded[first:last]
            if len(fragment) >= _MIN_BASE64_FRAGMENT:
                yield fragment


def _repr_bodies(value: str) -> Iterable[str]:
    """The value as it appears inside a Python repr, with either quote character escaped, as
    text and as its UTF-8 bytes (`print(secret.encode())`, a header dict of an HTTP library)."""
    yield repr(value)[1:-1]
    yield repr(value + '"')[1:-2]  # single-quoted: an added " is never escaped
    quoted = repr(value + "'")
    yield quoted[1:-3] if quoted.endswith("\\''") else quoted[1:-2]
    raw = value.encode("utf-8", "surrogatepass")
    yield repr(raw)[2:-1]
    yield repr(raw + b'"')[2:-2]
    quoted = repr(raw + b"'")
    yield quoted[2:-3] if quoted.endswith("\\''") else quoted[2:-2]


def encoded_forms(value: str) -> set[str]:
    """The value and the escaped or encoded forms of it that output commonly contains; of the
    value without the blanks around it too (a secret file's `  token  `, stripped by the code
    that reads it)."""
    stripped = value.strip()
    forms = _forms_of(value) | (_forms_of(stripped) if stripped != value else set())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def _forms_of(value: str) -> set[str]:
    return {
        value,
        # Its UTF-16 bytes read as Latin-1 (a NUL between characters): a report that drops
        # NULs would show the value whole.
        value.encode("utf-16-le", "surrogatepass").decode("latin-1"),
        value.encode("utf-16-be", "surrogatepass").decode("latin-1"),
        *_repr_bodies(value),
        value.encode("unicode_escape").decode("ascii"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        *_base64_forms(value),
    }


class Scrubber:
    """Replaces the secrets of one run; build once, apply to every artifact of the run."""

    def __init__(self, secrets: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        """`secrets`: reference -> value, or (reference, value) pairs (a reference may stand
        for two values: a secret file rotated while the run read it)."""
        self._reference_of: dict[str, str] = {}
        pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
        # Longer secrets first, so a secret containing another is replaced whole.
        ordered = sorted(pairs, key=lambda item: (-len(item[1] or ""), item[0]))
        for reference, value in ordered:
            if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
                continue
            for form in encoded_forms(value):
                self._reference_of.setdefault(form, reference)
        # One pass with the longest forms first: a marker is never scanned again.
        self._forms = sorted(self._reference_of, key=lambda form: (-len(form), form))
        self._group_reference = [self._reference_of[form] for form in self._forms]
        self._plain = re.compile("|".join(f"({re.escape(form)})" for form in self._forms))
        self._tolerant = re.compile("|".join(f"({_tolerant(form)})" for form in self._forms))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def byte_forms(self) -> list[bytes]:
        """Every form as the bytes a file may hold it in, longest first: UTF-8, and Latin-1
        where it has no other character (so a UTF-16 form gives the bytes of UTF-16 text), to
        find one in a file the run wrote itself."""
        found = {form.encode("utf-8", "surrogatepass") for form in self._forms}
        for form in self._forms:
            with contextlib.suppress(UnicodeEncodeError):
                found.add(form.encode("latin-1"))
        return sorted(found, key=lambda form: (-len(form), form))

    def text(self, text: str) -> str:
        """`text` with every secret form replaced by its marker, and the start of a secret
        right before a cut mark (`plain_text.CUT_MARK`: a text cut at its length, maybe inside
        a secret, then joined with others, as summaries are) too."""
        if not self._forms or not text:
            return text
        if "\x1b" in text:
            text = self._tolerant.sub(self._replace, text)
        # Substring search is far faster than the regex on large outputs (images, logs).
        elif any(form in text for form in self._forms):
            text = self._plain.sub(self._replace, text)
        if CUT_MARK not in text:
            return text
        *cut, rest = text.split(CUT_MARK)
        return CUT_MARK.join([*(self._cut_end(part) for part in cut), rest])

    def _replace(self, match: re.Match[str]) -> str:
        return marker(self._group_reference[match.lastindex - 1])

    def cut_text(self, text: str) -> str:
        """`text` scrubbed, when it was cut short without a mark (a stream at the output
        limit, the kernel's log): a secret it ends in the middle of leaves a start that
        `text()` cannot recognise, replaced too."""
        return self._cut_end(self.text(text))

    def _cut_end(self, text: str) -> str:
        """Scrubbed `text` with a secret's start at its very end replaced too."""
        for form in self._forms:
            for length in range(len(form) - 1, MIN_SECRET_LENGTH - 1, -1):
                if text.endswith(form[:length]):
                    return text[:-length] + marker(self._reference_of[form])
        return text

    def value(self, obj: Any) -> Any:
        """A scrubbed copy of a JSON-like structure: strings in keys and values are scrubbed."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.value(key): self.value(item) for key, item in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(item) for item in obj]
        return obj

    def notebook(self, nb: NotebookNode) -> NotebookNode:
        """A scrubbed deep copy of `nb`; the original is left as it was."""
        import nbformat  # here, not above: `params` needs this module, and `list` needs `params`

        data = self.value(_joined(nb))
        if self._forms:
            for cell in data.get("cells", []):
                self._cut_streams(cell.get("outputs", []))
        return nbformat.from_dict(data)

    def _cut_streams(self, outputs: list[dict[str, Any]]) -> None:
        """The streams a cell's output limit cut (`upkeep.run.output_limit`, whose note names
        them) end where the limit fell, maybe inside a secret: scrub that end as a cut text's.
        """
        # Imported here: upkeep.report imports detect-secrets, which `upkeep list` never needs.
        from upkeep.report import OUTPUT_CUT

        cut: set[str] = set()
        for output in outputs:
            data = output.get("data")
            note = data.get(OUTPUT_CUT) if isinstance(data, dict) else None
            if isinstance(note, dict) and isinstance(note.get("cut"), list):
                cut.update(name for name in note["cut"] if isinstance(name, str))
        for output in outputs:
            if output.get("output_type") == "stream" and output.get("name") in cut:
                output["text"] = self._cut_end(output.get("text", ""))


def _tolerant(form: str) -> str:
    """A pattern for `form` that also matches it with ANSI escape codes between characters."""
    return _ANSI_GAP.join(re.escape(char) for char in form)


def _joined(nb: Mapping[str, Any]) -> dict[str, Any]:
    """`nb` as plain data, with multi-line strings stored as lists joined back into one string.

    A secret spanning lines (a private key) would otherwise be split across list items.
    """
    data = json.loads(json.dumps(nb))
    for cell in data.get("cells", []):
        _join_field(cell, "source")
        for output in cell.get("outputs", []):
            _join_field(output, "text")
            for mimetype, item in output.get("data", {}).items():
                if isinstance(item, list) and all(isinstance(line, str) for line in item):
                    output["data"][mimetype] = "".join(item)
    return data


def _join_field(node: dict[str, Any], field: str) -> None:
    if isinstance(node.get(field), list):
        node[field] = "".join(node[field])


def scrub_text(text: str, secrets: Mapping[str, str]) -> str:
    """`text` (a log line, CLI output) with each secret value replaced by its marker."""
    return Scrubber(secrets).text(text)


def scrub_value(obj: Any, secrets: Mapping[str, str]) -> Any:
    """A scrubbed copy of a JSON-like structure (run.json): dict keys are scrubbed too."""
    return Scrubber(secrets).value(obj)


def scrub_notebook(nb: NotebookNode, secrets: Mapping[str, str]) -> NotebookNode:
    """A deep copy of `nb` with every secret value, anywhere in it, replaced by its marker.

    `secrets` maps a reference ("env:DB_PASSWORD") to its resolved value. Cell sources (the
    injected-parameters cell too), outputs of every kind, cell and notebook metadata
    (`metadata.papermill.parameters`) are all scrubbed.
    """
    return Scrubber(secrets).notebook(nb)
