"""Small file helpers shared by the writers: hashing, and writes that are all or nothing."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

#: A sha256 as pins write it: 64 lower-case hex digits (the one copy of this pattern).
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore, never concurrently
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def honour_umask(path: Path | str, *, directory: bool = False) -> None:
    """Give a file made by mkstemp/mkdtemp (0600/0700) the mode any other new file gets."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def output_lock(dest: Path) -> Iterator[None]:
    """Serialise writers of outputs in one directory (concurrent commands writing the same
    ``--out`` take turns, so the last complete file wins). The lock is an ``flock`` on the
    directory itself, so no lock file is left among the outputs."""
    parent = Path(dest).parent
    parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the unique temp names still keep files whole
        yield
        return
    fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _temp_beside(dest: Path) -> Iterator[tuple[int, str]]:
    """A uniquely named temp file next to ``dest`` (mode as the umask says); removed
    again if the block fails, whatever the failure (disk full, file too large, Ctrl-C)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        yield fd, tmp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(dest: Path, data: bytes) -> Path:
    """Write ``dest`` through a synced temp file and a rename: readers see the old file or
    the whole new one, never a part; on failure the temp file is removed."""
    dest = Path(dest)
    with output_lock(dest), _temp_beside(dest) as (fd, tmp), os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, dest)
    return dest


def atomic_copy(src: Path, dest: Path) -> Path:
    """Copy ``src`` to ``dest`` all or nothing, like :func:`atomic_write_bytes`, streaming."""
    dest = Path(dest)
    with output_lock(dest), _temp_beside(dest) as (fd, tmp), os.fdopen(fd, "wb") as fh, open(src, "rb") as inp:
        shutil.copyfileobj(inp, fh, 1 << 20)
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, dest)
    return dest


def make_temp_dir(beside: Path) -> Path:
    """A fresh directory next to ``beside`` to assemble a replacement in (umask honoured)."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))
    honour_umask(tmp, directory=True)
    return tmp


def replace_dir(new: Path, final: Path) -> None:
    """Put the finished directory ``new`` at ``final``: the old one is renamed aside first and
    removed last, so ``final`` is always a complete tree (briefly absent, never half-written).
    Writers of the same ``final`` take turns (:func:`output_lock`)."""
    with output_lock(final):
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
            os.replace(final, old)  # an empty directory is replaced by rename
        os.replace(new, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
