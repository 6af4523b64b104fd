"""Hook specifications: the whole contract between the engine and plugins.

A build runs five phases in order — ``fetch``, ``patch``, ``configure``, ``compile``,
``package`` — each a hook called with one :class:`~wasix_backend.context.BuildContext`.

Every phase hook is ``firstresult``: implementations are called newest-registered first
(package plugins before the generic build-system plugins, which are registered first), and the
first one that returns something other than ``None`` ends the phase. So:

* return ``None`` to leave the phase to the next plugin (usually the generic default);
* return ``True`` after doing the work yourself to *replace* the default;
* declare ``@hookimpl(wrapper=True)`` and ``yield`` to run code *around* the default
  (``result = yield`` gives you the inner result; return it).

When the engine builds recipe R, only hooks of the plugin that declared R and of generic
(non-package) plugins are called: a package plugin never needs to check ``ctx.recipe.name``.
A phase where nobody returns a result is an error unless the phase is optional (``patch``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import hookspec

if TYPE_CHECKING:
    from .context import BuildContext
    from .recipe import Recipe


@hookspec
def recipes() -> list[Recipe]:
    """Declare the recipes this plugin provides.

    Called once per plugin when plugins are loaded; all results are collected. A plugin that
    only adds generic behaviour (a build system, a fetcher) returns ``[]`` or does not
    implement it. Returns a list of :class:`~wasix_backend.recipe.Recipe`, usually from
    :func:`~wasix_backend.recipe.load_recipe`.
    """


@hookspec(firstresult=True)
def fetch(ctx: BuildContext) -> bool | None:
    """Put the recipe's sources, unpacked, into ``ctx.source_dir``.

    The default (``wasix_backend.buildsystems.fetching``) downloads every ``[[source]]``
    (mirror, then URLs, then the Debian archive), verifies its sha256 and unpacks it safely.
    Return ``True`` when done, ``None`` to defer. firstresult.
    """


@hookspec(firstresult=True)
def patch(ctx: BuildContext) -> bool | None:
    """Change the unpacked sources in ``ctx.source_dir`` before configuring.

    The default applies ``ctx.recipe.patches`` in order with ``patch -p1``, stopping at the
    first that does not apply, naming the patch file and the failing hunk. Plugins that need
    to edit sources programmatically wrap this hook. firstresult.
    """


@hookspec(firstresult=True)
def configure(ctx: BuildContext) -> bool | None:
    """Prepare the build in ``ctx.build_dir`` (e.g. ``./configure``, ``cmake -S -B``).

    The build-system plugin named by ``ctx.recipe.build_system`` implements the default,
    reading its options from ``ctx.recipe.build``. Install paths must use ``ctx.prefix``
    (the final location); installing happens into ``ctx.stage``. firstresult.
    """


@hookspec(firstresult=True)
def compile(ctx: BuildContext) -> bool | None:
    """Compile, with ``ctx.jobs`` parallel jobs (e.g. ``make -j``, ``cargo build``).

    firstresult.
    """


@hookspec(firstresult=True)
def package(ctx: BuildContext) -> bool | None:
    """Install the results into ``ctx.stage`` laid out as the store expects.

    Programs end as ``bin/NAME.wasm`` for every name in ``ctx.recipe.binaries``; libraries as
    ``lib/`` and ``include/`` (and ``lib/pkgconfig``). The default runs the build system's
    install step, renames binaries to ``.wasm``, runs ``wasm-opt`` when the toolchain has it
    and checks that each declared output exists and is a wasm module. firstresult.
    """
