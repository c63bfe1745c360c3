"""A backup process for tests to kill mid-way: it prints a line after each piece it writes and
then waits, so a test can SIGKILL it with a partial backup staged."""

from __future__ import annotations

import textwrap

KILLED_BACKUP = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from upkeep.backup import pieces
    from upkeep.backup.engines.sqlite import SQLiteEngine
    from upkeep.backup.incremental import take_backup
    from upkeep.backup.stores.directory import DirectoryStore
    from upkeep.config import Database

    write_piece = pieces.write_piece
    def slow_write_piece(path, data, level):
        ref = write_piece(path, data, level)
        print("piece", path.name, flush=True)
        time.sleep(30)  # the parent kills us here, mid-backup, with a piece on disk
        return ref
    pieces.write_piece = slow_write_piece
    engine = SQLiteEngine(Database(name="app", engine="sqlite", path=Path(sys.argv[1])))
    take_backup(engine, DirectoryStore(Path(sys.argv[2])), base=None, compression_level=1)
""")
