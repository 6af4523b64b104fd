"""The ``autotools`` build system: ``configure``, ``make``, ``make install DESTDIR=``.

Recipe ``[build]`` keys: ``configure-args`` (list; placeholders such as ``{prefix}`` and
``{dep:NAME}`` are filled in, see :meth:`BuildContext.expand`), ``host`` (default: the
toolchain's triple; old ``config.sub`` files may need the bare ``wasm32``),
``configure-script`` (default ``configure``), ``make-args``, ``install-args``,
``install-target`` (default ``install``), ``in-tree`` (bool), ``env`` (table),
``autoreconf`` (bool: regenerate ``configure`` first).
"""

from __future__ import annotations

from .. import hookimpl
from ..context import BuildContext

SYSTEM = "autotools"


def _ours(ctx: BuildContext) -> bool:
    return ctx.recipe.build_system == SYSTEM


def args(ctx: BuildContext, key: str) -> list[str]:
    """A list setting of ``[build]`` with placeholders filled in."""
    return [ctx.expand(str(a)) for a in ctx.recipe.build.get(key, [])]


def make_command(ctx: BuildContext, *extra: str) -> list[str]:
    return ["make", f"-j{ctx.jobs}", *args(ctx, "make-args"), *extra]


def make_install(ctx: BuildContext, *extra: str) -> None:
    target = str(ctx.recipe.build.get("install-target", "install"))
    ctx.run(["make", target, f"DESTDIR={ctx.destdir}", *extra, *args(ctx, "install-args")])


@hookimpl
def configure(ctx: BuildContext) -> bool | None:
    if not _ours(ctx):
        return None
    build = ctx.recipe.build
    script = ctx.source_dir / str(build.get("configure-script", "configure"))
    if build.get("autoreconf") or not script.exists():
        if not (ctx.source_dir / "configure.ac").exists() and not (ctx.source_dir / "configure.in").exists():
            raise ctx.fail(f"no {script.name} script and no configure.ac in the sources: is `build.system` right?")
        ctx.run(["autoreconf", "-fi"], cwd=ctx.source_dir)
    command = [
        str(script),
        f"--host={build.get('host', ctx.toolchain.host)}",
        f"--prefix={ctx.prefix}",
        *args(ctx, "configure-args"),
    ]
    # configure links hundreds of throw-away programs: no wasm-opt for those.
    ctx.run(command, env={"WASIXCC_RUN_WASM_OPT": "no"})
    return True


@hookimpl
def compile(ctx: BuildContext) -> bool | None:
    if not _ours(ctx):
        return None
    ctx.run(make_command(ctx))
    return True


@hookimpl
def package(ctx: BuildContext) -> bool | None:
    if not _ours(ctx):
        return None
    make_install(ctx)
    return True
