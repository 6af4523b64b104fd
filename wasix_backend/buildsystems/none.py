"""The ``none`` build system: the recipe's own plugin implements every phase."""

from __future__ import annotations

from .. import hookimpl
from ..registry import BuildSystem, Registry


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem("none", doc="your hooks do every phase"))
