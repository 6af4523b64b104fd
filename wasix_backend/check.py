"""``wasix-build build --check``: build a stored package again and compare, file by file.

As Nix's ``--check``: the package is rebuilt from the same inputs into a scratch store, with
its dependencies taken from the real store, and every file of the new tree is compared with
the stored entry's. The scratch store's path is replaced by the real entry's before
comparing, so text files that name their own prefix (pkg-config files) compare equal. A
difference is reported, never repaired: the stored entry stays as it is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .store import RECORD, Store

if TYPE_CHECKING:
    from .engine import BuildResult, Engine


@dataclass
class CheckResult:
    name: str
    entry: Path
    #: Relative paths that differ, with how: "differs", "only in the stored entry", "only in the rebuild".
    differences: dict[str, str] = field(default_factory=dict)

    @property
    def reproducible(self) -> bool:
        return not self.differences


def _files(tree: Path) -> dict[str, Path]:
    out = {}
    for folder, _dirs, names in os.walk(tree):
        for name in names:
            path = Path(folder, name)
            rel = path.relative_to(tree).as_posix()
            if rel != RECORD:
                out[rel] = path
    return out


def _content(path: Path, replace: tuple[bytes, bytes] | None) -> bytes:
    if path.is_symlink():
        return b"symlink:" + os.readlink(path).encode()
    data = path.read_bytes()
    return data.replace(*replace) if replace else data


def compare_trees(stored: Path, rebuilt: Path) -> dict[str, str]:
    """Relative path -> how it differs, between two install trees of one package."""
    replace = (str(rebuilt).encode(), str(stored).encode())
    a, b = _files(stored), _files(rebuilt)
    out = {}
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            out[rel] = "only in the stored entry"
        elif rel not in a:
            out[rel] = "only in the rebuild"
        elif _content(a[rel], None) != _content(b[rel], replace):
            out[rel] = "differs"
    return out


def check(engine: Engine, name: str, result: BuildResult, deps: dict[str, Path]) -> CheckResult:
    """Rebuild ``name`` (stored as ``result``) into a scratch store and compare."""
    from .engine import Engine

    scratch_root = Path(tempfile.mkdtemp(prefix="check-", dir=engine.store.root))
    try:
        scratch = Engine(engine.plugins, Store(scratch_root), engine.toolchain, jobs=engine.jobs, console=engine.console)
        scratch.key_inputs = engine.key_inputs
        recipe = engine.plugins.recipes[name]
        rebuilt = scratch._run_phases(recipe, result.key, deps, engine.jobs)
        return CheckResult(name, result.path, compare_trees(result.path, rebuilt.path))
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
