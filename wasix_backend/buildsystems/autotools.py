"""The ``autotools`` build system: ``configure``, ``make``, ``make install DESTDIR=``.

Recipe ``[build]`` keys: ``configure-args`` (list), ``host`` (default ``wasm32-wasix``),
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


def make_command(ctx: BuildContext, *extra: str) -> list[str]:
    return ["make", f"-j{ctx.jobs}", *map(str, ctx.recipe.build.get("make-args", [])), *extra]


def make_install(ctx: BuildContext) -> None:
    target = str(ctx.recipe.build.get("install-target", "install"))
    ctx.run(["make", target, f"DESTDIR={ctx.destdir}", *map(str, ctx.recipe.build.get("install-args", []))])


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
    args = [
        str(script),
        f"--host={build.get('host', 'wasm32-wasix')}",
        f"--prefix={ctx.prefix}",
        *map(str, build.get("configure-args", [])),
    ]
    ctx.run(args)
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
