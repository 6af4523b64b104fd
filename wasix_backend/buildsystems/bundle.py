"""The ``bundle`` build system: one Wasmer package holding programs of other recipes.

A shell is only useful with the programs it runs, and a Wasmer package can hold several
commands that spawn each other by name (or as ``/bin/NAME``). A bundle recipe compiles
nothing: each binary of its ``[outputs] bin`` is copied from the one ``[dependencies] run``
recipe that installed ``bin/NAME.wasm``, and ``[outputs] commands`` may name commands
differently (``sh = "bash"``). The modules are already optimised by their own builds, so the
finalize step does not run ``wasm-opt`` on them again.
"""

from __future__ import annotations

import shutil

from .. import hookimpl
from ..context import BuildContext

SYSTEM = "bundle"


def _ours(ctx: BuildContext) -> bool:
    return ctx.recipe.build_system == SYSTEM


@hookimpl
def configure(ctx: BuildContext) -> bool | None:
    if not _ours(ctx):
        return None
    if not ctx.recipe.run_deps:
        raise ctx.fail("a bundle needs [dependencies] run = [...]: the recipes whose programs it holds")
    return True


@hookimpl
def compile(ctx: BuildContext) -> bool | None:
    return True if _ours(ctx) else None


@hookimpl
def package(ctx: BuildContext) -> bool | None:
    if not _ours(ctx):
        return None
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
