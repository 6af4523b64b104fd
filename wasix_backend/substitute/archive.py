"""A store entry as one archive, and making an unpacked one at home in another store.

The install prefix is the entry's path in the store that built it (``--prefix``), so text
files that dependents read at build time — pkg-config files, ``*-config`` scripts, libtool
archives, CMake files, headers — name the building store. On pull those are rewritten to
the local store's path; paths compiled into binaries (a default data directory inside a
``.a`` or ``.wasm``) are left as they are: they cannot be rewritten safely, and inside the
Wasmer sandbox a host store path means nothing anyway. Each rewrite is listed in the record.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path
from typing import Any

#: Archive member metadata that would make two packings of the same files differ.
_OWNER = {"uid": 0, "gid": 0, "uname": "", "gname": ""}


def pack(entry: Path, dest: Path) -> None:
    """``dest`` (.tar.gz) holding everything in ``entry``, byte-identical for identical files."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        for attr, value in _OWNER.items():
            setattr(info, attr, value)
        info.mtime = 0
        return info

    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entry.rglob("*")):
            rel = path.relative_to(entry).as_posix()
            tar.add(path, arcname=rel, recursive=False, filter=clean)


def relocate(tree: Path, old_root: str, new_root: str) -> dict[str, Any]:
    """Rewrite ``old_root/`` to ``new_root/`` in the text files of ``tree``.

    Returns what was done: ``{"from", "to", "rewritten": [...], "binary": [...]}``, the
    latter naming binary files that still mention the old store."""
    old, new = old_root.rstrip("/").encode() + b"/", new_root.rstrip("/").encode() + b"/"
    done: dict[str, Any] = {"from": old_root, "to": new_root, "rewritten": [], "binary": []}
    if old == new:
        return done
    for dirpath, _dirs, files in os.walk(tree):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            data = path.read_bytes()
            if old not in data:
                continue
            rel = path.relative_to(tree).as_posix()
            if b"\0" in data:
                done["binary"].append(rel)
                continue
            mode = path.stat().st_mode
            tmp = path.with_name(path.name + ".relocate")
            tmp.write_bytes(data.replace(old, new))
            os.chmod(tmp, mode)
            os.replace(tmp, path)
            done["rewritten"].append(rel)
    return done
