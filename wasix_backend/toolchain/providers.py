"""The toolchain provider: who actually compiles, links and archives for the driver.

The upstream WASIX toolchain: clang + wasm-ld (WASIX's LLVM, or any LLVM >= 19 with wasm32
compiler-rt) and a wasix-libc sysroot, flags as upstream wasixcc passes them. Its parts come
from settings (``SYSROOT``, ``LLVM_LOCATION``, ``BINARYEN_LOCATION``), from installed pins, or
(LLVM only) from the system: a suitable system clang, else ziglang's from PyPI
(:mod:`.zigllvm`). The wasix-libc sysroot is built from source on first use (see
:mod:`.sysroot` and :func:`..choose_provider`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import ToolchainError
from . import compat
from .settings import Settings

TARGET = "wasm32-wasi"
STACK_SIZE = 8 * 1024 * 1024

# Options whose value is the next argument (so that value is not taken for an input file).
_TAKES_VALUE = {
    "-o", "-I", "-L", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter", "-iquote",
    "-isysroot", "-x", "-MF", "-MT", "-MQ", "-Xlinker", "-Xclang", "-Xassembler", "-Xpreprocessor",
    "-target", "--target", "-mllvm", "-arch", "-z", "--sysroot", "-B", "-l", "-u", "-e",
}  # fmt: skip
_NO_LINK = {"-c", "-S", "-E", "-M", "-MM", "-fsyntax-only", "--version", "-dumpmachine", "-dumpversion", "-###"}


@dataclass
class Invocation:
    """A parsed compiler command line."""

    args: list[str]
    cxx: bool
    links: bool
    output: str | None
    has_opt_level: bool


def parse_invocation(args: Sequence[str], *, cxx: bool) -> Invocation:
    """Classify a compiler command line: does it link, where does it write, is ``-O`` given."""
    inputs, output, no_link, has_opt = 0, None, False, False
    it = iter(enumerate(args))
    for i, arg in it:
        if arg in _TAKES_VALUE:
            if arg == "-o" and i + 1 < len(args):
                output = args[i + 1]
            next(it, None)
            continue
        if arg.startswith("-o") and len(arg) > 2 and not arg.startswith("-object"):
            output = arg[2:]
        elif arg in _NO_LINK or arg.startswith("-print-"):
            no_link = True
        elif re.match(r"^-O([0-4sgz]|fast)?$", arg):
            has_opt = True
        elif arg == "-v" and len(args) == 1:
            no_link = True
        elif not arg.startswith("-") or arg == "-":
            inputs += 1
    return Invocation(list(args), cxx, inputs > 0 and not no_link, output, has_opt)


def _installed_component(component: str) -> Path | None:
    """The root of a pinned component installed by ``wasix-build toolchain install``."""
    from .install import status

    try:
        rows = status()
    except ToolchainError:
        return None
    for row in rows:
        if row["name"] == component and row["installed"]:
            path = Path(row["path"])
            # Sysroot archives hold the C library in a sysroot/ sub-directory.
            if component.startswith("sysroot") and (path / "sysroot").is_dir():
                return path / "sysroot"
            return path
    return None


#: Asyncify only what Wasmer unwinds the stack in: fork, setjmp/longjmp (stack checkpoints)
#: and exec after vfork. Instrumenting every import (binaryen's default) makes modules ~25 %
#: larger and slower for nothing; the same list other WASIX builds pass.
ASYNCIFY_IMPORTS = tuple(f"wasix_32v1.{name}" for name in (
    "proc_fork", "stack_checkpoint", "stack_restore", "proc_exec", "proc_exec2", "proc_exec3",
))  # fmt: skip
ASYNCIFY_ARGS = ["--asyncify", f"--pass-arg=asyncify-imports@{','.join(ASYNCIFY_IMPORTS)}"]


class WasixProvider:
    """The upstream WASIX toolchain: clang/wasm-ld and a wasix-libc sysroot. The driver asks it
    for commands; it runs nothing."""

    name = "wasix"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def wasm_opt(self) -> Path | None:
        """``wasm-opt`` from ``BINARYEN_LOCATION``, an installed pin, or ``PATH``; else
        binaryen's C API from PyPI (:mod:`.binaryen`; ``BINARYEN_LOCATION=pypi`` chooses it)."""
        from . import binaryen

        loc = self.settings.binaryen_location
        if loc == binaryen.PYPI:
            return binaryen.program()
        if loc:
            path = Path(loc) / "bin" / "wasm-opt"
            return path if path.is_file() else None
        pinned = _installed_component("binaryen")
        if pinned and (pinned / "bin" / "wasm-opt").is_file():
            return pinned / "bin" / "wasm-opt"
        found = shutil.which("wasm-opt")
        return Path(found) if found else binaryen.program()

    def require(self) -> None:
        problem = self.problem()
        if problem:
            raise ToolchainError(f"wasixcc: the {self.name} provider cannot be used: {problem}")

    @cached_property
    def llvm(self) -> Path | None:
        """The LLVM installation (a directory with ``bin/clang``)."""
        if self.settings.llvm_location:
            from .sysroot import llvm_location

            return llvm_location(self.settings.llvm_location)
        pinned = _installed_component("llvm")
        if pinned is not None:
            return pinned
        from .sysroot import pypi_llvm

        return system_llvm() or pypi_llvm()

    @cached_property
    def sysroot(self) -> Path | None:
        """``SYSROOT``, else an installed prebuilt pin, else the sysroot built into the store."""
        if self.settings.sysroot:
            return Path(self.settings.sysroot)
        pinned = _installed_component(self.settings.sysroot_flavour)
        if pinned is not None or self.settings.sysroot_flavour != "sysroot":
            return pinned
        return _built_sysroot()

    def _bin(self, name: str) -> str:
        self.require()
        assert self.llvm is not None
        return str(self.llvm / "bin" / name)

    def problem(self) -> str | None:
        """Why this provider cannot work here (``None`` when it can)."""
        if self.sysroot is None:
            return (
                f"no wasix-libc sysroot ({self.settings.sysroot_flavour}): build it (wasix-build build wasix-libc), "
                "set WASIXCC_SYSROOT, or install the prebuilt pin (wasix-build toolchain install)"
            )
        if not (self.sysroot / "lib").is_dir():
            return f"{self.sysroot} is not a sysroot (no lib/ inside)"
        if self.llvm is None:
            from .sysroot import no_llvm_reason

            return f"{no_llvm_reason()}; or set WASIXCC_LLVM_LOCATION"
        for tool in ("clang", "wasm-ld"):
            if not (self.llvm / "bin" / tool).exists():
                return f"{self.llvm / 'bin' / tool} does not exist (WASIXCC_LLVM_LOCATION must hold bin/{tool})"
        return None

    def _compile_flags(self) -> list[str]:
        s = self.settings
        flags = [
            f"--target={TARGET}", f"--sysroot={self.sysroot}",
            "-matomics", "-mbulk-memory", "-mmutable-globals", "-pthread", "-mthread-model", "posix",
            "-fno-trapping-math", "-D_WASI_EMULATED_MMAN", "-D_WASI_EMULATED_SIGNAL",
            "-D_WASI_EMULATED_PROCESS_CLOCKS",
        ]  # fmt: skip
        if s.wasm_exceptions:
            flags += ["-fwasm-exceptions", "-mllvm", "-wasm-enable-sjlj"]
        else:
            flags.append("-fno-exceptions")
        flags += ["-fPIC"] if s.pic else ["-ftls-model=local-exec"]
        return flags

    def _link_flags(self) -> list[str]:
        s = self.settings
        wl = [
            "--extra-features=atomics", "--extra-features=bulk-memory", "--extra-features=mutable-globals",
            "--shared-memory", "--max-memory=4294967296", "--import-memory", "--export-dynamic",
            "--export=__wasm_call_ctors", "--export-if-defined=__wasm_init_tls", "--export-if-defined=__tls_size",
            "--export-if-defined=__tls_align", "--export-if-defined=__tls_base",
            "--export-if-defined=__wasm_signal",
        ]  # fmt: skip
        flags = [f"-Wl,{w}" for w in wl]  # one -Wl each: clang splits -Wl values at commas
        if s.module_kind in ("static-main", "dynamic-main"):
            # As upstream wasixcc: the runtime reads these to fork (copy the stack) and to
            # unwind with asyncify; without __stack_pointer fork() ends the program (exit 79).
            flags += [f"-Wl,--export-if-defined={sym}" for sym in ("__stack_pointer", "__heap_base", "__data_end")]
        if s.module_kind == "static-main":
            flags.append(f"-Wl,-z,stack-size={STACK_SIZE}")
        elif s.module_kind == "shared-library":
            flags.append("-shared")
        elif s.module_kind == "dynamic-main":
            flags += ["-Wl,-pie", "-Wl,--experimental-pic"]
        flags += [
            "-lwasi-emulated-getpid", "-lwasi-emulated-mman", "-lwasi-emulated-process-clocks",
            "-lc", "-lresolv", "-lrt", "-lm", "-lpthread", "-lutil",
        ]  # fmt: skip
        return flags

    def compile_command(self, inv: Invocation) -> list[str]:
        """The full command for a compile and/or link."""
        s = self.settings
        cmd = [self._bin("clang++" if inv.cxx else "clang"), *self._compile_flags()]
        cmd += [*s.compiler_flags, *(s.compiler_flags_cxx if inv.cxx else s.compiler_flags_c), *inv.args]
        cmd += s.compiler_post_flags
        if inv.links:
            # -B: clang's own wasm-opt run is skipped (see no_wasm_opt_dir).
            cmd += [f"-B{no_wasm_opt_dir()}", f"-fuse-ld={self._bin('wasm-ld')}", *self._link_flags(), *s.linker_flags]
            if s.module_kind != "shared-library":
                cmd += [*compat.MIRROR_LINK_FLAGS, *compat.TERMINAL_WRAP_FLAGS, *compat.MODES_WRAP_FLAGS]
                cmd.append(str(self.mirror_library()))
        return cmd

    def mirror_library(self) -> Path:
        """The wheel launcher's mirror and terminal steps (``compat/src/mirror.c``,
        ``host_tty.c``) built for wasix-libc."""
        cc = [self._bin("clang"), *self._compile_flags()]
        return compat.ensure_library(cc, [self._bin("llvm-ar")], f"wasix llvm={self.llvm} sysroot={self.sysroot}")

    def tool_command(self, tool: str, args: Sequence[str]) -> list[str]:
        """The command for ``ar``, ``ranlib``, ``nm`` or ``ld``."""
        names = {"ar": "llvm-ar", "ranlib": "llvm-ranlib", "nm": "llvm-nm", "ld": "wasm-ld"}
        if tool not in names:
            raise ToolchainError(f"wasixcc: unknown tool {tool!r}")
        return [self._bin(names[tool]), *args]

    def wasm_opt_args(self) -> list[str] | None:
        """Arguments for wasm-opt after linking, or ``None`` to skip it."""
        s = self.settings
        if s.run_wasm_opt is False or s.module_kind == "object-file":
            return None
        default = [] if s.wasm_opt_suppress_default else (["-O2"] if s.wasm_exceptions else [*ASYNCIFY_ARGS, "-O2"])
        return [*self.wasm_opt_features(), *default, *s.wasm_opt_flags]

    def wasm_opt_features(self) -> list[str]:
        """The ``--enable-*`` flags matching what this provider's modules use."""
        features = ["--enable-threads", "--enable-bulk-memory", "--enable-mutable-globals"]
        if self.settings.wasm_exceptions:
            features.append("--enable-exception-handling")
        return features

    def env(self) -> dict[str, str]:
        """Extra environment for the commands."""
        # Pin the resolved parts for every driver call of a build: no look-up per compile.
        env = {"WASIXCC_SYSROOT": str(self.sysroot)} if self.sysroot else {}
        if self.llvm:
            env["WASIXCC_LLVM_LOCATION"] = str(self.llvm)
        return env

    def describe(self) -> str:
        """Name and versions of every part (changes when a rebuild is due)."""
        from .sysroot import llvm_identity

        llvm = llvm_identity(self.llvm) if self.llvm else "none"
        sysroot = _sysroot_identity(self.sysroot) if self.sysroot else "none"
        opt = " ".join(self.wasm_opt_args() or ["none"])  # the engine's default passes shape every program
        return (f"wasix llvm=[{llvm}] sysroot=[{sysroot}] settings=[{self.settings.fingerprint()}] wasm-opt=[{opt}]; "
                f"mirror {compat.source_key('mirror')}")  # fmt: skip


