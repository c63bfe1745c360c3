"""Tests for upkeep.rendering.sanitize: the last pass over every document upkeep writes."""

from __future__ import annotations

from helpers.hostile_html import HOSTILE, Parsed

from upkeep.rendering.sanitize import without_script


def test_last_line_of_defence_escapes_script_and_drops_scripting_attributes() -> None:
    # Whatever slips past the notebook sanitizer meets this check on the whole document.
    document = (
        "<!DOCTYPE html><html><head><style>a > b { color: red; }</style></head><body>"
        + "".join(HOSTILE)
        + '<a href=" JaVaScRiPt:alert(1)">x</a><img src="data:image/png;base64,AAAA"></body></html>'
    )

    cleaned = without_script(document)

    parsed = Parsed(cleaned)
    assert not {"script", "iframe", "svg", "object", "link"} & {name for name, _ in parsed.tags}
    assert not any(a.startswith("on") for _, attrs in parsed.tags for a in attrs)
    assert all("javascript" not in (attrs.get("href") or "").lower() for _, attrs in parsed.tags)
    assert all(m.get("http-equiv") != "refresh" for m in parsed.named("meta"))
    assert "<style>a > b { color: red; }</style>" in cleaned
    assert {"src": "data:image/png;base64,AAAA"} in parsed.named("img")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cleaned


def test_control_characters_are_shown_in_text_and_attributes_but_styles_pass_untouched() -> None:
    document = (
        '<style>p::after { content: "\\202e"; }</style>'
        '<p title="report\u202e.exe">a\x07b &#X202e;c &#65;</p><pre>one\r\ntwo\tthree</pre>'
    )

    cleaned = without_script(document)

    assert '<p title="report&lt;U+202E&gt;.exe">' in cleaned
    assert "a\u2407b &lt;U+202E&gt;c &#65;" in cleaned  # a harmless reference stays as written
    assert "<pre>one\r\ntwo\tthree</pre>" in cleaned  # line breaks and tabs lay text out
    assert '<style>p::after { content: "\\202e"; }</style>' in cleaned
