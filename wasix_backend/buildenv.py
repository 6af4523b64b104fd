"""What one package's build sees: its environment, and its phases in order.

A build starts from a clean environment, not the user's shell: the toolchain's variables,
the dependencies' include and library paths, the recipe's own ``[build] env``, fixed
locale, time zone and ``SOURCE_DATE_EPOCH``, a scratch ``HOME`` and ``TMPDIR``, and a
``PATH`` of the toolchain, this Python environment's scripts (PyPI's cmake, ninja …) and the
system's directories. ``CPPFLAGS``, ``CPATH``, ``MAKEFLAGS`` or ``LIBS`` set in a shell
therefore never reach a build unhashed. ``WASIXCC_*`` settings do pass: they are part of the
toolchain's identity, so of every key.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .finalize import finalize_outputs

if TYPE_CHECKING:
    from .context import BuildContext
    from .recipe import Recipe
    from .toolchain import Toolchain

PHASES = ("fetch", "patch", "configure", "compile", "package")
#: Phases where no plugin answering is fine.
OPTIONAL_PHASES = {"patch"}

#: Where host tools (make, a C compiler for the build machine, autotools, tclsh, perl …) are
#: taken from, unless ``$WASIX_HOST_PATH`` names other directories.
DEFAULT_HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: A fixed time for tools that stamp their output (1980-01-01: zip's earliest).
SOURCE_DATE_EPOCH = "315532800"
#: Variables passed from the caller's environment: settings that are in the toolchain's
#: identity (``WASIXCC_*``), and where caches live (caches never change results).
PASSED_PREFIXES = ("WASIXCC_",)
PASSED_CACHES = ("WASIX_CACHE", "WASIX_STORE", "WASIX_TOOLCHAIN_DIR", "ZIG_GLOBAL_CACHE_DIR", "RUSTUP_HOME")


def host_path() -> str:
    """The directories builds take host tools from: this Python's scripts directory (tools
    that come from PyPI), then ``$WASIX_HOST_PATH`` or :data:`DEFAULT_HOST_PATH`."""
    host = os.environ.get("WASIX_HOST_PATH") or DEFAULT_HOST_PATH
    return os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent), *host.split(os.pathsep)]))


def host_which(tool: str) -> str | None:
    """``tool`` as a build finds it (see :func:`host_path`), or None."""
    return shutil.which(tool, path=host_path())


def dependency_env(deps: Mapping[str, Path], base: Mapping[str, str]) -> dict[str, str]:
    """Compiler and pkg-config variables that make dependencies' install trees visible.

    ``PKG_CONFIG_LIBDIR`` (not ``_PATH``) replaces pkg-config's default search path, so a host
    library can never stand in for a missing dependency.
    """
    inc = " ".join(f"-I{p}/include" for p in deps.values())
    lib = " ".join(f"-L{p}/lib" for p in deps.values())
    pc = [str(p / sub / "pkgconfig") for p in deps.values() for sub in ("lib", "share")]
    return {
        "CPPFLAGS": f"{inc} {base.get('CPPFLAGS', '')}".strip(),
        "LDFLAGS": f"{lib} {base.get('LDFLAGS', '')}".strip(),
        "PKG_CONFIG_LIBDIR": ":".join(pc) if pc else "/nonexistent",
        "PKG_CONFIG_PATH": "",
    }


def build_environment(
    toolchain: Toolchain, recipe: Recipe, deps: Mapping[str, Path], work: Path,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:  # fmt: skip
    """The whole environment of ``recipe``'s build commands (see the module's docstring)."""
    from .paths import cache_root, store_dir, zig_cache_dir

    environ = os.environ if environ is None else environ
    home, tmp = work / "home", work / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in environ.items() if k.startswith(PASSED_PREFIXES) or k in PASSED_CACHES}
    # Caches resolved now: with HOME moved, their defaults would move too.
    env.setdefault("WASIX_CACHE", str(cache_root()))
    env.setdefault("WASIX_STORE", str(store_dir()))
    env.setdefault("ZIG_GLOBAL_CACHE_DIR", str(zig_cache_dir()))
    env.setdefault("RUSTUP_HOME", str(Path(environ.get("HOME") or Path.home()) / ".rustup"))
    env.update({
        "PATH": os.pathsep.join([str(toolchain.bin_dir), host_path()]),
        "HOME": str(home), "TMPDIR": str(tmp),
        "LC_ALL": "C", "LANG": "C", "TZ": "UTC", "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    })  # fmt: skip
    env.update(toolchain.env())
    env.update(dependency_env(deps, env))
    env.update({k: str(v) for k, v in recipe.build.get("env", {}).items()})
    return env


def run_phase(ctx: BuildContext, phase: str, call: Callable[[BuildContext, str], None], optimise: bool) -> dict[str, int]:
    """One phase of ``ctx``'s build: a hook phase through ``call``, or ``finalize`` (the
    sizes of the programs it wrote)."""
    if phase == "finalize":
        return finalize_outputs(ctx, optimise=optimise)
    if phase == "configure":
        ctx.build_dir.mkdir(parents=True, exist_ok=True)
    call(ctx, phase)
    return {}
