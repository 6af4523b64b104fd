"""The ``autotools`` build system: ``configure``, ``make``, ``make install DESTDIR=``.

Recipe ``[build]`` keys: ``configure-args`` (list; placeholders such as ``{prefix}`` and
``{dep:NAME}`` are filled in, see :meth:`BuildContext.expand`), ``host`` (default: the
toolchain's triple; old ``config.sub`` files may need the bare ``wasm32``),
``configure-script`` (default ``configure``), ``make-args``, ``install-args``,
``install-target`` (default ``install``), ``in-tree`` (bool), ``env`` (table),
``autoreconf`` (bool: regenerate ``configure`` first), ``configure-cache`` (bool, default
true: share the toolchain's configure answers with other packages, see :mod:`.confcache`).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from .. import hookimpl, hosttools
from ..context import BuildContext
from ..registry import BuildSystem, Registry
from ..schema import Field, Section
from . import confcache

SYSTEM = "autotools"

MAKE_ARGS = Field("make-args", "list of strings", "`[]`", "extra `make` arguments (placeholders filled in)")
INSTALL_TARGET = Field("install-target", "string", '`"install"`', "the install target")
SETTINGS = Section("build (autotools)", (
    Field("configure-args", "list of strings", "`[]`", "arguments after `--host` and `--prefix` (placeholders filled in)"),
    Field("host", "string", "the toolchain's triple, `wasm32-wasi`", "the `--host` triple; old `config.sub` files may need the bare `wasm32`"),
    Field("configure-script", "string", '`"configure"`', "the script, relative to the sources"),
    Field("autoreconf", "bool", "`false`", "run `autoreconf -fi` first (also done when there is no configure script)"),
    Field("configure-cache", "bool", "`true`", "share the toolchain's `configure` answers with other packages "
          "(`false`: this package asks every question itself; `$WASIX_CONFIGURE_CACHE=off` does so for all)"),
    MAKE_ARGS,
    Field("install-args", "list of strings", "`[]`", "extra `make install` arguments (placeholders filled in)"),
    INSTALL_TARGET,
))  # fmt: skip


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem(
        SYSTEM, hooks=sys.modules[__name__], settings=SETTINGS,
        markers=("configure", "configure.ac", "configure.in"),
        scaffold=(("configure-args", [], 'e.g. ["--disable-nls"]; --host and --prefix are set for you'),),
        doc="`./configure --host --prefix`, `make`, `make install DESTDIR=`",
    ))  # fmt: skip


def args(ctx: BuildContext, key: str) -> list[str]:
    """A list setting of ``[build]`` with placeholders filled in."""
    return [ctx.expand(str(a)) for a in ctx.recipe.build.get(key, [])]


def make_command(ctx: BuildContext, *extra: str) -> list[str]:
    return ["make", f"-j{ctx.jobs}", *args(ctx, "make-args"), *extra]


def make_install(ctx: BuildContext, *extra: str) -> None:
    target = str(ctx.recipe.build.get("install-target", "install"))
    ctx.run(["make", target, f"DESTDIR={ctx.destdir}", *extra, *args(ctx, "install-args")])


def autoreconf_tools(source_dir: Path) -> list[str]:
    """The programs ``autoreconf -fi`` needs for these sources: autoconf's and automake's,
    libtoolize when configure.ac uses libtool, autopoint when it uses gettext (autoreconf
    runs it for ``AM_GNU_GETTEXT_VERSION``; it brings gettext's macros itself)."""
    needed = ["autoreconf", "autoconf", "automake"]
    for name in ("configure.ac", "configure.in"):
        script = source_dir / name
        if not script.exists():
            continue
        text = script.read_text(errors="replace")
        if re.search(r"\b(LT_INIT|AC_PROG_LIBTOOL|AM_PROG_LIBTOOL)\b", text):
            needed.append("libtoolize")
        if re.search(r"\bAM_GNU_GETTEXT_VERSION\b", text):
            needed.append("autopoint")
    return needed


def autoreconf_missing(source_dir: Path, path: str | None) -> str | None:
    """The first program ``autoreconf -fi`` needs for these sources that ``path`` lacks
    (see :func:`autoreconf_tools`), or ``None``."""
    return next(iter(hosttools.missing(autoreconf_tools(source_dir), path)), None)


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool | None:
    build = ctx.recipe.build
    script = ctx.source_dir / str(build.get("configure-script", "configure"))
    if build.get("autoreconf") or not script.exists():
        if not (ctx.source_dir / "configure.ac").exists() and not (ctx.source_dir / "configure.in").exists():
            raise ctx.fail(f"no {script.name} script and no configure.ac in the sources: is `build.system` right?")
        hosttools.require(
            ctx.recipe.name, autoreconf_tools(ctx.source_dir), ctx.env.get("PATH"),
            why="regenerating configure (autoreconf)",
        )  # fmt: skip
        ctx.run(["autoreconf", "-fi"], cwd=ctx.source_dir)
    extra = args(ctx, "configure-args")
    command = [_relative(script, ctx.build_dir), f"--host={build.get('host', ctx.toolchain.host)}", f"--prefix={ctx.prefix}", *extra]
    # configure links hundreds of throw-away programs: no wasm-opt for those.
    env = {"WASIXCC_RUN_WASM_OPT": "no"}
    compiler = confcache.compiler_snapshot(confcache.compiler_files(ctx.env, extra))
    if not (build.get("configure-cache", True) and confcache.enabled() and _is_autoconf(script)):
        return _configure_alone(ctx, command, compiler, extra, env)
    given = confcache.given_answers({**ctx.env, **env}, extra)
    if given:
        ctx.log.info("configure cache not used: this configure is given %s", ", ".join(given))
        return _configure_alone(ctx, command, compiler, extra, env)
    cache = confcache.for_build(ctx, extra)
    provided = confcache.provided_by(ctx.deps, str(ctx.toolchain.tool("wasixnm")), ctx.env)
    cache_file = ctx.build_dir / "config.cache"
    seeded = cache.seed(cache_file, provided)
    ctx.log.info("configure cache %s: %d shared answers", cache.path, seeded)
    status = ctx.run([*command, f"--cache-file={cache_file}"], env=env, check=not seeded)
    if status != 0:
        # Perhaps a shared answer does not hold for this package: once more, asking everything.
        ctx.log.warning("configure failed with %d shared answers; running it again without them", seeded)
        cache_file.unlink(missing_ok=True)
        return _configure_alone(ctx, command, compiler, extra, env)
    # Before anything is merged: answers asked of a vanished compiler would poison every build.
    _check_compiler(ctx, compiler, extra, env)
    sites = confcache.site_scripts(ctx.build_dir / "config.log")
    if sites:
        ctx.log.warning("configure loaded %s, which may set any answer: running it again without shared answers", ", ".join(sites))
        cache_file.unlink(missing_ok=True)
        return _configure_alone(ctx, command, compiler, extra, env)
    private = [str(p) for p in (ctx.source_dir, ctx.build_dir, ctx.prefix, ctx.destdir)]
    added = cache.merge(confcache.parse_cache_file(cache_file), provided, private + provided.paths)
    ctx.log.info("configure cache: %d new shared answers", added)
    return True


def _configure_alone(ctx: BuildContext, command: list[str], compiler: dict[str, str | None], extra: list[str], env: dict[str, str]) -> bool:
    """Run configure without shared answers, sharing none of its own."""
    ctx.run(command, env=env)
    _check_compiler(ctx, compiler, extra, env)
    return True


def _relative(script: Path, cwd: Path) -> str:
    """``script`` as configure is called from ``cwd``: relative, so ``srcdir`` is, and with it
    every ``__FILE__`` (assert messages): no staging directory's name ends up in a module,
    and one key builds the same bytes in any store."""
    rel = os.path.relpath(script, cwd)
    return rel if os.sep in rel else f".{os.sep}{rel}"


def _check_compiler(ctx: BuildContext, before: dict[str, str | None], extra: list[str], env: dict[str, str]) -> None:
    """Fail the configure (sharing none of its answers) when its compiler vanished, was
    replaced or no longer compiles: the checks it made meanwhile answered "no" whatever the
    toolchain has, and config.h would say so too."""
    trouble = confcache.compiler_trouble(before, ctx.build_dir / "config.log")
    if trouble is None:
        probe = ctx.build_dir / "wasix-compiler-check.c"
        probe.write_text("#include <stdio.h>\nint main(void) { return puts(\"\") == EOF; }\n")
        cc = confcache.compiler_command(ctx.env, extra)
        status = ctx.run([*cc, "-o", str(probe.with_suffix(".out")), str(probe)], env=env, check=False)
        probe.unlink()
        probe.with_suffix(".out").unlink(missing_ok=True)
        if status != 0:
            trouble = f"the compiler no longer builds a trivial program after configure (status {status})"
    if trouble:
        raise ctx.fail(f"configure's answers cannot be trusted, none shared: {trouble}; build again once the toolchain is complete")


def _is_autoconf(script: Path) -> bool:
    """A configure script made by autoconf (only those take ``--cache-file``): GNU's, or
    Thomas Dickey's 2.52 line (ncurses, lynx …), which writes the same cache format."""
    try:
        with script.open("rb") as fh:
            return re.search(rb"Generated by (GNU )?Autoconf", fh.read(4096)) is not None
    except OSError:
        return False


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool | None:
    ctx.run(make_command(ctx))
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool | None:
    make_install(ctx)
    return True
