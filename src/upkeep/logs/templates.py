"""Responsible for a log line's message template, in the formats real systems write: an access
line (nginx, Apache combined or common) becomes its method, path template and status
(`GET /api/orders/<N> 502`); a JSON line its masked message field (journalctl's MESSAGE after
its identifier, or `message`, `msg`, `event` … after its logger); a logfmt line its masked
`msg=`; any other line loses its prefix (an ISO, syslog, nginx or Apache timestamp, bracketed or
not; a syslog host and the `[pid]` of its tag; a level; `pid#tid:`, `[pid N:tid N]`,
`[client …]`, nginx's `*connection`) and has its variable parts masked. `TemplateCache` gives
the templates of many lines at once, masking only lines unlike any seen before.
"""

from __future__ import annotations

import re

from upkeep.logs.excerpts import ELLIPSIS, decode_line, within_bytes

__all__ = [
    "HEX_STAND_IN",
    "MAX_CACHED_TEMPLATES",
    "TEMPLATE_BYTES",
    "TemplateCache",
    "mask_message",
    "path_template",
]

TEMPLATE_BYTES = 300

# Every rule below treats all digits alike (`\d`, never a given digit) and never tells a word of
# hex digits from another of the same delimiters: `TemplateCache` relies on both. The one
# exception is an access line's status, which the cache keeps in its key.
_LEVELS = r"TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|ALERT|EMERG"
_STAMP = r"""
    (?:\[?(?:[A-Z][a-z]{2}\s)?\d{4}-\d{2}-\d{2}[T\ ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?
       (?:\s?(?:Z|[+-]\d{2}:?\d{2}|(?!LEVEL\b)[A-Z]{3,5}\b))?\]?    # ISO, [ISO], short-full
     |\d{4}/\d{2}/\d{2}\ \d{2}:\d{2}:\d{2}                              # nginx's error log
     |\[[A-Z][a-z]{2}\ [A-Z][a-z]{2}\ +\d{1,2}\ \d{2}:\d{2}:\d{2}(?:\.\d+)?\ \d{4}\]  # Apache
     |\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}\ [+-]\d{4}\]          # [16/Nov/2026:…]
     |[A-Z][a-z]{2}\ +\d{1,2}\ \d{2}:\d{2}:\d{2}(?:\.\d+)?)              # syslog, short-precise
""".replace("LEVEL", f"(?:{_LEVELS})")  # a zone's letters, never a level's
# `web1 sshd[1234]: ` after a timestamp: the host goes, the tag stays without its pid.
_SYSLOG_SOURCE = rf"(?!(?:{_LEVELS})\b)[A-Za-z0-9][\w.-]*\ (?P<tag>[\w.()/@-]+?)(?:\[\d+\])?:\ "
_FIELD = rf"""
    (?:[\[<(]?(?:{_LEVELS})[\]>)]?:?                           # ERROR, [ERROR], <WARN>, ERROR:
     |\[(?:[\w-]+:)?(?:{_LEVELS}|{_LEVELS.lower()})\]           # [error], [proxy:error]
     |\[pid\ \d+(?::tid\ \d+)?\]                                # Apache's [pid 12:tid 34]
     |\[client\ [^\]]*\]                                        # Apache's [client 10.0.0.1:5]
     |\[?\d+\#\d+\]?:?                                          # nginx's 12#34:, [pid#tid]
     |\[\d+\]:?                                                 # [pid]
     |\*\d+)                                                    # nginx's connection *5678
    \s+"""
