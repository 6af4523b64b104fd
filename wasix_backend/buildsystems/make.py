"""The ``make`` build system: a plain Makefile, no configure step.

``make`` runs in the build tree (in-tree by default) with CC, AR … from the toolchain passed
on the command line, so Makefiles that hard-code ``CC = gcc`` still cross-compile.
Recipe ``[build]`` keys: ``make-args``; ``install-args`` (then ``make install
DESTDIR=… PREFIX=…`` is run); otherwise each binary is copied from ``bin-dir`` (default: the
top of the build tree) as ``NAME`` or ``NAME.wasm``.
"""

from __future__ import annotations

import shutil
import sys

from .. import hookimpl
from ..context import BuildContext
from ..registry import BuildSystem, Registry
from ..schema import Field, Section
from ..toolchain import ENV_TOOLS
from .autotools import INSTALL_TARGET, MAKE_ARGS, args, make_command, make_install

SYSTEM = "make"
SETTINGS = Section("build (make)", (
    MAKE_ARGS,
    Field("install-args", "list of strings", "unset", "when given, `make install DESTDIR=… PREFIX=…` plus these is run instead of copying binaries"),
    INSTALL_TARGET,
    Field("bin-dir", "string", '`"."`', "where the binaries are, relative to the build tree"),
))  # fmt: skip


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem(
        SYSTEM, hooks=sys.modules[__name__], settings=SETTINGS,
        markers=("Makefile", "makefile", "GNUmakefile"),
        scaffold=(("make-args", [], "extra `make` arguments; CC, AR … are passed for you"),),
        doc="a plain Makefile, with CC, AR … on the command line",
    ))  # fmt: skip


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool | None:
    if ctx.build_dir != ctx.source_dir:  # out-of-tree: make works on a copy of the sources
        shutil.copytree(ctx.source_dir, ctx.build_dir, dirs_exist_ok=True, symlinks=True)
    return True


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool | None:
    # A tool the recipe sets in make-args (`AR={tool:AR} rcu`) is its own: make's last
    # command-line assignment wins, so the toolchain's is not passed after it.
    mine = {a.split("=", 1)[0] for a in args(ctx, "make-args") if "=" in a}
    tools = [f"{t}={ctx.env[t]}" for t in ENV_TOOLS if t in ctx.env and t not in mine]
    ctx.run(make_command(ctx, *tools, f"PREFIX={ctx.prefix}"))
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool | None:
    if ctx.recipe.build.get("install-args") is not None:
        make_install(ctx, f"PREFIX={ctx.prefix}")
        return True
    bin_dir = ctx.build_dir / str(ctx.recipe.build.get("bin-dir", "."))
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    for name in ctx.recipe.binaries:
        for candidate in (bin_dir / f"{name}.wasm", bin_dir / name):
            if candidate.is_file():
                shutil.copy2(candidate, ctx.stage / "bin" / f"{name}.wasm")
                break
        else:
            raise ctx.fail(f"make produced no {name} or {name}.wasm in {bin_dir}")
    return True
