"""After the ``package`` phase: put outputs in their final shape and check them.

Whatever build system ran, a program's binaries end as ``bin/NAME.wasm``, optimised for size
by ``wasm-opt`` when the toolchain has it, and every declared output must exist — so a store
entry never claims something it does not hold.
"""

from __future__ import annotations

import os
from pathlib import Path

from .context import BuildContext

WASM_MAGIC = b"\0asm"


def is_wasm(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == WASM_MAGIC


def finalize_outputs(ctx: BuildContext, *, optimise: bool = True) -> dict[str, int]:
    """Rename, optimise (unless ``optimise`` is false: the build system's modules come ready)
    and verify declared outputs in ``ctx.stage``; return binary sizes."""
    stage, recipe = ctx.stage, ctx.recipe
    sizes: dict[str, int] = {}
    for name in recipe.binaries:
        target = stage / "bin" / f"{name}.wasm"
        plain = stage / "bin" / name
        if not target.exists() and plain.is_file():
            os.replace(plain, target)
        if not target.is_file():
            raise ctx.fail(f"declared binary {name!r} was not installed as bin/{name}.wasm (nor bin/{name})")
        if not is_wasm(target):
            raise ctx.fail(f"bin/{name}.wasm is not a WebAssembly module (a host binary leaked in?)")
        if optimise and ctx.toolchain.wasm_opt and recipe.build.get("wasm-opt", True):
            _wasm_opt(ctx, target)
        sizes[name] = target.stat().st_size
        ctx.log.info("%s: %d bytes", target.name, sizes[name])
    for lib in recipe.libraries:
        if not (stage / "lib" / lib).is_file():
            raise ctx.fail(f"declared library lib/{lib} was not installed")
    for header in recipe.headers:
        if not (stage / "include" / header).is_file():
            raise ctx.fail(f"declared header include/{header} was not installed")
    return sizes


def _wasm_opt(ctx: BuildContext, module: Path) -> None:
    flags = [*ctx.toolchain.wasm_opt_features, *(str(f) for f in ctx.recipe.build.get("wasm-opt-flags", ["-Os", "--strip-debug"]))]
    out = module.with_suffix(".opt.wasm")
    status = ctx.run([str(ctx.toolchain.wasm_opt), *flags, str(module), "-o", str(out)], check=False)
    if status == 0 and out.is_file() and is_wasm(out):
        os.replace(out, module)
    else:  # optimisation is optional; the unoptimised module is correct
        out.unlink(missing_ok=True)
        ctx.log.warning("wasm-opt failed on %s (status %s); keeping the unoptimised module", module.name, status)
