"""Reading docs pages within bounds, on real files: a FIFO named like a page is named and never
opened, a page that is not UTF-8 names its byte, and front matter whose aliases expand without
bound (a "billion laughs") is refused before anything expands it. Each is a page MkDocs cannot
build the site with."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from upkeep.docs_review.freshness import DocsPage, docs_pages
from upkeep.docs_review.page_source import (
    MAX_FRONT_MATTER_VALUES,
    MAX_PAGE_BYTES,
    Unbuildable,
    front_matter,
)


def _laughs(closing: str = "---") -> str:
    """Front matter of ten anchors, each nine aliases of the one before: 9**10 values."""
    lines = ["---", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for before, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]")
    return "\n".join([*lines, "owner: *j", closing, "# Laughs", ""])


def test_a_fifo_named_like_a_page_is_named_and_never_opened(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    pipe = tmp_path / "extra" / "pipe.md"
    os.mkfifo(pipe)
    (tmp_path / "folder.md").mkdir()  # a folder, even named like a page, is no page
    read: list[dict[str, DocsPage]] = []
    reader = threading.Thread(
        target=lambda: read.append({p.page: p for p in docs_pages([tmp_path])}), daemon=True
    )
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # held on the FIFO: give it a writer so that the thread ends
        os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
        pytest.fail("reading the docs pages waited on a FIFO")
    [pages] = read
    assert list(pages) == ["extra/pipe.md"]
    page = pages["extra/pipe.md"]
    assert page.blocks_build
    assert page.problem == "a FIFO, not a regular file; expected a Markdown file"


def test_a_page_that_is_not_utf8_is_named_with_its_byte(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"# caf\xe9 \xff\xfe\x00\x00 page\n")
    (tmp_path / "good.md").write_bytes("\ufeff---\nowner: ops\n---\n# Caf\u00e9\n".encode())
    pages = {page.page: page for page in docs_pages([tmp_path])}
    assert pages["bad.md"].blocks_build
    assert pages["bad.md"].problem == (
        "not UTF-8 (byte 0xe9 at offset 5); expected UTF-8 text, the only encoding MkDocs reads"
    )
    assert not pages["good.md"].blocks_build
    assert pages["good.md"].owner == "ops"


def test_a_page_larger_than_the_bound_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "huge.md").write_bytes(b"# Huge\n" + b"x" * MAX_PAGE_BYTES)
    [page] = docs_pages([tmp_path])
    assert page.blocks_build
    assert page.problem is not None and page.problem.startswith("larger than 8 MiB")


@pytest.mark.parametrize("closing", ["---", "..."])
def test_front_matter_whose_aliases_never_end_is_refused_before_it_expands(closing: str) -> None:
    with pytest.raises(Unbuildable, match=f"expand to more than {MAX_FRONT_MATTER_VALUES}"):
        front_matter(_laughs(closing))
    with pytest.raises(Unbuildable, match="never end"):
        front_matter("---\nowner: &loop [*loop]\n---\n")
    # Aliases that stay within the bound are read as YAML reads them.
    assert front_matter("---\nteam: &ops ops\nowner: *ops\n...\n# x\n") == {
        "team": "ops",
        "owner": "ops",
    }


def test_a_billion_laughs_page_is_named_within_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / "laughs.md").write_text(_laughs())
    (tmp_path / "listed.md").write_text("---\nowner: [ops, dba]\n---\n# x\n")
    # In a process of its own with 1 GiB of address space: expanding the aliases (to show the
    # owner) would take far more, and must end there, not in this test's process.
    script = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        from upkeep.docs_review.freshness import docs_pages
        for page in docs_pages([Path({str(tmp_path)!r})]):
            print(page.page, page.blocks_build, page.problem, sep=" | ")
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        f"laughs.md | True | front matter: its aliases expand to more than "
        f"{MAX_FRONT_MATTER_VALUES} values (or never end); expected front matter without "
        "aliases nested in aliases",
        "listed.md | False | owner: expected a name, got a list of 2",
    ]
