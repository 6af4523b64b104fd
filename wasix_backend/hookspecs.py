"""Hook specifications: the whole contract between the engine and plugins.

A build runs five phases in order — ``fetch``, ``patch``, ``configure``, ``compile``,
``package`` — each a hook called with one :class:`~wasix_backend.context.BuildContext`.

Every phase hook is ``firstresult``: implementations are called newest-registered first
(a package's plugin, then its build system's hooks, then the generic ones), and the
first one that returns something other than ``None`` ends the phase. So:

* return ``None`` to leave the phase to the next plugin (usually the generic default);
* return ``True`` after doing the work yourself to *replace* the default;
* declare ``@hookimpl(wrapper=True)`` and ``yield`` to run code *around* the default
  (``result = yield`` gives you the inner result; return it).

When the engine builds recipe R, only hooks of the plugin that declared R, of R's build system
(the ``hooks`` of its registered :class:`~wasix_backend.registry.BuildSystem`) and of generic
plugins (fetching, patching) are called: neither a package plugin nor a build system needs to
check ``ctx.recipe.name`` or ``ctx.recipe.build_system``.
A phase where nobody returns a result is an error unless the phase is optional (``patch``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hookspec

if TYPE_CHECKING:
    from .context import BuildContext
    from .recipe import Recipe
    from .registry import Registry


@hookspec
def wasix_register(registry: Registry) -> None:
    """Add build systems and output formats: ``registry.build_system(BuildSystem(...))``,
    ``registry.output(OutputFormat(...))`` (:mod:`wasix_backend.registry`).

    Called once per plugin when plugins load, before any plugin declares its recipes, so a
    recipe may use a build system registered by any plugin whatever the load order. A name
    that is registered already is an error naming both plugins. The built-in build systems
    and outputs register through this very hook, from their own modules.
    """


@hookspec
def wasix_recipes() -> list[Recipe]:  # type: ignore[empty-body]
    """Declare the recipes this plugin provides.

    Called once per plugin when plugins are loaded; all results are collected. A plugin that
    only adds generic behaviour (a build system, a fetcher) returns ``[]`` or does not
    implement it. Returns a list of :class:`~wasix_backend.recipe.Recipe`, usually from
    :func:`~wasix_backend.recipe.load_recipe`.
    """


@hookspec(firstresult=True)
def wasix_fetch(ctx: BuildContext) -> bool | None:
    """Put the recipe's sources, unpacked, into ``ctx.source_dir``.

    The default (``wasix_backend.buildsystems.fetching``) downloads every ``[[source]]``
    (mirror, then URLs, then the Debian archive), verifies its sha256 and unpacks it safely.
    Return ``True`` when done, ``None`` to defer. firstresult.
    """


@hookspec(firstresult=True)
def wasix_patch(ctx: BuildContext) -> bool | None:
    """Change the unpacked sources in ``ctx.source_dir`` before configuring.

    The default applies ``ctx.recipe.patches`` in order with ``patch -p1``, stopping at the
    first that does not apply, naming the patch file and the failing hunk. Plugins that need
    to edit sources programmatically wrap this hook. firstresult.
    """


@hookspec(firstresult=True)
def wasix_configure(ctx: BuildContext) -> bool | None:
    """Prepare the build in ``ctx.build_dir`` (e.g. ``./configure``, ``cmake -S -B``).

    The build system named by ``ctx.recipe.build_system`` implements the default,
    reading its options from ``ctx.recipe.build``. Install paths must use ``ctx.prefix``
    (the final location); installing happens into ``ctx.stage``. firstresult.
    """


@hookspec(firstresult=True)
def wasix_compile(ctx: BuildContext) -> bool | None:
    """Compile, with ``ctx.jobs`` parallel jobs (e.g. ``make -j``, ``cargo build``).

    firstresult.
    """


@hookspec(firstresult=True)
def wasix_package(ctx: BuildContext) -> bool | None:
    """Install the results into ``ctx.stage`` laid out as the store expects.

    Programs end as ``bin/NAME.wasm`` for every name in ``ctx.recipe.binaries``; libraries as
    ``lib/`` and ``include/`` (and ``lib/pkgconfig``). The default runs the build system's
    install step, renames binaries to ``.wasm``, runs ``wasm-opt`` when the toolchain has it
    and checks that each declared output exists and is a wasm module. firstresult.
    """
