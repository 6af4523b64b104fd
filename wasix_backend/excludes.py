"""Files of a plugin folder that are never part of it: caches, build output, VCS data.

One list for everything that reads a plugin folder as a whole: the wheel's plugin payload and
the sdist (:mod:`wasix_backend.pep517`) and the store key's plugin fingerprint
(:mod:`wasix_backend.plugins`). Standard library only: the PEP 517 backend imports it before
its requirements are installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePath

#: Directory names skipped wherever they appear.
EXCLUDED_DIRS = frozenset({
    "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".hypothesis", ".tox", ".nox",
    ".venv", "venv", ".git", ".hg", ".svn", ".eggs", "build", "dist", "_backend",
})
#: File-name endings skipped (compiled Python, built wheels, editor backups).
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".whl", "~", ".swp")
EXCLUDED_NAMES = frozenset({".DS_Store"})


def _dir_excluded(name: str) -> bool:
    return name in EXCLUDED_DIRS or name.endswith(".egg-info")


def excluded(rel: PurePath | str) -> bool:
    """Whether ``rel`` (a path relative to the plugin folder) is left out."""
    parts = PurePath(rel).parts
    if not parts:
        return False
    name = parts[-1]
    return (any(_dir_excluded(p) for p in parts[:-1]) or _dir_excluded(name)
            or name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES))


#: What a plugin's sdist adds at its top beside the plugin's own files
#: (:mod:`wasix_backend.outputs.sdist`): the core metadata and the bundled source archives
#: (``_backend/`` is excluded everywhere). A folder with ``PKG-INFO`` is an unpacked sdist.
SDIST_ADDED = frozenset({"PKG-INFO", "sources"})


def is_sdist(folder: Path) -> bool:
    """Whether ``folder`` is an unpacked sdist of a plugin (it has ``PKG-INFO``)."""
    return (folder / "PKG-INFO").is_file()


def plugin_file(rel: PurePath | str, sdist: bool) -> bool:
    """Whether ``rel`` belongs to the plugin folder it is relative to: not excluded, and not
    what an sdist added (when ``sdist``, from :func:`is_sdist`), so a plugin built from its
    sdist is the same plugin as its folder (the same wheel, the same store key)."""
    parts = PurePath(rel).parts
    return not excluded(rel) and not (sdist and bool(parts) and parts[0] in SDIST_ADDED)


def copytree_ignore(directory: str, names: Iterable[str]) -> set[str]:
    """For ``shutil.copytree(ignore=…)``: the entries of ``directory`` to skip."""
    return {n for n in names if excluded(n)}
