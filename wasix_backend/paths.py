"""Where things live: the cache root and its parts, and the project's data folders.

Every location can be moved with an environment variable, so CI, tests and users with
small home directories can put the store elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path

_PKG = Path(__file__).resolve().parent


def cache_root() -> Path:
    """``$WASIX_CACHE``, else the user cache directory (``~/.cache/wasix-backend``)."""
    return Path(os.environ.get("WASIX_CACHE") or user_cache_path("wasix-backend")).absolute()


def store_dir() -> Path:
    """The content-addressed build store: ``$WASIX_STORE``, else ``<cache>/store``."""
    return Path(os.environ.get("WASIX_STORE") or cache_root() / "store").absolute()


def sources_dir() -> Path:
    """Verified downloads, named by their sha256: ``<cache>/sources``."""
    return cache_root() / "sources"


def toolchain_dir() -> Path:
    """Installed upstream toolchain components: ``$WASIX_TOOLCHAIN_DIR``, else ``<cache>/toolchain``."""
    return Path(os.environ.get("WASIX_TOOLCHAIN_DIR") or cache_root() / "toolchain").absolute()


def mirror_dir() -> Path | None:
    """A local directory of source archives tried before any download: ``$WASIX_MIRROR``."""
    value = os.environ.get("WASIX_MIRROR")
    return Path(value).absolute() if value else None


def zig_cache_dir() -> Path:
    """zig's global cache (ziglang builds compiler-rt and host programs): paid once per machine."""
    return cache_root() / "zig"


def _data_dir(name: str) -> Path:
    # A source checkout has the folder at the top; an installed wheel carries it in _data/.
    for candidate in (_PKG.parent / name, _PKG / "_data" / name):
        if candidate.is_dir():
            return candidate
    return _PKG.parent / name


def project_toolchain_dir() -> Path:
    """The project's ``toolchain/`` folder: pins and the C sources every program links."""
    return _data_dir("toolchain")


def builtin_plugins_dir() -> Path:
    """The project's ``plugins/`` folder: one sub-folder per built-in package."""
    return _data_dir("plugins")
