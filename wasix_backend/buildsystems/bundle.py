"""The ``bundle`` build system: one Wasmer package holding programs of other recipes.

A shell is only useful with the programs it runs, and a Wasmer package can hold several
commands that spawn each other by name (or as ``/bin/NAME``). A bundle recipe compiles
nothing: each binary of its ``[outputs] bin`` is copied from the one ``[dependencies] run``
recipe that installed ``bin/NAME.wasm``, and ``[outputs] commands`` may name commands
differently (``sh = "bash"``). The modules are already optimised by their own builds, so the
system registers with ``optimise=False``: finalize does not run ``wasm-opt`` on them again.
"""

from __future__ import annotations

import shutil
import sys

from .. import hookimpl
from ..context import BuildContext
from ..registry import BuildSystem, Registry

SYSTEM = "bundle"


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem(
        SYSTEM, hooks=sys.modules[__name__], c_toolchain=False, optimise=False, uses_run_deps=True,
        doc="one Wasmer package of other recipes' programs ([dependencies] run); compiles nothing",
    ))  # fmt: skip


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool | None:
    if not ctx.recipe.run_deps:
        raise ctx.fail("a bundle needs [dependencies] run = [...]: the recipes whose programs it holds")
    return True


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool | None:
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool | None:
    members = [dep.name for dep in ctx.recipe.run_deps]
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    for name in ctx.recipe.binaries:
        holders = [dep for dep in members if (ctx.deps[dep] / "bin" / f"{name}.wasm").is_file()]
        if not holders:
            raise ctx.fail(f"no run dependency installs bin/{name}.wasm (looked in {', '.join(members)}): "
                           "add the recipe that builds it to [dependencies] run")  # fmt: skip
        if len(holders) > 1:
            raise ctx.fail(f"bin/{name}.wasm is installed by {' and '.join(holders)}: keep one of them in [dependencies] run")
        shutil.copy2(ctx.deps[holders[0]] / "bin" / f"{name}.wasm", ctx.stage / "bin" / f"{name}.wasm")
        ctx.log.info("%s.wasm from %s", name, holders[0])
    return True
