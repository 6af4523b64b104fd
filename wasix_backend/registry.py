"""The registry of build systems and output formats, filled through the ``wasix_register`` hook.

A plugin adds a build system or an output format the way tox 4 adds an environment type
(``tox_register_tox_env(register)``): its ``wasix_register(registry)`` hook calls
:meth:`Registry.build_system` or :meth:`Registry.output`. The built-ins (``autotools``,
``make``, ``cmake``, ``cargo``, ``none``; ``wasmer``, ``wheel``, ``index``) register from their
own modules exactly so; the engine, the recipe loader, ``new``, the PEP 517 backend, the docs
generator and the command line only ever ask the registry.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import PluginError
from .schema import Section

if TYPE_CHECKING:
    from .recipe import Recipe


@dataclass(frozen=True)
class BuildSystem:
    """A way of building sources, chosen by a recipe's ``[build] system = NAME``.

    ``hooks`` carries its ``wasix_configure``/``wasix_compile``/``wasix_package`` (and maybe
    ``wasix_fetch``/``wasix_patch``) hookimpls — a module or any object — and is called only
    for recipes of this system (``None``: the recipe's own plugin does every phase).
    ``settings`` declares its own ``[build]`` keys (checked at load time, documented from it,
    in the JSON schema of ``recipe.toml``): ``section_of(MySettings)`` of a frozen dataclass
    whose fields are declared with :func:`~wasix_backend.schema.setting` (type, default and
    meaning in one place; the hooks read them typed with
    ``read_settings(MySettings, ctx.recipe.build)``), or a :class:`Section` of :class:`Field` s.
    ``identity(recipe, c_toolchain_identity)`` returns what besides the C toolchain shapes its
    builds (cargo adds the Rust compiler); it is part of the store key. ``c_toolchain`` says
    whether its builds use the C toolchain (so an sdist carries the wasix-libc recipe).
    ``markers`` are top-level file names that suggest it to ``new --from-url``; ``scaffold``
    the initial ``[build]`` keys ``new`` writes, as ``(key, value, comment)``.
    """

    name: str
    hooks: object | None = None
    settings: Section = field(default_factory=lambda: Section("build", ()))
    identity: Callable[[Recipe, str], str] | None = None
    c_toolchain: bool = True
    #: False when its modules come ready from other builds (a bundle): finalize leaves them
    #: as they are instead of running wasm-opt on them a second time.
    optimise: bool = True
    #: True when its builds read the ``[dependencies] run`` recipes' files (a bundle copies
    #: their modules): then those are in the store key. Otherwise run dependencies are only
    #: brought beside the program when it runs and never rebuild it.
    uses_run_deps: bool = False
    markers: tuple[str, ...] = ()
    scaffold: tuple[tuple[str, Any, str], ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class OutputJob:
    """One call of an output format's writer.

    ``recipe`` and ``prefix`` (the built package's install tree in the store) are ``None`` for
    a format that is not per package; ``out`` is ``--out``; ``options`` the parsed command line
    (the format's own arguments included); ``say`` prints a line for the user (stderr).
    """

    recipe: Recipe | None
    prefix: Path | None
    out: Path
    options: argparse.Namespace
    say: Callable[[str], None] = print
    #: Every recipe by name (a writer looks up the recipes of ``[dependencies] run``).
    recipes: Mapping[str, Recipe] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputFormat:
    """Something made from store entries: a ``wasix-build NAME`` sub-command.

    ``write(job)`` writes the format's files (never half-written: temp then rename) and returns
    their paths. ``per_package``: the command builds the named programs first and calls
    ``write`` once per built one; otherwise once, with ``recipe`` and ``prefix`` None.
    ``add_arguments(parser)`` adds the format's own options (after the build options).
    """

    name: str
    help: str
    write: Callable[[OutputJob], list[Path]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    per_package: bool = True


class Registry:
    """Every build system and output format, with the plugin that registered each."""

    def __init__(self) -> None:
        self.build_systems: dict[str, BuildSystem] = {}
        self.outputs: dict[str, OutputFormat] = {}
        #: (kind, name) -> the plugin that registered it
        self.owners: dict[tuple[str, str], str] = {}
        self._current = "?"

    @contextmanager
    def registering(self, plugin: str) -> Iterator[None]:
        """Attribute what is registered inside to ``plugin`` (the loader's job)."""
        before, self._current = self._current, plugin
        try:
            yield
        finally:
            self._current = before

    def _add(self, kind: str, table: dict[str, Any], item: BuildSystem | OutputFormat) -> None:
        other = self.owners.get((kind, item.name))
        if other is not None:
            raise PluginError(f"{kind} {item.name!r} of plugin {self._current!r} is already registered by plugin {other!r}")
        table[item.name] = item
        self.owners[(kind, item.name)] = self._current

    def build_system(self, system: BuildSystem) -> None:
        """Add a build system; a name registered already is an error naming both plugins."""
        self._add("build system", self.build_systems, system)

    def output(self, fmt: OutputFormat) -> None:
        """Add an output format; a name registered already is an error naming both plugins."""
        self._add("output format", self.outputs, fmt)

    def forget(self, plugin: str) -> None:
        """Drop what ``plugin`` registered (it failed to load after all)."""
        for (kind, name), owner in list(self.owners.items()):
            if owner == plugin:
                del self.owners[(kind, name)]
                (self.build_systems if kind == "build system" else self.outputs).pop(name, None)

    def get_build_system(self, name: str) -> BuildSystem | None:
        return self.build_systems.get(name)

    def guess_build_system(self, names: set[str]) -> str | None:
        """The first registered system one of whose markers is among ``names``, or None."""
        return next((s.name for s in self.build_systems.values() if any(m in names for m in s.markers)), None)


#: The registry recipes are checked against while plugins load (see :func:`active`).
_ACTIVE: ContextVar[Registry | None] = ContextVar("wasix_registry", default=None)


@contextmanager
def activated(registry: Registry) -> Iterator[None]:
    """Make ``registry`` the one :func:`active` returns (while plugins declare recipes)."""
    token = _ACTIVE.set(registry)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Registry:
    """The registry being loaded, else the generic plugins' (a recipe loaded on its own)."""
    registry = _ACTIVE.get()
    if registry is None:
        from .plugins import generic_registry

        registry = generic_registry()
    return registry
