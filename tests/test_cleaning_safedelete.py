"""upkeep.cleaning.safedelete: each safety rule, by a removal that would hit something it must not
if the rule were missing."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.tiny_fs import tiny_filesystem

from upkeep.cleaning.safedelete import (
    Batch,
    Removal,
    RootError,
    Seen,
    remove_batches,
    remove_entries,
    remove_entry,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root holding a file nothing may ever delete."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "precious").write_text("keep me")
    return path


def write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_removes_a_regular_file_and_reports_its_size(root: Path) -> None:
    path = write(root / "a" / "f", "12345")
    removal = remove_entry(root, path, os.lstat(path), dry_run=False)
    assert removal == Removal(path, "file", 5, True, None, False)
    assert not path.exists() and (root / "a").is_dir()


def test_dry_run_removes_nothing_but_reports_it_would(root: Path) -> None:
    path = write(root / "f")
    removal = remove_entry(root, path, os.lstat(path), dry_run=True)
    assert (removal.removed, removal.skipped, removal.would_remove) == (False, None, True)
    assert path.exists()


def test_a_path_outside_the_root_is_refused(root: Path, outside: Path) -> None:
    precious = outside / "precious"
    for path in (precious, root / ".." / "outside" / "precious"):
        removal = remove_entry(root, path, os.lstat(precious), dry_run=False)
        assert not removal.removed and "outside the cleaning root" in (removal.skipped or "")
    assert precious.read_text() == "keep me"


def test_the_root_itself_is_never_removed(root: Path) -> None:
    removal = remove_entry(root, root, os.lstat(root), dry_run=False)
    assert not removal.removed and "root itself" in (removal.skipped or "")
    assert root.is_dir()


def test_a_symlink_is_removed_as_a_link_never_its_target(root: Path, outside: Path) -> None:
    to_file = root / "to-file"
    to_file.symlink_to(outside / "precious")
    to_dir = root / "to-dir"
    to_dir.symlink_to(outside)
    removals = remove_entries(root, [(p, os.lstat(p)) for p in (to_file, to_dir)], dry_run=False)
    assert [(r.kind, r.removed) for r in removals] == [("symlink", True), ("symlink", True)]
    assert not to_file.is_symlink() and not to_dir.is_symlink()
    assert (outside / "precious").read_text() == "keep me"


def test_a_path_through_a_symlinked_directory_is_not_followed(root: Path, outside: Path) -> None:
    (root / "via").symlink_to(outside)
    # Asked to remove root/via/precious with the target's own lstat: a path-based unlink would
    # follow `via` and delete the file outside; the walk opens `via` with O_NOFOLLOW and stops.
    removal = remove_entry(
        root, root / "via" / "precious", os.lstat(outside / "precious"), dry_run=False
    )
    assert not removal.removed and "no longer a directory" in (removal.skipped or "")
    assert (outside / "precious").read_text() == "keep me"


def test_a_root_that_is_a_symlink_is_refused(tmp_path: Path, outside: Path) -> None:
    link = tmp_path / "link-root"
    link.symlink_to(outside)
    with pytest.raises(RootError, match="symlink"):
        remove_entry(link, link / "precious", os.lstat(outside / "precious"), dry_run=False)
    assert (outside / "precious").read_text() == "keep me"


def test_a_root_below_a_symlinked_directory_is_refused(tmp_path: Path, outside: Path) -> None:
    (outside / "cache").mkdir()
    precious = write(outside / "cache" / "precious")
    (tmp_path / "var").symlink_to(outside)
    root = tmp_path / "var" / "cache"  # the root is a real directory, but reached via a link
    with pytest.raises(RootError, match="on the way to the root, is a symlink"):
        remove_entry(root, root / "precious", os.lstat(precious), dry_run=False)
    assert precious.exists()


def test_a_relative_root_is_refused(root: Path) -> None:
    path = write(root / "f")
    with pytest.raises(RootError, match="absolute"):
        remove_entry(Path("root"), Path("root/f"), os.lstat(path), dry_run=False)


def test_fifo_and_socket_are_skipped(root: Path) -> None:
    fifo = root / "fifo"
    os.mkfifo(fifo)
    sock_path = root / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        removals = remove_entries(
            root, [(p, os.lstat(p)) for p in (fifo, sock_path)], dry_run=False
        )
    assert [r.kind for r in removals] == ["other", "other"]
    assert all("not a regular file" in (r.skipped or "") for r in removals)
    assert fifo.exists() and sock_path.exists()


def test_a_non_empty_directory_stays_and_an_empty_one_goes(root: Path) -> None:
    inner = write(root / "full" / "inner")
    (root / "empty").mkdir()
    full, empty = root / "full", root / "empty"
    removals = remove_entries(root, [(p, os.lstat(p)) for p in (full, empty)], dry_run=False)
    assert removals[0].skipped == "directory not empty" and inner.exists()
    assert removals[1].removed and not empty.exists()


def test_a_file_swapped_for_a_symlink_after_the_scan_is_skipped(root: Path, outside: Path) -> None:
    path = write(root / "f")
    scanned = os.lstat(path)
    path.unlink()
    path.symlink_to(outside / "precious")
    removal = remove_entry(root, path, scanned, dry_run=False)
    assert "was a file, now a symlink" in (removal.skipped or "")
    assert path.is_symlink() and (outside / "precious").read_text() == "keep me"


def test_a_file_swapped_for_a_directory_after_the_scan_is_skipped(root: Path) -> None:
    path = write(root / "f")
    scanned = os.lstat(path)
    path.unlink()
    inner = write(path / "inner")
    removal = remove_entry(root, path, scanned, dry_run=False)
    assert "was a file, now a dir" in (removal.skipped or "")
    assert inner.exists()


def test_a_file_replaced_by_another_file_is_skipped(root: Path) -> None:
    path = write(root / "f", "old")
    scanned = os.lstat(path)
    keep = write(root / "new", "new data")
    os.replace(keep, path)  # another inode under the same name
    removal = remove_entry(root, path, scanned, dry_run=False)
    assert "replaced by another entry" in (removal.skipped or "")
    assert path.read_text() == "new data"


def test_a_file_rewritten_after_the_scan_is_skipped(root: Path) -> None:
    """Same inode, new content: in use again, or a new file that got the freed inode number."""
    path = write(root / "f", "old")
    scanned = os.lstat(path)
    while os.lstat(path).st_ctime_ns == scanned.st_ctime_ns:  # past the clock's granularity
        time.sleep(0.001)
        path.write_text("written after the scan")
    removal = remove_entry(root, path, scanned, dry_run=False)
    assert "modified, or replaced" in (removal.skipped or "")
    assert path.read_text() == "written after the scan"


def test_a_parent_swapped_for_a_symlink_after_the_scan_is_not_followed(
    root: Path, outside: Path
) -> None:
    path = write(root / "sub" / "precious")
    scanned = os.lstat(path)
    (root / "sub").rename(root / "sub-old")
    (root / "sub").symlink_to(outside)
    # Even with the outside file's own identity as "expected", nothing is followed.
    for expected in (scanned, os.lstat(outside / "precious")):
        removal = remove_entry(root, path, expected, dry_run=False)
        assert not removal.removed
    assert (outside / "precious").read_text() == "keep me"
    assert (root / "sub-old" / "precious").exists()


def test_a_file_that_may_not_be_removed_says_so_not_that_it_changed(root: Path) -> None:
    """An immutable file (chattr +i: root cannot unlink it either) fails with EPERM, as a file
    in a sticky directory owned by another user does for others."""
    path = write(root / "f")
    subprocess.run(["chattr", "+i", str(path)], check=True)  # ext4, as root: this machine's
    try:
        removal = remove_entry(root, path, os.lstat(path), dry_run=False)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert removal.skipped is not None
    assert removal.skipped.startswith("cannot remove: Operation not permitted (immutable")
    assert not removal.removed and path.exists()


@pytest.mark.parametrize(("flag", "on_folder"), [("+i", False), ("+a", False), ("+a", True)])
def test_a_dry_run_foresees_what_the_kernel_would_refuse(
    root: Path, flag: str, on_folder: bool
) -> None:
    # The dry run said "would remove" of an immutable file, or of one in an append-only folder;
    # the real run then warned that it could not. Both now say the same.
    path = write(root / "d" / "f")
    marked = path.parent if on_folder else path
    subprocess.run(["chattr", flag, str(marked)], check=True)  # ext4, as root: this machine's
    try:
        dry = remove_entry(root, path, os.lstat(path), dry_run=True)
        real = remove_entry(root, path, os.lstat(path), dry_run=False)
    finally:
        subprocess.run(["chattr", flag.replace("+", "-"), str(marked)], check=True)
    assert real.skipped is not None and real.skipped.startswith("cannot remove: Operation not")
    assert (dry.skipped, dry.would_remove) == (real.skipped, False)
    assert path.exists()


def test_a_dry_run_foresees_the_sticky_rule_for_another_users_file(root: Path) -> None:
    # /tmp is sticky: only a file's owner, the folder's owner (or CAP_FOWNER) may remove it.
    os.chown(root, 65534, 65534)
    root.chmod(0o1777)
    theirs = write(root / "theirs")
    os.chown(theirs, 65534, 65534)
    code = (
        "import os, sys\nfrom pathlib import Path\n"
        "from upkeep.cleaning.safedelete import remove_entry\n"
        "path = Path(sys.argv[1])\n"
        "for dry in (True, False):\n"
        "    print(remove_entry(path.parent, path, os.lstat(path), dry_run=dry).skipped)\n"
    )
    drop = ["--bounding-set", "-fowner", "--inh-caps", "-fowner"]
    done = subprocess.run(
        ["setpriv", *drop, sys.executable, "-c", code, str(theirs)],
        capture_output=True,
        text=True,
        check=True,
    )
    dry, real = done.stdout.splitlines()
    assert real.startswith("cannot remove: Operation not permitted (immutable or append-only, or")
    assert dry == real
    assert theirs.exists()


def test_an_entry_already_gone_is_reported(root: Path) -> None:
    path = write(root / "f")
    scanned = os.lstat(path)
    path.unlink()
    assert remove_entry(root, path, scanned, dry_run=False).skipped == "already gone"


def test_batches_remove_what_is_unchanged_and_report_each_skip(root: Path, outside: Path) -> None:
    """The batch way in (what cleaning a whole tree uses) keeps the same rules, counting."""
    a, b = write(root / "d" / "a", "12345"), write(root / "d" / "b", "123")
    swapped = write(root / "d" / "swapped")
    seen = [Seen.of(p.name, os.lstat(p)) for p in (a, b, swapped)]
    swapped.unlink()
    swapped.symlink_to(outside / "precious")
    (root / "e").mkdir()
    batches = [Batch(str(root / "d"), seen), Batch(str(root), [Seen.of("e", os.lstat(root / "e"))])]

    counts = remove_batches(root, batches, dry_run=False)

    assert (counts.removed, counts.freed) == (3, 8)  # a, b and the empty directory e
    [skip] = counts.skipped
    assert skip.path == str(swapped) and "was a file, now a symlink" in (skip.skipped or "")
    assert not a.exists() and not b.exists() and not (root / "e").exists()
    assert swapped.is_symlink() and (outside / "precious").read_text() == "keep me"


def test_a_folder_moved_out_of_the_root_between_batches_is_not_cleaned_where_it_went(
    root: Path, outside: Path
) -> None:
    # The walk keeps the descriptors of the folders on its way for the next batch. One moved
    # out of the root meanwhile had the files of its later batches removed where it now was.
    for name in ("a", "b"):
        for n in range(3):
            write(root / "work" / name / f"f{n}")

    def batch(name: str) -> Batch:
        folder = root / "work" / name
        return Batch(str(folder), [Seen.of(p.name, os.lstat(p)) for p in sorted(folder.iterdir())])

    def batches() -> Iterator[Batch]:
        yield batch("a")
        second = batch("b")  # scanned while still in the root, as a real scan is
        os.rename(root / "work", outside / "work")
        yield second

    counts = remove_batches(root, batches(), dry_run=False)

    assert counts.removed == 3 and counts.skipped == ()
    assert sorted(p.name for p in (outside / "work" / "b").iterdir()) == ["f0", "f1", "f2"]
    assert [o.skipped for o in counts.vanished] == ["already gone"] * 3


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_file_with_another_link_frees_its_bytes_only_with_its_last_link(
    root: Path, outside: Path, dry_run: bool
) -> None:
    # The bytes of a file linked from outside the root stay on disk: nothing is freed. A file
    # whose two links are both removed frees its bytes once.
    kept = write(root / "kept-elsewhere", "x" * 1000)
    os.link(kept, outside / "second-link")
    both = write(root / "d" / "one", "y" * 300)
    os.link(both, root / "d" / "two")
    seen = [Seen.of(name, os.lstat(root / "d" / name)) for name in ("one", "two")]
    batches = [Batch(str(root), [Seen.of(kept.name, os.lstat(kept))]), Batch(str(root / "d"), seen)]

    counts = remove_batches(root, batches, dry_run=dry_run)

    assert (counts.removed, counts.freed) == (3, 300)
    assert (outside / "second-link").read_text() == "x" * 1000
    assert counts.skipped == ()  # the second link is not "changed" by the first one's removal
    assert kept.exists() is dry_run and (root / "d" / "two").exists() is dry_run


def test_a_batch_whose_directory_is_outside_the_root_is_refused(tmp_path: Path, root: Path) -> None:
    sibling = write(tmp_path / "root-sibling" / "old")  # shares the root's name as a prefix
    batch = Batch(str(sibling.parent), [Seen.of("old", os.lstat(sibling))])
    counts = remove_batches(root, [batch], dry_run=False)
    assert counts.removed == 0 and "outside the cleaning root" in (counts.skipped[0].skipped or "")
    assert sibling.exists()


# ---------------------------------------------------------------- another filesystem


@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[[Path], Path]]:
    """Mount a real tmpfs on a directory; every one is unmounted after the test."""
    with contextlib.ExitStack() as mounts:
        yield lambda mount_point: mounts.enter_context(tiny_filesystem(mount_point, "1m"))


def test_entries_on_another_filesystem_are_skipped(
    root: Path, mount_tmpfs: Callable[[Path], Path]
) -> None:
    tmpfs = mount_tmpfs(root / "mnt")
    mounted = write(tmpfs / "d" / "f")
    assert os.lstat(mounted).st_dev != os.lstat(root).st_dev
    file_removal = remove_entry(root, mounted, os.lstat(mounted), dry_run=False)
    assert "another filesystem" in (file_removal.skipped or "")
    (tmpfs / "e").mkdir()
    empty_removal = remove_entry(root, tmpfs / "e", os.lstat(tmpfs / "e"), dry_run=False)
    assert "another filesystem" in (empty_removal.skipped or "")
    mount_point_removal = remove_entry(root, tmpfs, os.lstat(tmpfs), dry_run=False)
    assert "another filesystem" in (mount_point_removal.skipped or "")
    assert mounted.exists() and (tmpfs / "e").is_dir()


def test_a_mount_made_after_the_scan_is_not_crossed(
    root: Path, mount_tmpfs: Callable[[Path], Path]
) -> None:
    """Scanned on the root's filesystem, then a filesystem is mounted over the way to it."""
    hidden = write(root / "mnt" / "f", "under the mount")
    scanned = os.lstat(hidden)
    tmpfs = mount_tmpfs(root / "mnt")
    on_tmpfs = write(tmpfs / "f", "on the tmpfs")
    removal = remove_entry(root, root / "mnt" / "f", scanned, dry_run=False)
    assert "mount point" in (removal.skipped or "")
    assert on_tmpfs.read_text() == "on the tmpfs"
