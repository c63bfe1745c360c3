"""The best a user writes without upkeep: one Python process, papermill + nbconvert's HTMLExporter.

    python inprocess_pool.py THREADS SOURCE_DIR OUT_DIR NAME...

Executes `SOURCE_DIR/NAME.ipynb` with `-p n 2` into `OUT_DIR/NAME.ipynb` and writes
`OUT_DIR/NAME.html` for every NAME: with THREADS > 1 on a thread pool of that many threads, with 1
in a plain loop. papermill, nbclient and nbconvert are imported once for the whole batch, as upkeep
imports them once per `upkeep run`; every kernel is launched as papermill launches it. Used by
`run_overhead.py` as the fair baseline for `upkeep run --jobs THREADS`; not part of upkeep.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import papermill
from nbconvert import HTMLExporter

# Importing lexers lazily from several threads at once fails ("cannot import name
# 'PythonLexer'"): a user running this on threads learns to import it first.
from pygments.lexers import PythonLexer  # noqa: F401


def run_one(source: Path, out: Path, name: str) -> None:
    executed = papermill.execute_notebook(
        str(source / f"{name}.ipynb"),
        str(out / f"{name}.ipynb"),
        parameters={"n": 2},
        progress_bar=False,
        log_output=False,
    )
    body, _ = HTMLExporter().from_notebook_node(executed)
    (out / f"{name}.html").write_text(body, encoding="utf-8")


def main(argv: list[str]) -> int:
    threads, source, out, names = int(argv[0]), Path(argv[1]), Path(argv[2]), argv[3:]
    out.mkdir(parents=True, exist_ok=True)
    if threads == 1:
        for name in names:
            run_one(source, out, name)
        return 0
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(run_one, source, out, name) for name in names]:
            done.result()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
