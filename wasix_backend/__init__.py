"""wasix-backend: a plugin-based build system that cross-compiles C and Rust to WASIX.

Plugins implement the hooks in :mod:`wasix_backend.hookspecs`, marked with :data:`hookimpl`.
"""

from __future__ import annotations

# Not from typing: importing it costs more than the rest of what the console scripts
# (wasixcc & co., see driver_entry) run before they hand over to the compiler.
TYPE_CHECKING = False

__version__ = "0.1.0"

PROJECT_NAME = "wasix_backend"
#: Entry-point group through which installed distributions register plugins.
ENTRY_POINT_GROUP = "wasix_backend.plugins"

if TYPE_CHECKING:
    from typing import Any

    import pluggy

    hookspec: pluggy.HookspecMarker
    hookimpl: pluggy.HookimplMarker

__all__ = ["ENTRY_POINT_GROUP", "PROJECT_NAME", "__version__", "hookimpl", "hookspec"]


def __getattr__(name: str) -> Any:
    # The markers are made on first use, so that importing the PEP 517 backend
    # (wasix_backend.pep517) needs only the standard library: a build front-end imports it
    # before it has installed the backend's requirements.
    if name in ("hookspec", "hookimpl"):
        import pluggy

        marker = (pluggy.HookspecMarker if name == "hookspec" else pluggy.HookimplMarker)(PROJECT_NAME)
        globals()[name] = marker
        return marker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