_PREFIX = re.compile(
    rf"^\s*(?:{_STAMP}\s+(?:{_SYSLOG_SOURCE})?)?(?:{_FIELD})*", re.VERBOSE | re.ASCII
)
_REQUEST_METHOD = r"[A-Z]{3,12}"
_VARIABLE = re.compile(
    rf"""(?P<REQUEST>(?<!\w)"(?P<method>{_REQUEST_METHOD})\ (?P<target>/[^"\s]*)\ HTTP/[\d.]+")
    |(?P<STR>(?<!\w)"(?:[^"\\]|\\.)*"|(?<!\w)'(?:[^'\\]|\\.)*')
    |(?P<UUID>\b[0-9a-fA-F]{{8}}-(?:[0-9a-fA-F]{{4}}-){{3}}[0-9a-fA-F]{{12}}\b)
    |(?P<IP>\b\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?::\d{{1,5}})?\b)
    |(?P<HEX>\b\d[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{{6,}}\b)
    |(?P<N>\d+(?:\.\d+)?)""",
    re.VERBOSE,
)
_PATH_VARIABLE = re.compile(
    r"""(?P<UUID>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b)
    |(?P<HEX>\b\d[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b)
    |(?P<N>\d+)""",
    re.VERBOSE,
)
# An access line: [vhost] client ident user [time] "request" status … (ASCII classes, so that
# the text and the bytes forms match the same lines; no field starts with `[` and the request is
# an unrolled loop, so that a line is matched, or refused, without backtracking).
_ACCESS = (
    r'^(?:[^\s\[]\S*\s){3,4}\[[^\]]*\]\s"(?P<request>[^"\\]*(?:\\.[^"\\]*)*)"'
    r"\s(?P<status>\d{3})(?:\s|$)"
)
_ACCESS_LINE = re.compile(_ACCESS, re.ASCII)
_ACCESS_BYTES = re.compile(_ACCESS.encode("ascii"))
_REQUEST_LINE = re.compile(rf"(?P<method>{_REQUEST_METHOD})\ (?P<target>\S+)(?:\ \S+)?", re.X)
# A JSON line's string fields (escapes left as they are but `\"`, `\\`, `\/`): journalctl -o
# json's identifier and MESSAGE, or an application's message under one of the names structured
# loggers use (zap, logrus, pino, structlog, Bunyan, Docker's json-file, GELF), with its logger.
_JSON_FIELD = re.compile(r'"(?P<name>[A-Za-z_@][\w@.-]{0,40})"\s*:\s*"(?P<value>(?:[^"\\]|\\.)*)"')
_JSON_ESCAPE = re.compile(r"\\([\"\\/])")
_MESSAGE_FIELDS = ("message", "msg", "event", "short_message", "log", "error", "err")
_SOURCE_FIELDS = ("logger", "logger_name", "component")
# logfmt (`time=… level=error msg="db timeout" err=…`, a key=value first): the message, quoted
# or bare.
_LOGFMT_START = re.compile(r"[A-Za-z_][\w.-]*=")
_LOGFMT_MESSAGE = re.compile(
    r'(?:^|\s)(?:msg|message)=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]+))'
)


def path_template(target: str) -> str:
    """A request target with its ids masked and its query left out: `/api/orders/<N>`,
    `/search?<Q>`."""
    path, question, _ = target.partition("?")
    masked = _PATH_VARIABLE.sub(lambda match: f"<{match.lastgroup}>", path)
    return masked + ("?<Q>" if question else "")


def _variable(match: re.Match[str]) -> str:
    if match["REQUEST"] is not None:
        return f'"{match["method"]} {path_template(match["target"])}"'
    return f"<{match.lastgroup}>"


def _cut(template: str) -> str:
    cut = within_bytes(template, TEMPLATE_BYTES)
    return cut if cut == template else cut + ELLIPSIS


def _masked(message: str) -> str:
    return " ".join(_VARIABLE.sub(_variable, message).split())


