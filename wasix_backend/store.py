"""The content-addressed store of finished builds.

An entry is ``<root>/<key32>-<name>-<version>/`` holding the package's install tree and a
``.wasix-build.json`` record. It appears by one ``rename`` of a fully built staging tree, so a
build killed at any moment leaves nothing a later build takes as finished. A per-key file lock
keeps two processes from building the same entry at once; staging trees of dead builds are
swept by the next build of the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .fsutil import file_sha256
from .recipe import Recipe

if TYPE_CHECKING:
    from filelock import FileLock

#: Bump when the store layout or the meaning of a key changes.
STORE_FORMAT = 1
RECORD = ".wasix-build.json"


def build_key(
    recipe: Recipe,
    *,
    toolchain: str,
    plugin: str,
    generic: str,
    deps: Mapping[str, str],
) -> str:
    """Hash of everything that decides a build's result.

    The recipe (sources' sha256s included), the content of its patches, the toolchain's
    identity, the declaring plugin's code and data (``plugin``), the generic plugins' code
    (``generic``) and the keys of its dependencies — so a change anywhere below a package
    rebuilds it and everything above it, and nothing else.
    """
    doc: dict[str, Any] = {
        "format": STORE_FORMAT,
        "recipe": recipe.canonical(),
        "patches": [[p.name, file_sha256(p)] for p in recipe.patches],
        "toolchain": toolchain,
        "plugin": plugin,
        "generic": generic,
        "deps": dict(sorted(deps.items())),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    # layout -----------------------------------------------------------------------------
    def entry(self, recipe: Recipe, key: str) -> Path:
        return self.root / f"{key[:32]}-{recipe.name}-{recipe.version}"

    def log_dir(self, recipe: Recipe, key: str) -> Path:
        return self.root / "logs" / f"{recipe.name}-{recipe.version}-{key[:12]}"

    def lock(self, key: str) -> FileLock:
        from filelock import FileLock  # only for a build: a no-op never takes a lock

        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "locks" / f"{key[:32]}.lock"))

    # queries ----------------------------------------------------------------------------
    def lookup(self, recipe: Recipe, key: str) -> Path | None:
        """The finished entry for ``key``, or None. Only complete entries exist at all."""
        path = self.entry(recipe, key)
        return path if (path / RECORD).is_file() else None

    def record(self, path: Path) -> dict[str, Any]:
        return json.loads((path / RECORD).read_text())

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if (p / RECORD).is_file())

    # building ---------------------------------------------------------------------------
    def staging(self, recipe: Recipe, key: str) -> Path:
        """A fresh private work area for building ``key``; stale ones of dead builds go.

        Call with :meth:`lock` held.
        """
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for stale in tmp.glob(f"{key[:32]}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = tmp / f"{key[:32]}-{os.getpid()}-{time.monotonic_ns()}"
        work.mkdir()
        return work

    def commit(self, staged_prefix: Path, recipe: Recipe, key: str, record: Mapping[str, Any]) -> Path:
        """Move a finished install tree into place, record last-but-one, rename last."""
        final = self.entry(recipe, key)
        staged_prefix.mkdir(parents=True, exist_ok=True)
        doc = {"name": recipe.name, "version": recipe.version, "key": key, "engine": __version__, **record}
        tmp_record = staged_prefix / (RECORD + ".tmp")
        tmp_record.write_text(json.dumps(doc, indent=2, sort_keys=True))
        os.replace(tmp_record, staged_prefix / RECORD)
        if final.exists():  # a stale, unrecorded leftover (cannot be a finished entry: lookup failed)
            shutil.rmtree(final)
        os.rename(staged_prefix, final)
        return final

    def remove_entries(self) -> int:
        """Delete every entry, log and staging area (``wasix-build clean --store``)."""
        count = len(self.entries())
        if self.root.is_dir():
            shutil.rmtree(self.root)
        return count
