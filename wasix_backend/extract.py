"""Unpacking archives safely and atomically.

Archives come from the network, so each member is checked before anything is written:
no absolute paths, no ``..``, no links pointing outside the destination, no device files.
Everything is unpacked into a temporary directory next to the destination and renamed
into place at the end, so a refused or corrupt archive leaves no partial tree behind.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import shutil
import stat
import tarfile as _stdlib_tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from types import ModuleType

from .errors import FetchError


def _tarfile_with_filters() -> ModuleType:
    """The standard ``tarfile`` when it has extraction filters (3.11.4+), else PyPI's
    ``backports.tarfile`` (the same module from a newer Python; Debian 12 ships 3.11.2)."""
    if hasattr(_stdlib_tarfile, "data_filter"):
        return _stdlib_tarfile
    try:
        from backports import tarfile as backport  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise FetchError(
            "this Python's tarfile has no extraction filters (added in 3.11.4) and "
            "backports.tarfile is not installed: pip install backports.tarfile"
        ) from None
    return backport


tarfile = _tarfile_with_filters()

_TAR_SUFFIXES = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".crate",
)


class _Refused(Exception):
    """A member broke a rule; turned into a FetchError naming the archive."""

    def __init__(self, member: str, problem: str) -> None:
        self.member, self.problem = member, problem
        super().__init__(problem)


def _parts(name: str, member: str) -> list[str]:
    """The path components of an archive name, refusing absolute paths and ``..``."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _Refused(member, "has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused(member, "contains '..'")
    return parts


def _stripped(name: str, strip: int, member: str) -> str | None:
    """``name`` without its first ``strip`` components (``None``: nothing left, skip it)."""
    parts = _parts(name, member)
    if len(parts) <= strip:
        return None
    return "/".join(parts[strip:])


def _check_symlink(name: str, target: str, member: str) -> None:
    """A symlink at ``name`` (relative to the root) must point inside the root."""
    if not target:
        raise _Refused(member, "is a symlink with an empty target")
    if target.startswith("/"):
        raise _Refused(member, f"is a symlink to an absolute path ({target})")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _Refused(member, f"is a symlink pointing outside the destination ({target})")


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _tar_filter(strip: int):  # type: ignore[no-untyped-def]
    seen: set[str] = set()  # members so far: a hard link may only name an earlier one

    def check(member: _stdlib_tarfile.TarInfo, dest: str) -> _stdlib_tarfile.TarInfo | None:
        original = member.name
        if member.islnk() and posixpath.normpath(member.linkname) not in seen:
            raise _Refused(
                original, f"is a hard link to {member.linkname!r}, which is not an earlier member of the archive"
            )
        seen.add(posixpath.normpath(original))
        if member.ischr() or member.isblk():
            raise _Refused(original, "is a device file")
        if member.isfifo():
            raise _Refused(original, "is a FIFO")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise _Refused(original, "has an unsupported member type")
        name = _stripped(original, strip, original)
        if name is None:
            return None
        changes: dict[str, object] = {"name": name}
        if member.issym():
            _check_symlink(name, member.linkname, original)
        elif member.islnk():
            try:
                link = _stripped(member.linkname, strip, original)
            except _Refused:
                link = None
            if link is None:
                raise _Refused(
                    original,
                    f"is a hard link to a path outside the destination ({member.linkname})",
                )
            changes["linkname"] = link
        # The path must not lead through an already-extracted symlink to somewhere else.
        root = os.path.realpath(dest)
        if not _inside(root, os.path.realpath(os.path.join(root, name))):
            raise _Refused(original, "would be written outside the destination (through a symlink)")
        member = member.replace(**changes, deep=False)  # type: ignore[arg-type]
        # tarfile's own "data" filter adds its checks and drops setuid/world-write bits.
        return tarfile.data_filter(member, dest)

    return check


def _extract_tar(archive: Path, into: Path, strip: int) -> None:
    with tarfile.open(archive, "r:*") as tar:
        tar.errorlevel = 1
        tar.extractall(into, filter=_tar_filter(strip))