def no_wasm_opt_dir() -> Path:
    """A directory whose ``wasm-opt`` does nothing, for clang's ``-B``.

    After an optimised link clang runs the first ``wasm-opt`` it finds (-B dirs, then PATH)
    with -O2: ~0.5 s per configure probe, and wasted on real links, where the driver runs
    wasm-opt itself with the passes WASIX needs. ``--no-wasm-opt`` would say so, but clang 19
    then skips the link itself (no output, status 0).
    """
    from ..paths import cache_root

    folder = cache_root() / "toolchain" / "no-wasm-opt"
    stub = folder / "wasm-opt"
    if not stub.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".wasm-opt.{os.getpid()}"
        staged.write_text("#!/bin/sh\n# clang's post-link wasm-opt, disabled by wasixcc: it runs its own.\nexit 0\n")
        staged.chmod(0o755)
        os.replace(staged, stub)
    return folder


def system_llvm() -> Path | None:
    """An LLVM >= 19 installation on this machine with clang, wasm-ld and wasm32 builtins."""
    from .sysroot import system_llvm as find

    return find()


def _built_sysroot() -> Path | None:
    """The wasix-libc sysroot the engine built into the user's store, if it is there."""
    from ..paths import store_dir
    from ..store import Store
    from .sysroot import find_sysroot

    try:
        return find_sysroot(Store(store_dir()))
    except ToolchainError:
        return None


def _sysroot_identity(sysroot: Path) -> str:
    """A store entry is named by its key; any other sysroot is hashed (names, sizes, bytes)."""
    from ..fastpath import watch

    record = sysroot / ".wasix-build.json"
    if record.is_file():
        watch(record)
        return f"store {sysroot.name}"
    watch(*(p for p in sysroot.rglob("*") if p.is_file()))
    return f"content {_tree_hash(sysroot)}"


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:32]


__all__ = [
    "Invocation",
    "WasixProvider",
    "parse_invocation",
    "system_llvm",
]
