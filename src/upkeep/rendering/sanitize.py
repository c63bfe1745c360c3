"""Responsible for the last line of defence of every HTML document upkeep writes from run data:
script elements (and frames, objects, forms, SVG, ...) escaped so they show as text, event-handler
attributes and script URLs dropped, and only a Content-Security-Policy `meta` kept. Whatever an
earlier sanitizer misses, this pass over the whole document catches. Control characters a run
printed (NUL, BEL, a stray ESC) are shown as their pictures, and the bidirectional overrides and
isolates, which would make what follows them read backwards, as their code points (`<U+202E>`).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from upkeep.plain_text import SHOWN_CONTROLS

_FORBIDDEN_TAGS = frozenset(
    "script iframe frame frameset object embed applet base form link svg math template "  # noqa: SIM905
    "portal noscript".split()
)
_URL_ATTRIBUTES = frozenset(
    "href src action formaction xlink:href srcset poster background data ping lowsrc dynsrc "  # noqa: SIM905
    "codebase cite longdesc".split()
)
_SAFE_META = re.compile(r"content-security-policy\Z", re.IGNORECASE)
# Line breaks lay text out and stay; every other control character is shown (plain_text).
_SHOWN = {code: shown for code, shown in SHOWN_CONTROLS.items() if code not in (0x0A, 0x0D)}
_CONTROL = re.compile("[" + "".join(re.escape(chr(code)) for code in _SHOWN) + "]")


def shown_in_html(text: str) -> str:
    """`text` with every control character but line breaks and tabs shown as its picture, and
    the bidirectional overrides and isolates as their code points: HTML text lays out lines."""
    return text.translate(_SHOWN) if _CONTROL.search(text) else text


_shown = shown_in_html


def _safe_url(tag: str, name: str, value: str) -> bool:
    url = re.sub(r"[\x00-\x20]", "", value).lower()
    if name == "src" and tag == "img":
        return url.startswith("data:image/")
    if name == "href" and tag == "a":
        return not url.startswith(("javascript:", "vbscript:", "data:"))
    return False


class _ScriptStripper(HTMLParser):
    """Re-emits a document with script elements escaped and scripting attributes dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.parts: list[str] = []
        self._raw_text = False  # inside <style>: CSS must pass through untouched
        self._escaping = 0

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> str | None:
        kept = []
        for name, value in attrs:
            if name.startswith("on") or name == "style" and value and "url(" in value.lower():
                continue
            if name in _URL_ATTRIBUTES and not _safe_url(tag, name, value or ""):
                continue
            if tag == "meta" and name == "http-equiv" and not _SAFE_META.match(value or ""):
                return None
            if value is not None:
                value = html.escape(_shown(value), quote=True)
            kept.append(name if value is None else f'{name}="{value}"')
        return "".join(f" {item}" for item in kept)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], close: str) -> None:
        attributes = self._attributes(tag, attrs)
        if tag in _FORBIDDEN_TAGS or attributes is None:
            self.parts.append(html.escape(self.get_starttag_text() or f"<{tag}>"))
            self._escaping += tag in _FORBIDDEN_TAGS and not close
            return
        self._raw_text = tag == "style" and not close
        self.parts.append(f"<{tag}{attributes}{close}>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, " /")

    def handle_endtag(self, tag: str) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.parts.append(html.escape(f"</{tag}>"))
            self._escaping = max(0, self._escaping - 1)
            return
        self._raw_text = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._raw_text and not self._escaping:
            self.parts.append(data)
        else:
            self.parts.append(_shown(data).replace("<", "&lt;").replace(">", "&gt;"))

    def handle_entityref(self, name: str) -> None:
        self.parts.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            code = -1
        if code in _SHOWN:  # `&#x202e;` is the override itself to a browser
            self.parts.append(html.escape(chr(code).translate(_SHOWN)))
        else:
            self.parts.append(f"&#{name};")

    def handle_decl(self, decl: str) -> None:
        if decl.lower() == "doctype html":
            self.parts.append(f"<!{decl}>")

    # Comments, processing instructions and CDATA sections are dropped.


def without_script(document: str) -> str:
    """`document` with every script element escaped and every scripting attribute dropped."""
    stripper = _ScriptStripper()
    stripper.feed(document)
    stripper.close()
    return "".join(stripper.parts)