def _extract_zip(archive: Path, into: Path, strip: int) -> None:
    root = os.path.realpath(into)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = _stripped(info.filename, strip, info.filename)
            if name is None:
                continue
            target = os.path.join(root, name)
            if not _inside(root, os.path.realpath(target)):
                raise _Refused(
                    info.filename, "would be written outside the destination (through a symlink)"
                )
            mode = info.external_attr >> 16
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode("utf-8")
                _check_symlink(name, link, info.filename)
                os.symlink(link, target)
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # no type bits: a plain file
                raise _Refused(info.filename, "is a device file or other special file")
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            if mode & 0o111:
                os.chmod(target, 0o755)


def _is_tar(archive: Path) -> bool:
    name = archive.name.lower()
    if name.endswith(_TAR_SUFFIXES):
        return True
    if name.endswith(".zip"):
        return False
    return tarfile.is_tarfile(archive)


def _check_links(root: Path) -> None:
    """After unpacking: every symlink must resolve inside ``root`` (belt and braces)."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            if os.path.islink(path) and not _inside(real_root, os.path.realpath(path)):
                raise _Refused(
                    os.path.relpath(path, root), "is a symlink resolving outside the destination"
                )


def extract(archive: Path, dest: Path, *, strip: int = 0, what: str = "") -> None:
    """Unpack ``archive`` (tar, compressed tar, ``.crate`` or zip) into ``dest``.

    ``strip`` drops leading path components like ``tar --strip-components``. Members with
    absolute paths or ``..``, links that point outside ``dest`` and device files are
    refused, as are corrupt or truncated archives: :class:`FetchError` names the archive
    and the member. The archive is unpacked into a temporary directory next to ``dest``
    and moved into place only when complete: a new ``dest`` appears whole or not at all;
    an existing ``dest`` directory receives the new top-level entries (none may exist yet).
    """
    archive, dest = Path(archive), Path(dest)
    label = f"{what}: " if what else ""
    if strip < 0:
        raise FetchError(f"{label}strip must be >= 0, got {strip}")
    if not archive.is_file():
        raise FetchError(f"{label}archive not found: {archive}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extract-"))
    try:
        try:
            if _is_tar(archive):
                _extract_tar(archive, staging, strip)
            elif zipfile.is_zipfile(archive):
                _extract_zip(archive, staging, strip)
            else:
                raise FetchError(f"{label}{archive}: not a tar or zip archive")
            _check_links(staging)
        except _Refused as exc:
            raise FetchError(
                f"{label}refusing to unpack {archive}: member {exc.member!r} {exc.problem}"
            ) from None
        except tarfile.FilterError as exc:
            raise FetchError(f"{label}refusing to unpack {archive}: {exc}") from None
        except KeyError as exc:  # tarfile's own word for a link to a member it cannot find
            raise FetchError(f"{label}{archive} is a bad archive: {exc.args[0] if exc.args else exc}") from None
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise FetchError(f"{label}{archive} is corrupt or truncated: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            # Truncated compressed streams surface as OSError/EOFError from the decompressor.
            raise FetchError(
                f"{label}cannot unpack {archive} (corrupt, truncated or disk full?): {exc}"
            ) from None
        _move_into_place(staging, dest, archive, label)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(staging: Path, dest: Path, archive: Path, label: str) -> None:
    if not dest.exists():
        os.rename(staging, dest)
        return
    if not dest.is_dir():
        raise FetchError(f"{label}cannot unpack {archive}: {dest} exists and is not a directory")
    entries = sorted(os.listdir(staging))
    clashes = [e for e in entries if os.path.lexists(dest / e)]
    if clashes:
        raise FetchError(
            f"{label}cannot unpack {archive} into {dest}: already there: {', '.join(clashes[:5])}"
            " (remove it, or unpack into an empty directory)"
        )
    for entry in entries:
        os.rename(staging / entry, dest / entry)
