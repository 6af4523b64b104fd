"""The part of every store key that stands for this tool's own code.

Every module of the package is hashed except those listed in :data:`NOT_BUILD_CODE`, which
only present results or write outputs from finished store entries. Listing what does *not*
shape a build, instead of what does, makes a new module covered by default: a module wrongly
left out costs a rebuild, never a stale result served from the store.
"""

from __future__ import annotations

import functools
import hashlib
from fnmatch import fnmatch
from pathlib import Path

_PKG = Path(__file__).resolve().parent

#: Paths (relative to the package, ``fnmatch`` patterns) of code that never shapes a build.
NOT_BUILD_CODE = (
    "__main__.py", "cli/*",  # the command line
    "outputs/*", "versions.py", "selfwheel.py", "pep517.py",  # writers of finished entries
    "summary.py", "textfmt.py", "logsummary.py", "schema_docs.py",  # reports and docs
    "inspect.py", "runtime.py", "gc.py", "update.py", "scaffold.py", "codekey.py", "fastpath.py",
    # Moving finished entries between stores and machines (pulled entries are verified
    # against the signed record of the build that made them).
    "substitute/*", "executors/*",
    "difftest.py",  # behaviour tests of finished modules
)  # fmt: skip


def code_files(root: Path = _PKG) -> list[Path]:
    """The package's files that shape builds, in a stable order."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" not in rel and not any(fnmatch(rel, pattern) for pattern in NOT_BUILD_CODE):
            out.append(path)
    return out


def code_key(root: Path = _PKG) -> str:
    """A hash of the names and contents of :func:`code_files` of ``root``."""
    h = hashlib.sha256()
    for path in code_files(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.cache
def engine_code_key() -> str:
    """:func:`code_key` of the running package (computed once per process)."""
    return code_key()
