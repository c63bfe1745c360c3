"""Responsible for reading `upkeep.yml`'s text and then one mapping of it key by key: the bytes
decoded as UTF-8 and parsed as YAML with duplicate keys, deep nesting and huge integers refused
and no error quoting the file (`parse_document`: it may be no config at all), each value
checked for its type, defaults filled in, and anything left over or malformed reported as a
`ConfigError` naming the file, the key (or the byte or line) and what was expected; `Problems`
gathers the errors of independent parts, so that one load reports every one of them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml

from upkeep.errors import ConfigError
from upkeep.plain_text import HIDDEN


def lexical(path: Path | str) -> Path:
    """`path` made normal without reading the disk: `.` and `..` folded, and a leading `//`
    made `/`. POSIX lets `//` name a root of its own and pathlib keeps it, so `//etc` would
    compare unequal to `/etc`, and to every other path upkeep guards, while opening the same
    directory."""
    text = os.path.normpath(path)
    return Path("/" + text.lstrip("/") if text.startswith("//") else text)


T = TypeVar("T")
REQUIRED: Any = object()
PORT_MAX = 65535
# What a name may not hold, as runbook titles may not (registry.py): control characters (a line
# break, an escape sequence), zero-width and bidi characters that make one name look like another.


def parse_document(raw: bytes, file: Path) -> Any:
    """The YAML document in `raw`: UTF-8, every mapping's keys unique; ConfigError otherwise."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        # PyYAML takes about a third of a second per megabyte, and every command reads the
        # config: a file this large is no config (a log, a dump given by mistake).
        raise ConfigError(
            f"{file}: {len(raw):,} bytes; expected a config file of at most "
            f"{MAX_DOCUMENT_BYTES // 2**20} MiB"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{file}: not valid UTF-8 at byte {exc.start} (line {line}): "
            f"byte 0x{raw[exc.start]:02x}; expected a UTF-8 text file"
        ) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except _Refused as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {_yaml_problem(exc)}") from None


MAX_DOCUMENT_BYTES = 8 * 2**20  # upkeep.yml, oncall.yml, the fleet file, the risk register

# The longest period any setting may hold (a grace, a reminder, a first scan's window).
LONGEST_PERIOD = timedelta(days=36600)
LONGEST_PERIOD_MINUTES = LONGEST_PERIOD.total_seconds() / 60

