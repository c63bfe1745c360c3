"""`upkeep site build` refuses, before MkDocs starts, a page of the site's folders MkDocs cannot
build from: a FIFO held MkDocs for good, a "billion laughs" front matter ran it out of memory, a
page not in UTF-8 ended it in a traceback that did not name the page. Exit 2, the page named."""

from __future__ import annotations

import os

import pytest
from helpers.project import Project

LAUGHS = (
    "---\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    + "---\n# Laughs\n"
)


@pytest.mark.parametrize(
    ("page", "why"),
    [
        ("fifo", "a FIFO, not a regular file; expected a Markdown file"),
        ("laughs", "aliases"),
        ("latin1", "not UTF-8 (byte 0xe9 at offset 5)"),
    ],
)
def test_a_page_mkdocs_cannot_build_from_is_refused_before_it_starts(
    project: Project, page: str, why: str
) -> None:
    # A FIFO held mkdocs for good, a "billion laughs" front matter ran it out of memory, a page
    # not in UTF-8 ended it in a traceback that did not name the page.
    docs = project.root / "own-docs"
    docs.mkdir()
    path = docs / f"{page}.md"
    if page == "fifo":
        os.mkfifo(path)
    elif page == "laughs":
        path.write_text(LAUGHS)
    else:
        path.write_bytes(b"# caf\xe9\n")
    with project.config.open("a") as config:
        config.write("site: {docs_dir: own-docs}\n")

    result = project.upkeep("site", "build", timeout=60)

    assert result.code == 2, result.text
    assert f"site page {path}: " in result.err and why in result.err
    assert "Traceback" not in result.err
    assert not (project.root / "site" / "index.html").exists()
