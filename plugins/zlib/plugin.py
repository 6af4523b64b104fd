"""zlib: its own ./configure (not autoconf: no --host; the compiler comes from $CC)."""

from __future__ import annotations

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool:
    args = [ctx.expand(a) for a in ctx.recipe.build.get("configure-args", [])]
    ctx.run(["./configure", f"--prefix={ctx.prefix}", *args], cwd=ctx.source_dir)
    return True
