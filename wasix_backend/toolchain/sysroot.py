"""The wasix-libc sysroot, built from its pinned source by the engine (``plugins/wasix-libc``).

The ``wasix`` provider needs a host LLVM (clang >= 19, wasm-ld, llvm-ar/nm and the wasm32
compiler-rt builtins) and a wasix-libc sysroot. This module finds the LLVM, names it in store
keys, and builds the sysroot as a store entry on first use (:func:`ensure_sysroot`), so it is
cached, listed and logged like any package, and an interrupted build is never taken as done.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ToolchainError

if TYPE_CHECKING:
    from rich.console import Console

    from ..plugins import LoadedPlugins
    from ..store import Store

RECIPE = "wasix-libc"
MIN_LLVM = 19
#: What to install on Debian/Ubuntu for a suitable host LLVM.
INSTALL_HINT = f"apt-get install clang-{MIN_LLVM} lld-{MIN_LLVM} llvm-{MIN_LLVM} libclang-rt-{MIN_LLVM}-dev-wasm32"
_TOOLS = ("clang", "wasm-ld", "llvm-ar", "llvm-nm", "llvm-ranlib")


def _version_of(clang: Path) -> int | None:
    from .versioncache import tool_version

    match = re.search(r"clang version (\d+)", tool_version(clang))
    return int(match.group(1)) if match else None


def _builtins(root: Path) -> list[Path]:
    return sorted((root / "lib" / "clang").glob("*/lib/wasi/libclang_rt.builtins-wasm32.a"))


def llvm_problem(root: Path) -> str | None:
    """Why the LLVM at ``root`` cannot build for WASIX (``None`` when it can)."""
    missing = [t for t in _TOOLS if not (root / "bin" / t).exists()]
    if missing:
        return f"{root}/bin lacks {', '.join(missing)} (install: {INSTALL_HINT})"
    version = _version_of(root / "bin" / "clang")
    if version is None or version < MIN_LLVM:
        found = f"clang {version}" if version else "a clang of unknown version"
        return f"{root} has {found}; wasix-libc needs clang >= {MIN_LLVM} (install: {INSTALL_HINT})"
    if not _builtins(root):
        return (f"clang {version} at {root} has no wasm32 compiler-rt builtins "
                f"(libclang_rt.builtins-wasm32.a; install: apt-get install libclang-rt-{version}-dev-wasm32)")  # fmt: skip
    return None


def system_llvm() -> Path | None:
    """A suitable LLVM on this machine (``clang-N`` on PATH, newest first), or ``None``."""
    for root in _system_candidates():
        if llvm_problem(root) is None:
            return root
    return None


def _system_candidates() -> list[Path]:
    roots: list[Path] = []
    for name in [*(f"clang-{v}" for v in range(30, 13, -1)), "clang"]:
        found = shutil.which(name)
        if found:
            root = Path(os.path.realpath(found)).parent.parent
            if root not in roots:
                roots.append(root)
    return roots


def no_llvm_reason() -> str:
    """Why no suitable host LLVM was found, naming what was found and what to install."""
    problems = [p for root in _system_candidates() if (p := llvm_problem(root))]
    if problems:
        return "; ".join(problems)
    return f"no clang >= {MIN_LLVM} with wasm-ld found (install: {INSTALL_HINT})"


def llvm_location(value: str) -> Path:
    """The LLVM directory a ``WASIXCC_LLVM_LOCATION`` value names (``zig``: ziglang's, made on
    first use by :mod:`.zigllvm`)."""
    from .zigllvm import ZIG, zig_llvm

    return zig_llvm() if value == ZIG else Path(value)


def host_llvm() -> Path:
    """The LLVM to build with: ``$WASIXCC_LLVM_LOCATION``, else :func:`system_llvm`."""
    value = os.environ.get("WASIXCC_LLVM_LOCATION")
    if value:
        loc = llvm_location(value)
        problem = llvm_problem(loc)
        if problem:
            raise ToolchainError(f"WASIXCC_LLVM_LOCATION: {problem}")
        return loc
    root = system_llvm() or pypi_llvm()
    if root is None:
        raise ToolchainError(f"wasix-libc: {no_llvm_reason()}")
    return root


def pypi_llvm() -> Path | None:
    """The LLVM made of PyPI's ``ziglang`` (see :mod:`.zigllvm`), where no system one is
    suitable: the route that needs nothing but Python packages. ``None`` without ziglang."""
    from .zigllvm import available, zig_llvm

    if not available():
        return None
    try:
        return zig_llvm()
    except ToolchainError:  # zig cannot build compiler-rt here: as if it were not installed
        return None


def host_llvm_tools() -> dict[str, Path]:
    """Paths of clang, wasm-ld, llvm-ar, llvm-nm, llvm-ranlib of :func:`host_llvm`."""
    root = host_llvm()
    return {t: root / "bin" / t for t in _TOOLS}


@functools.cache
def _identity(root: Path, stamp: tuple[tuple[int, int], ...]) -> str:
    from ..fastpath import watch
    from .versioncache import tool_digest, tool_version

    out = tool_version(root / "bin" / "clang")
    version = out.splitlines()[0] if out and out != "unusable" else "unknown clang"
    # Every program a build runs, by content: a replaced wasm-ld or llvm-ar is another toolchain.
    tools = " ".join(f"{t}={tool_digest(root / 'bin' / t)[:16]}" for t in _TOOLS)
    h = hashlib.sha256()
    for lib in _builtins(root):
        watch(lib)
        h.update(lib.read_bytes())
    from .zigllvm import zig_identity

    # The zig LLVM's tools are scripts naming the zig program: name zig by its own bytes too.
    zig = zig_identity(root)
    return f"{version}; {tools}; compiler-rt {h.hexdigest()[:16]}{f'; {zig}' if zig else ''}"


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = Path(os.path.realpath(path)).stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


def llvm_identity(root: Path) -> str:
    """Version of the clang at ``root`` and hashes of its tools and wasm32 builtins (for
    store keys)."""
    return _identity(root, tuple(_stamp(root / "bin" / t) for t in _TOOLS))


def host_identity() -> str:
    """The store-key identity of the sysroot's own compiler. Without a suitable LLVM the
    key still exists (planning ``build --all`` must not fail); the build then stops at its
    compile step, naming what to install."""
    try:
        return f"host-llvm {llvm_identity(host_llvm())}"
    except ToolchainError as exc:
        return f"host-llvm unavailable: {exc}"


@functools.cache
def _builtin_plugins() -> LoadedPlugins:
    """The built-in plugins, loaded once per process (the sysroot is looked up several times
    while a toolchain is chosen; entry points cannot replace the built-in recipe)."""
    from ..plugins import load_plugins

    return load_plugins([], entry_points=False)


def _engine(store: Store, console: Console | None):
    from ..engine import Engine
    from . import Toolchain, driver_bin_dir

    loaded = _builtin_plugins()
    if RECIPE not in loaded.recipes:
        raise ToolchainError(f"no {RECIPE} recipe found (the project's plugins/{RECIPE} folder is missing)")
    # The sysroot's "toolchain" is the host LLVM itself; its env is cleaned by the plugin.
    tc = Toolchain(provider="host-llvm", driver_dir=driver_bin_dir(), description=host_identity(), wasm_opt=None)
    return Engine(loaded, store, tc, console=console)


def find_sysroot(store: Store) -> Path | None:
    """The built sysroot in ``store``, without building it (``None`` when absent)."""
    engine = _engine(store, None)
    _, keys, problems = engine.plan([RECIPE])
    if RECIPE in problems:
        raise problems[RECIPE]
    return store.lookup(engine.plugins.recipes[RECIPE], keys[RECIPE])


def ensure_sysroot(store: Store | None = None, console: Console | None = None) -> Path:
    """The wasix-libc sysroot in ``store`` (default: the user's store), built on first use.

    Raises :class:`~wasix_backend.errors.ToolchainError` (no suitable LLVM, no recipe) or the
    engine's :class:`~wasix_backend.errors.BuildError` naming the failing step and its log.
    """
    from rich.console import Console

    from ..paths import store_dir
    from ..store import Store

    store = store or Store(store_dir())
    console = console or Console(stderr=True, highlight=False)
    engine = _engine(store, console)
    _, keys, problems = engine.plan([RECIPE])
    if RECIPE in problems:
        raise problems[RECIPE]
    recipe = engine.plugins.recipes[RECIPE]
    hit = store.lookup(recipe, keys[RECIPE])
    if hit is not None:
        return hit
    console.print(f"wasix: building the {RECIPE} sysroot from its pinned source (first use; a few minutes) …")
    done, failed = engine.build([RECIPE])
    if failed:
        raise failed[0].error
    return done[RECIPE].path
