"""Runtime dependencies: which other packages' commands a program runs, and what the sandbox
must hold for it.

``[dependencies] run`` says a package's programs run other packages' commands (``tar`` execs
``gzip``; ``gawk``'s ``system()`` runs ``sh``). They are not part of its build: the engine builds
them along but keeps them out of the store key (unless the build system copies them, as a
``bundle`` does, :attr:`~.registry.BuildSystem.uses_run_deps`). Every output brings them into
the same sandbox instead: the Wasmer package's ``[dependencies]``, the wheel's
``Requires-Dist``, the launcher, :mod:`.runtime` and the differential runner.

What a package shows inside a sandbox: its commands (:meth:`.Recipe.command_map`), its
``[outputs] sandbox-commands`` (``sh`` for bash: no console script on the host) and its
``[outputs] sandbox-scripts`` as ``/usr/bin/NAME`` files (a shell's builtins as programs).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .recipe import Dependency, Recipe
from .registry import Registry

#: Where ``[outputs] sandbox-scripts`` appear in the guest (on the default ``PATH``; ``/bin``
#: holds the runtime's own entries for package commands).
SCRIPT_DIR = "/usr/bin"


def runtime_deps(recipe: Recipe, registry: Registry | None = None) -> tuple[Dependency, ...]:
    """The run dependencies that must be beside the program when it runs: all of them,
    unless its build system copies them into the package (a bundle holds its members).
    ``registry`` defaults to the one being loaded (else the generic plugins')."""
    from .registry import active

    system = (registry or active()).get_build_system(recipe.build_system)
    if system is not None and system.uses_run_deps:
        return ()
    return recipe.run_deps


def runtime_closure(recipes: Mapping[str, Recipe], name: str, registry: Registry | None = None) -> list[str]:
    """The packages whose commands ``name``'s programs may run, transitively, nearest first
    (``name`` itself excluded). Cycles are fine at run time (a shell and a tool that need each
    other); a dependency no recipe provides is left out (the graph reports it at build time)."""
    order: list[str] = []
    queue = [name]
    seen = {name}
    while queue:
        current = recipes.get(queue.pop(0))
        if current is None:
            continue
        for dep in runtime_deps(current, registry):
            if dep.name not in seen:
                seen.add(dep.name)
                order.append(dep.name)
                queue.append(dep.name)
    return [n for n in order if n in recipes]


def sandbox_commands(recipe: Recipe) -> dict[str, str]:
    """Command -> binary of everything the package shows inside a sandbox: its commands,
    then its sandbox-only ones."""
    commands = recipe.command_map()
    for cmd, binary in recipe.sandbox_commands.items():
        commands.setdefault(cmd, binary)
    return commands


def script_text(body: str) -> bytes:
    """A sandbox script's file: ``/bin/sh`` runs ``body`` (the runtime follows the ``#!``)."""
    return f"#!/bin/sh\n{body.rstrip()}\n".encode()


def sandbox_script_files(recipe: Recipe) -> dict[str, bytes]:
    """Guest path -> contents of the package's ``[outputs] sandbox-scripts``."""
    return {f"{SCRIPT_DIR}/{cmd}": script_text(body) for cmd, body in sorted(recipe.sandbox_scripts.items())}


def sandbox_of(
    recipes: Mapping[str, Recipe], name: str, prefixes: Mapping[str, Path], registry: Registry | None = None
) -> tuple[dict[str, Path], dict[str, bytes]]:
    """What one sandbox holds to run ``name``: command -> ``.wasm`` and guest path -> data, for
    the package and its runtime closure (``prefixes``: each one's built install tree). The
    package's own come first and win a clash of names; then the nearest dependency's."""
    from .errors import WasixError
    from .outputs.wasmer_pkg import data_files

    modules: dict[str, Path] = {}
    data: dict[str, bytes] = {}
    for member in [name, *runtime_closure(recipes, name, registry)]:
        if member not in prefixes:
            raise WasixError(f"{name}: its runtime dependency {member} is not built (wasix-build build {member})")
        recipe, prefix = recipes[member], prefixes[member]
        for cmd, binary in sandbox_commands(recipe).items():
            modules.setdefault(cmd, prefix / "bin" / f"{binary}.wasm")
        for guest, content in {**data_files(recipe, prefix), **sandbox_script_files(recipe)}.items():
            data.setdefault(guest, content)
    return modules, data
