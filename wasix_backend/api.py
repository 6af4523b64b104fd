"""The public plugin API: everything a plugin may import from wasix-backend.

A plugin — a package's ``plugin.py``, a build system, an output format, a plugin's tests —
imports from here alone::

    from wasix_backend.api import BuildContext, hookimpl, load_recipe

The names below keep their meaning across releases; every other module of the package is
internal and may move or change. Each name is the object of the module that defines it
(``api.BuildContext is wasix_backend.context.BuildContext``), so code importing it from
there keeps working. docs/plugins.md's reference section is generated from this module
(``python -m wasix_backend.schema_docs docs/plugins.md``).
"""

from __future__ import annotations

from . import hookimpl
from .context import BuildContext
from .errors import BuildError, MissingRequirement, WasixError
from .recipe import Dependency, Recipe, Source, load_recipe
from .registry import BuildSystem, OutputFormat, OutputJob, Registry
from .runtime import RunResult, SandboxError, run
from .schema import Field, Section, read_settings, section_of, setting
from .toolchain import Toolchain
from .toolchain.sysroot import host_llvm_tools

#: The reference's sections, in order: heading -> the names it documents.
GROUPS: dict[str, tuple[str, ...]] = {
    "Hooks and what they are given": ("hookimpl", "BuildContext", "Toolchain"),
    "Recipes": ("load_recipe", "Recipe", "Source", "Dependency"),
    "Errors a hook raises": ("WasixError", "BuildError", "MissingRequirement"),
    "Build systems and output formats (`wasix_register`)": (
        "Registry", "BuildSystem", "setting", "section_of", "read_settings", "Section", "Field", "OutputFormat",
        "OutputJob",
    ),
    "Helpers": ("host_llvm_tools",),
    "Running programs in tests": ("run", "RunResult", "SandboxError"),
}  # fmt: skip

#: Methods and properties the reference documents besides the class itself (the others are
#: internal even where their names have no underscore).
MEMBERS: dict[str, tuple[str, ...]] = {
    "BuildContext": ("run", "expand", "fail"),
    "Recipe": ("deps", "command_map"),
    "Registry": ("build_system", "output"),
    "RunResult": ("text",),
}

#: Classes a plugin makes itself (their parameters are shown); the others it is given.
CONSTRUCTED = ("BuildSystem", "Section", "Field", "OutputFormat", "BuildError", "MissingRequirement")

#: Documentation of names whose object carries another's docstring (pluggy's marker class).
DOCS: dict[str, str] = {
    "hookimpl": (
        "Marks a function as the implementation of a hook (pluggy's ``HookimplMarker`` for this "
        "project, as pytest's ``pytest.hookimpl``). The function's name says which hook "
        "(``wasix_configure`` …) and its parameters must be among the hook's (``ctx``, "
        "``registry``). ``@hookimpl(wrapper=True)`` makes a generator that runs around the "
        "other implementations: ``result = yield`` runs them, then ``return result``."
    ),
    "host_llvm_tools": (
        "``{name: Path}`` of the build machine's LLVM programs (``clang``, ``wasm-ld``, "
        "``llvm-ar``, ``llvm-nm``, ``llvm-ranlib``: a clang >= 19 with wasm32 support; "
        "``$WASIXCC_LLVM_LOCATION`` picks another), for recipes built with ``[build] toolchain "
        "= \"host-llvm\"`` (the wasix-libc sysroot itself). Raises a :class:`WasixError` "
        "naming what to install when there is none."
    ),
}

#: The names of :data:`GROUPS`, spelt out for linters (``tests/test_api.py`` checks they agree).
__all__ = [
    "BuildContext",
    "BuildError",
    "BuildSystem",
    "Dependency",
    "Field",
    "MissingRequirement",
    "OutputFormat",
    "OutputJob",
    "Recipe",
    "Registry",
    "RunResult",
    "SandboxError",
    "Section",
    "Source",
    "Toolchain",
    "WasixError",
    "hookimpl",
    "host_llvm_tools",
    "load_recipe",
    "read_settings",
    "run",
    "section_of",
    "setting",
]  # fmt: skip
