"""wasix-libc: run upstream's Makefile with the host clang and install the sysroot.

The steps are those of upstream's ``build32.sh``/``build32-general.sh`` for the plain 32-bit
flavour, minus what needs the git submodules or cargo (regenerating the WASIX headers and
building compiler-rt/libc++: the compiler-rt builtins come with the host's LLVM).
"""

from __future__ import annotations

import shutil

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext
from wasix_backend.errors import WasixError
from wasix_backend.toolchain.sysroot import host_llvm_tools

#: Variables of the wasixcc toolchain that must not reach this build: it compiles the C
#: library itself, with the host clang, and its Makefile reads some of them.
_TOOLCHAIN_VARS = ("CC", "CXX", "CPP", "AR", "RANLIB", "NM", "LD", "CFLAGS", "CXXFLAGS", "CPPFLAGS",
                   "LDFLAGS", "EXTRA_CFLAGS", "SYSROOT", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_PATH")  # fmt: skip


def _make_env(ctx: BuildContext) -> dict[str, str]:
    env = {k: v for k, v in ctx.env.items() if k not in _TOOLCHAIN_VARS and not k.startswith("WASIXCC_")}
    env.update(TARGET_ARCH="wasm32", TARGET_OS="wasix")
    return env


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool:
    # Only the plain flavour (no exceptions; setjmp and fork through asyncify) is built here.
    # Nothing to configure: the Makefile takes everything on its command line.
    return True


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool:
    try:
        tools = host_llvm_tools()
    except WasixError as exc:
        raise ctx.fail(str(exc)) from exc
    args = [
        "make", "-f", "Makefile", f"-j{ctx.jobs}",
        f"CC={tools['clang']}", f"AR={tools['llvm-ar']}", f"NM={tools['llvm-nm']}",
        "PIC=no",
        # The symbol check compares against lists made with upstream's clang; newer clangs
        # predefine a few more macros and fail it although the library is the same.
        "CHECK_SYMBOLS=no",
    ]  # fmt: skip
    # `default` is prepare + finish + post-finish, the targets upstream's script runs.
    env = _make_env(ctx)
    status = _run(ctx, [*args, "default"], env)
    if status != 0:
        raise ctx.fail(f"`make` of wasix-libc exited with status {status} (the compile step; see the log)")
    return True


def _run(ctx: BuildContext, args: list[str], env: dict[str, str]) -> int:
    saved = ctx.env
    ctx.env = env  # ctx.run adds to ctx.env: give it the cleaned one
    try:
        return ctx.run(args, check=False)
    finally:
        ctx.env = saved


@hookimpl
def wasix_package(ctx: BuildContext) -> bool:
    sysroot = ctx.build_dir / "sysroot"
    if not (sysroot / "lib" / "wasm32-wasi" / "libc.a").is_file():
        raise ctx.fail(f"make finished but wrote no {sysroot}/lib/wasm32-wasi/libc.a")
    # As upstream's build32-general.sh: the long-double printf/scanf variant is not shipped.
    (sysroot / "lib" / "wasm32-wasi" / "libc-printscan-long-double.a").unlink(missing_ok=True)
    ctx.stage.parent.mkdir(parents=True, exist_ok=True)
    if ctx.stage.exists():
        shutil.rmtree(ctx.stage)
    shutil.copytree(sysroot, ctx.stage, symlinks=True)
    for name in ("LICENSE", "LICENSE-APACHE", "LICENSE-APACHE-LLVM", "LICENSE-MIT"):
        src = ctx.source_dir / name
        if src.is_file():
            (ctx.stage / "share" / "licenses").mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx.stage / "share" / "licenses" / name)
    return True
