"""gettext-runtime's programs only: make its helper library and its src/ directory, nothing
else. (SUBDIRS on make's command line would reach every sub-make, gnulib-lib's too, which
has no sub-directories: so each directory is made on its own.)"""

from __future__ import annotations

from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext
from wasix_backend.recipe import Recipe, load_recipe

HERE = Path(__file__).resolve().parent
#: What the programs need, in build order: gnulib's library, then envsubst, gettext, ngettext.
DIRS = ("gnulib-lib", "src")


@hookimpl
def wasix_recipes() -> list[Recipe]:
    return [load_recipe(HERE / "recipe.toml", plugin="gettext")]


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool:
    for directory in DIRS:
        ctx.run(["make", f"-j{ctx.jobs}", "-C", directory])
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool:
    # src/ installs the three programs; gettext.sh (bin_SCRIPTS), a shell library for
    # scripts, is left out: a Wasmer package runs modules.
    ctx.run(["make", "-C", "src", "install", f"DESTDIR={ctx.destdir}", "bin_SCRIPTS="])
    return True
