"""What the backup tests share: processes to kill mid-way (a backup after its first piece, a
backup run during its verification restore), each printing a line when it is there and then
waiting, and what a store holds besides its backups."""

from __future__ import annotations

import textwrap
from pathlib import Path

from upkeep.backup.stores.directory import DELETING, SCRATCH, STAGING


def work_folders(store_root: Path) -> list[Path]:
    """The store's hidden work folders: backups being written, checked or deleted."""
    prefixes = (STAGING, SCRATCH, DELETING)
    if not store_root.is_dir():
        return []
    return sorted(p for p in store_root.iterdir() if p.name.startswith(prefixes))


def backup_folders(store_root: Path) -> list[Path]:
    """The store's backup folders (everything that is not hidden)."""
    if not store_root.is_dir():
        return []
    return sorted(p for p in store_root.iterdir() if not p.name.startswith("."))


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

# argv: config path. Backs up every database of the config; the verification restore of the
# new backup prints "verifying" and waits, so that the parent can kill the run right there.
KILLED_VERIFICATION = textwrap.dedent("""\
    import sys, time
    from upkeep.backup import restore
    from upkeep.config import load_config
    from upkeep.procedures.backup import back_up_all

    assemble = restore.assemble
    def slow_assemble(*args, **kwargs):
        print("verifying", flush=True)
        time.sleep(30)  # the parent kills us here, in the middle of the check
        return assemble(*args, **kwargs)
    restore.assemble = slow_assemble
    back_up_all(load_config(sys.argv[1]))
""")