def mask_message(line: str) -> str:
    """The line's message template: its format's prefix removed and its variable parts masked.

    "2025-11-16 02:15:00,123 ERROR timeout after 31s for id 812" -> "timeout after <N>s for id <N>"
    '10.0.0.7 - - [16/Nov/2026:02:15:00 +0000] "GET /api/orders/812 HTTP/1.1" 502 157 …'
    -> "GET /api/orders/<N> 502"
    """
    access = _ACCESS_LINE.match(line)
    if access is not None:
        request = _REQUEST_LINE.fullmatch(access["request"])
        shown = (
            f"{request['method']} {path_template(request['target'])}"
            if request is not None
            else "<STR>"
        )
        return _cut(f"{shown} {access['status']}")
    if line.startswith("{"):
        fields: dict[str, str] = {}
        for match in _JSON_FIELD.finditer(line):
            fields.setdefault(match["name"], _JSON_ESCAPE.sub(r"\1", match["value"]))
        if "MESSAGE" in fields:
            source = fields.get("SYSLOG_IDENTIFIER")
            message = f"{source}: {fields['MESSAGE']}" if source else fields["MESSAGE"]
            return _cut(_masked(message))
        named = next((fields[name] for name in _MESSAGE_FIELDS if name in fields), None)
        if named is not None:
            source = next((fields[name] for name in _SOURCE_FIELDS if name in fields), None)
            return _cut(_masked(f"{source}: {named}" if source else named))
    logfmt = _LOGFMT_MESSAGE.search(line) if _LOGFMT_START.match(line) else None
    if logfmt is not None:
        quoted = logfmt["quoted"]
        return _cut(
            _masked(_JSON_ESCAPE.sub(r"\1", quoted) if quoted is not None else logfmt["bare"])
        )
    prefix = _PREFIX.match(line)
    assert prefix is not None  # every part of it is optional
    tag = prefix["tag"]
    message = line[prefix.end() :]
    return _cut(_masked(f"{tag}: {message}" if tag else message))


# ---------------------------------------------------------------- many lines at once

# Masking treats every digit alike, so lines equal up to their digits share a template:
# a cache keyed by the line with its digits zeroed skips most of the regex work.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
MAX_CACHED_TEMPLATES = 10_000
# A hex id (request, trace, session) makes each line unique. Masking turns a whole word of six
# or more hex digits, at least one a digit and one a letter, into <HEX> (or part of <STR>),
# so a second cache key replaces every such word with one stand-in. Only words between
# delimiters that no masking rule reaches across count (no `.`, `-` or word character).
_HEX_WORD = re.compile(
    rb"(?<![^\s=(\[{,;/\"'<>#@|:])(?=[0-9a-fA-F]*0)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}"
    rb"(?![^\s,;)\]}\"'/>&|#:])"
)
HEX_STAND_IN = b"0a0a0a"


class TemplateCache:
    """`mask_message` of raw lines, cached by what a template depends on: the line with its
    digits zeroed (and, failing that, its hex words replaced by one stand-in), or for an access
    line only its request with its digits zeroed, and its status. Holds at most
    MAX_CACHED_TEMPLATES templates of each kind."""

    def __init__(self) -> None:
        self.lines: dict[bytes, str] = {}
        self.requests: dict[bytes, str] = {}

    @staticmethod
    def _remembered(cache: dict[bytes, str], key: bytes, raw: bytes) -> str:
        """The template cached under `key`, or `raw` masked now and cached under it."""
        template = cache.get(key)
        if template is None:
            template = mask_message(decode_line(raw))
            if len(cache) < MAX_CACHED_TEMPLATES:
                cache[key] = template
        return template

    def template(self, raw: bytes) -> str:
        """The template of one raw line."""
        return self.templates([raw])[0]

    def templates(self, raws: list[bytes]) -> list[str]:
        """The template of each of `raws`: one translate over them all for the first keys, `map`
        for the lookups; the lines that missed are told apart (access lines or not) by one
        regex each, and have their hex words replaced by one regex over them all."""
        if not raws:
            return []
        keys = b"\n".join(raws).translate(_DIGITS_TO_ZERO).split(b"\n")
        found = list(map(self.lines.get, keys))
        missing = [i for i, template in enumerate(found) if template is None]
        others = []
        for i in missing:
            access = _ACCESS_BYTES.match(keys[i])
            if access is None:
                others.append(i)
                continue
            # The status from the raw line: translate keeps every byte where it was.
            key = access["request"] + b"\n" + raws[i][access.start("status") : access.end("status")]
            template = self.requests.get(key)
            if template is None:
                key = _HEX_WORD.sub(HEX_STAND_IN, key)
                template = self._remembered(self.requests, key, raws[i])
            found[i] = template
        if others:
            hex_keys = _HEX_WORD.sub(HEX_STAND_IN, b"\n".join([keys[i] for i in others]))
            for i, key in zip(others, hex_keys.split(b"\n"), strict=True):
                found[i] = self._remembered(self.lines, key, raws[i])
        return found  # type: ignore[return-value]
