"""bc's libmath.h is made by running fbc, a bc built from the same sources: a WASIX fbc cannot
run on the build machine, so a native one is built with the build machine's compiler.

bc's own rule then turns fbc's output into a C initializer with ``ed`` (``fix-libmath_h``);
:func:`c_initializer` does the same in Python, so bc needs no ``ed`` (not in a minimal Debian,
not on PyPI)."""

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
    # The rule runs $(srcdir)/fix-libmath_h after fbc: a no-op here, its edit is made below.
    fix = host / "bc" / "fix-libmath_h"
    fix.unlink()
    fix.write_text("#!/bin/sh\n:\n")
    fix.chmod(0o755)
    ctx.run(["make", "-C", "bc", "libmath.h"], cwd=host, env=env)
    compiled = (host / "bc" / "libmath.h").read_text()
    try:
        initializer = c_initializer(compiled)
    except ValueError as exc:
        raise ctx.fail(f"fbc's output for libmath.h: {exc}") from None
    (ctx.build_dir / "bc").mkdir(exist_ok=True)
    (ctx.build_dir / "bc" / "libmath.h").write_text(initializer)
    # ...and make must never remake it with the WASIX fbc: the rule loses its prerequisites.
    makefile = ctx.build_dir / "bc" / "Makefile"
    rule = "libmath.h: libmath.b $(fbcOBJ) $(LIBBC)"
    text = makefile.read_text()
    if rule not in text:
        raise ctx.fail(f"bc/Makefile has no rule {rule!r} to replace: update plugins/bc/plugin.py")
    makefile.write_text(text.replace(rule, "libmath.h:"))
    return result


def c_initializer(compiled: str) -> str:
    """fbc's bytecode listing as bc's ``fix-libmath_h`` leaves it: every line quoted and
    followed by a comma, the first opening ``{``, the last line (fbc's closing ``@i``) dropped
    and the array closed with ``0}``."""
    lines = compiled.splitlines()
    if len(lines) < 2:
        raise ValueError(f"{len(lines)} line(s), expected the library's code and a closing line")
    quoted = [f'"{line}",' for line in lines[:-1]]
    quoted[0] = "{" + quoted[0]
    quoted[-1] += "0}"
    return "\n".join(quoted) + "\n"
