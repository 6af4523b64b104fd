"""bc's libmath.h is made by running fbc, a bc built from the same sources: a WASIX fbc cannot
run on the build machine, so a native one is built with the build machine's compiler."""

from __future__ import annotations

import shutil
from collections.abc import Generator
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext
from wasix_backend.recipe import Recipe, load_recipe

HERE = Path(__file__).resolve().parent


@hookimpl
def wasix_recipes() -> list[Recipe]:
    return [load_recipe(HERE / "recipe.toml", plugin="bc")]


@hookimpl(wrapper=True)
def wasix_configure(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # the WASIX configure first
    host = ctx.build_dir / "host-fbc"
    shutil.copytree(ctx.source_dir, host, symlinks=True)
    # The build machine's compiler, none of the WASIX flags.
    env = {"CC": ctx.toolchain.build_cc, "CFLAGS": "-O2", "CPPFLAGS": "", "LDFLAGS": "", "LIBS": "", "CONFIG_SITE": "/dev/null"}
    ctx.run(["./configure", "--without-readline", "--without-libedit"], cwd=host, env=env)
    ctx.run(["make", "-C", "lib"], cwd=host, env=env)
    ctx.run(["make", "-C", "bc", "libmath.h"], cwd=host, env=env)
    (ctx.build_dir / "bc").mkdir(exist_ok=True)
    shutil.copy2(host / "bc" / "libmath.h", ctx.build_dir / "bc" / "libmath.h")
    # ...and make must never remake it with the WASIX fbc: the rule loses its prerequisites.
    makefile = ctx.build_dir / "bc" / "Makefile"
    rule = "libmath.h: libmath.b $(fbcOBJ) $(LIBBC)"
    text = makefile.read_text()
    if rule not in text:
        raise ctx.fail(f"bc/Makefile has no rule {rule!r} to replace: update plugins/bc/plugin.py")
    makefile.write_text(text.replace(rule, "libmath.h:"))
    return result
