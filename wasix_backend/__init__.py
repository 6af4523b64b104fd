"""wasix-backend: a plugin-based build system that cross-compiles C and Rust to WASIX.

Plugins implement the hooks in :mod:`wasix_backend.hookspecs`, marked with :data:`hookimpl`.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

PROJECT_NAME = "wasix_backend"
#: Entry-point group through which installed distributions register plugins.
ENTRY_POINT_GROUP = "wasix_backend.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]