# Deeper than any config nests (upkeep.yml: four levels), far below Python's recursion limit,
# which the composer and every reader of the values recurse into.
MAX_DEPTH = 64
# Python's own limit on reading digits as an int (sys.int_info.default_max_str_digits): past it,
# int() and repr() raise ValueError.
MAX_INT_DIGITS = 4300
_TOO_LARGE = 10**MAX_INT_DIGITS
# Quoted text in PyYAML's messages: kept when it is one character (`found character '\t'`) or
# a token's name (`'<stream end>'`); an alias, anchor or tag name is the file's text, not shown.
# The values of YAML's own types whose constructors can fail: what each is, what is expected.
_TAGGED = {
    "timestamp": ("date", "a date that exists, such as 2026-01-31"),
    "float": ("number", "a number such as 1.5"),
    "int": ("integer", "an integer such as 12"),
    "bool": ("boolean", "true or false"),
}
_QUOTED_TEXT = re.compile(
    r"'(<[^'\n]*>|[^'\\\n]|\\[a-z]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})'|'[^'\n]*'"
    r'|"([^"\\\n])"|"[^"\n]*"'  # a text holding an apostrophe: Python quotes it with "
)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong and where, without the lines of the file it quotes under the
    place: the file may be no config at all (a token, a password file), and its text must not
    reach a terminal or a log."""
    if isinstance(exc, yaml.reader.ReaderError):
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return f"character #x{code:04x} at position {exc.position}: {exc.reason}"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return type(exc).__name__
    problem = _unquoted(exc.problem or "unexpected content")
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    if exc.context:
        since = exc.context_mark
        started = (
            f" from line {since.line + 1}"
            if since is not None and mark is not None and since.line != mark.line
            else ""
        )
        problem += f" ({_unquoted(exc.context)}{started})"
    return where + problem


def _unquoted(message: str) -> str:
    return _QUOTED_TEXT.sub(lambda quoted: quoted[0] if quoted[1] or quoted[2] else "'…'", message)


class _Refused(Exception):
    """A document the loader refuses though YAML allows it."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (it keeps the last),
    values nested more than `MAX_DEPTH` deep, integers of more than `MAX_INT_DIGITS` digits,
    text holding a NUL character and values its constructors cannot make (a 13th month),
    each with the line it is on."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _Refused(
                    f"line {line}: values nested more than {MAX_DEPTH} levels deep; expected a"
                    " config (upkeep.yml nests a few levels)"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, TypeError, OverflowError, AttributeError):
            # PyYAML's constructors let these out for a value its patterns took for a date, a
            # number or a boolean (2026-13-45, !!float x; !!timestamp x fails on a match that
            # is None); their text quotes the value.
            tag = str(node.tag).rsplit(":", 1)[-1]
            kind, expected = _TAGGED.get(tag, (tag, f"a valid {tag}"))
            raise _Refused(
                f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}: not a"
                f" valid {kind}; expected {expected}, or the value in quotes (text)"
            ) from None

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_scalar(node)
        if isinstance(value, str) and "\x00" in value:
            # Written "\0" or "\x00" in a quoted value: no path, name or command can hold one,
            # and a path that did failed only once a run had started.
            raise _Refused(
                f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}: text"
                " holding a NUL character; expected text without one"
            )
        return value

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            value = super().construct_yaml_int(node)
        except ValueError:
            if len(str(node.value)) <= MAX_INT_DIGITS:
                raise
            value = _TOO_LARGE
        if abs(value) >= _TOO_LARGE:
            raise _Refused(
                f"line {node.start_mark.line + 1}: an integer of more than {MAX_INT_DIGITS}"
                " digits; expected a smaller number"
            )
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges: overriding is its point
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = first_line.get(key)
            except TypeError:  # an unhashable key: the safe loader refuses it itself
                continue
            if first is not None:
                raise _Refused(
                    f"line {line}: key {key!r} is given twice (first on line {first}); "
                    "expected each key once"
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


class Section:
    """One mapping of the YAML document, read key by key; leftover keys are errors."""

    def __init__(self, data: Any, where: str, file: Path) -> None:
        self.file = file
        self.where = where
        if data is None:
            data = {}
        if not isinstance(data, dict) and not where:
            # The whole document: the file may be no config at all (a token, a password file),
            # so what it holds is named, never shown.
            raise ConfigError(
                f"{file}: top level: expected a mapping of settings (`key: value` lines), got "
                f"{_kind(data)}"
            )
        if not isinstance(data, dict):
            self.fail("", "a mapping", data)
        self.data = dict(data)

    def fail(self, key: str, expected: str, got: Any) -> None:
        name = f"{self.where}.{key}" if self.where and key else (key or self.where or "top level")
        raise ConfigError(f"{self.file}: {name}: expected {expected}, got {_show(got)}")

    def get(self, key: str, kind: type[T], expected: str, default: Any = REQUIRED) -> T:
        if key not in self.data:
            if default is REQUIRED:
                raise ConfigError(f"{self.file}: {self._name(key)}: required key is missing")
            return default
        value = self.data.pop(key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(key, expected, value)
        if kind is float and not math.isfinite(value):  # YAML's .nan and .inf: never meant
            self.fail(key, f"{expected} (finite)", value)
        return value

    def str(self, key: str, default: Any = REQUIRED) -> str:
        value = self.get(key, str, "a string", default)
        if isinstance(value, str) and not value.strip():
            self.fail(key, "a non-empty string", value)
        return value

    def name(self, key: str, default: Any = REQUIRED) -> str:
        """A name upkeep prints in reports, the console and the site and writes into evidence:
        one line of text, without a character that would act on a terminal or hide."""
        value = self.str(key, default)
        if isinstance(value, str) and HIDDEN.search(value):
            self.fail(key, "one line of text without control characters", value)
        return value

    def int(
        self, key: str, default: Any = REQUIRED, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.get(key, int, "an integer", default)
        if value is not None and maximum is not None and not minimum <= value <= maximum:
            self.fail(key, f"an integer from {minimum} to {maximum}", value)
        if value is not None and value < minimum:
            self.fail(key, f"an integer >= {minimum}", value)
        return value

    def port(self, key: str, default: Any = REQUIRED) -> int:
        value = self.get(key, int, "an integer", default)
        if value is not None and not 1 <= value <= PORT_MAX:
            self.fail(key, f"a TCP port from 1 to {PORT_MAX}", value)
        return value

    def number(self, key: str, default: Any = REQUIRED, maximum: float | None = None) -> float:
        value = self.get(key, float, "a number", default)
        if value is not None and maximum is not None and not 0 <= value <= maximum:
            self.fail(key, f"a number from 0 to {maximum:.15g}", value)
        if value is not None and value < 0:
            self.fail(key, "a number >= 0", value)
        return value

    def period(
        self, key: str, amount: float, unit: timedelta, written: Any, expected: str
    ) -> timedelta:
        """`amount` times `unit`, as `written` for `key`; refused past LONGEST_PERIOD, which is
        a typo (and, a little further, more than a timedelta holds)."""
        if amount > LONGEST_PERIOD / unit:
            self.fail(key, f"{expected}, at most {LONGEST_PERIOD.days} days", written)
        return amount * unit

    def bool(self, key: str, default: Any = REQUIRED) -> bool:
        return self.get(key, bool, "true or false", default)

    def path(self, key: str, base: Path, default: Any = REQUIRED, *, resolve: bool = True) -> Path:
        value = self.str(key, default)
        if value is None or isinstance(value, Path):
            return value
        path = base / os.path.expanduser(value)
        # A path that must not follow symlinks (a log that rotation may move) keeps its last part.
        if not resolve:
            return lexical(path.absolute())
        return resolved(path, f"{self.file}: {self._name(key)}")

    def folder(self, key: str, base: Path, expected: str, default: Any = REQUIRED) -> Path:
        """A `path` of a folder upkeep writes into, made when first needed: refused when it, or
        the nearest of its parents that exists, is something else (a file), where making or
        writing it would fail only when a run has started."""
        folder = self.path(key, base, default)
        if folder is not None and (blocker := _not_a_folder(folder)) is not None:
            raise ConfigError(
                f"{self.file}: {self._name(key)}: expected {expected}, got {folder}, {blocker}"
            )
        return folder

    def choice(self, key: str, choices: tuple[str, ...], default: Any = REQUIRED) -> str:
        value = self.str(key, default)
        if value not in choices:
            self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def one_or_more(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A non-empty string, or a non-empty list of them."""
        value = self.data.pop(key, default)
        if isinstance(value, str):
            value = [value]
        if (
            not isinstance(value, list | tuple)
            or not value
            or not all(isinstance(item, str) and item.strip() for item in value)
        ):
            self.fail(key, "a folder, or a list of folders", value)
        return tuple(value)

    def strings(self, key: str, default: Any = REQUIRED) -> tuple[str, ...]:
        value = self.get(key, list, "a list of strings", default)
        if value is default:
            return value
        if not all(isinstance(item, str) and item for item in value):
            self.fail(key, "a list of non-empty strings", value)
        return tuple(value)

    def section(self, key: str) -> Section | None:
        if key not in self.data or self.data[key] is None:
            self.data.pop(key, None)
            return None
        return Section(self.data.pop(key), self._name(key), self.file)

    def items(self, key: str, read: Callable[[Section], T]) -> tuple[T, ...]:
        value = self.get(key, list, "a list", [])
        return tuple(
            read(Section(item, f"{self._name(key)}[{i}]", self.file))
            for i, item in enumerate(value)
        )

    def done(self) -> None:
        if self.data:
            key = sorted(self.data, key=str)[0]
            raise ConfigError(f"{self.file}: {self._name(key)}: unknown key")

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key


def resolved(path: Path, where: str) -> Path:
    """`path` with its symlinks resolved; ConfigError naming `where` (the file and key it was
    written in) for a symlink loop, which Python 3.11 raises as RuntimeError."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # OSError (ELOOP) from Python 3.13 on
        raise ConfigError(
            f"{where}: {path} is a symlink loop; expected a path that leads somewhere"
        ) from None


def _not_a_folder(path: Path) -> str | None:
    """What keeps a folder from being at `path` (made there when missing), or None."""
    for existing in (path, *path.parents):
        if os.path.lexists(existing):
            if existing.is_dir():
                return None
            what = "a file" if existing.is_file() else "not a folder"
            return what if existing == path else f"inside {existing}, which is {what}"
    return None


def _kind(document: Any) -> str:
    """What a YAML document that is not a mapping is, in words, without its content."""
    if isinstance(document, str):
        lines = len(document.splitlines())
        text = "a string" if lines <= 1 else f"a string of {lines} lines"
        return f"{text} (plain text, not YAML settings)"
    if isinstance(document, list):
        return f"a list of {len(document)} items"
    if isinstance(document, bool):
        return "true or false"
    if isinstance(document, int | float):
        return "a number"
    return f"a single value ({type(document).__name__})"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


class Problems:
    """The errors of a config's independent parts (sections, list items), gathered so that one
    load reports all of them: `read` returns a fallback for a part that failed; `raise_any`
    raises one ConfigError holding every message, one per line."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.messages: list[str] = []

    def read(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except ConfigError as exc:
            self.messages.append(str(exc))
            return fallback

    def items(self, section: Section, key: str, read: Callable[[Section], T]) -> tuple[T, ...]:
        """`section.items(key, read)`, an item that fails left out (and its error kept)."""
        missing = object()
        items = self.read(
            lambda: section.items(key, lambda item: self.read(lambda: read(item), missing)), ()
        )
        return tuple(item for item in items if item is not missing)

    def raise_any(self) -> None:
        if len(self.messages) == 1:
            raise ConfigError(self.messages[0])
        if self.messages:
            listed = "\n  ".join(self.messages)
            raise ConfigError(f"{self.file}: {len(self.messages)} problems:\n  {listed}")
