"""Rust programs linked against the wasix provider's wasix-libc instead of Rust's own wasi-libc.

A ``wasm32-wasi``/``wasm32-wasip1`` standard library does its C-level work through the C
library it is linked with: relative paths go through ``__wasilibc_find_relpath``, the working
directory through ``getcwd``/``chdir``, the environment through ``environ``/``getenv``. Rust's
self-contained copy of wasi-libc (``lib/rustlib/<target>/lib/self-contained``) targets plain
WASI: its working directory is ``/`` whatever directory the runtime started the program in,
so a relative path named files under ``/`` unless the program followed ``$PWD`` itself.
Linked against wasix-libc the same standard library gets WASIX's real working directory
(``wasix_32v1.getcwd``/``chdir``), as C programs do, and the C parts the launcher relies on
(the mirror step: host paths at their place, ``isatty`` answering for the host's streams).

How (checked with Debian's rustc 1.63, whose LLVM is 14):

* ``-C link-self-contained=no``: no Rust ``crt1-command.o``/``libc.a``; wasix-libc's
  ``crt1-command.o`` and ``-L <sysroot>/lib/wasm32-wasi`` instead. The linker stays rustc's
  ``rust-lld``: newer ``wasm-ld`` releases refuse rlibs whose ``lib.rmeta`` member is not a
  wasm object (Rust before ~1.70 writes it raw).
* the link options C programs get (shared imported memory up to 4 GiB, 8 MiB stack, the
  exports the runtime reads for TLS, signals and fork), plus ``--no-check-features``: a
  standard library built without atomics marks its objects as not allowing shared memory.
  Single-threaded that is harmless (std's atomics became plain loads and stores, its thread
  locals plain statics); ``std::thread::spawn`` is unsupported on this target anyway.
* compiler-rt's builtins (wasix-libc's printf needs ``long double`` helpers Rust's
  ``compiler_builtins`` lacks; rustc passes ``--allow-undefined``, so a missing one would be a
  runtime import error, which :func:`undefined_imports` catches at build time instead).
* LLVM before 15 names a ``main`` without arguments ``__original_main``; wasix-libc's crt1
  calls ``__main_void``. A two-line C object bridges them (newer LLVM emits ``__main_void``).
* afterwards the post-link ``wasm-opt`` pass of C programs (asyncify for fork and setjmp),
  where the program imports such a call (:func:`needs_asyncify`): ripgrep is 2.4 MB linked
  against Rust's wasi-libc, 3.7 MB asyncified, and uses none.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The import module a symbol nobody defined turns into under rustc's ``--allow-undefined``.
UNDEFINED_MODULE = "env"
#: ``env`` imports that are meant: the shared memory every WASIX module imports.
EXPECTED_ENV_IMPORTS = frozenset({"memory"})
#: Rust compilers whose LLVM names ``fn main()`` ``__original_main`` need :data:`START_SHIM`.
MAIN_VOID_SINCE_LLVM = 15
START_SHIM = """\
/* wasix-libc's crt1 calls __main_void; rustc's LLVM < 15 names the argument-less main
 * __original_main (Rust's std reads its arguments through WASI calls itself). */
int __original_main(void);
int __main_void(void) { return __original_main(); }
"""
#: As the wasix provider links C executables (toolchain/providers.py), in wasm-ld's own syntax.
LINK_ARGS = (
    "--shared-memory", "--max-memory=4294967296", "--import-memory",
    "--export=__wasm_call_ctors", "--export-if-defined=__wasm_init_tls", "--export-if-defined=__tls_size",
    "--export-if-defined=__tls_align", "--export-if-defined=__tls_base", "--export-if-defined=__wasm_signal",
    "--export-if-defined=__stack_pointer", "--export-if-defined=__heap_base", "--export-if-defined=__data_end",
    "-zstack-size=8388608",
    # Rust's std for wasm32-wasi is built without atomics (see the module docstring).
    "--no-check-features",
)  # fmt: skip
#: The C libraries C programs link, in case C code of a crate needs them (archives: only
#: what is used is taken).
LIBS = (
    "wasi-emulated-getpid", "wasi-emulated-mman", "wasi-emulated-process-clocks",
    "c", "resolv", "rt", "m", "pthread", "util",
)  # fmt: skip
#: The launcher recognises programs carrying its mirror step by this export (compat/src/mirror.c).
MIRROR_SYMBOL = "__wasix_mirror_v1"


def llvm_major(verbose_version: str) -> int | None:
    """The LLVM major version of a ``rustc -vV`` output."""
    match = re.search(r"^LLVM version:\s*(\d+)", verbose_version, re.MULTILINE)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class WasixLibcLink:
    """What links one cargo build's programs against wasix-libc."""

    #: ``<sysroot>/lib/wasm32-wasi``.
    lib_dir: Path
    #: compiler-rt's builtins for wasm32 (``clang -print-libgcc-file-name``).
    builtins: Path
    #: The launcher's mirror step, built for wasix-libc.
    mirror: Path
    #: The ``__main_void`` bridge object, for rustc with LLVM < 15.
    start: Path | None = None

    def rustflags(self) -> list[str]:
        """rustc options (for ``RUSTFLAGS``: programs only, never build scripts, with ``--target``)."""
        args = [str(self.lib_dir / "crt1-command.o")]
        if self.start is not None:
            args.append(str(self.start))
        # -u: take the mirror step out of its archive; --export: the launcher looks for it.
        args += [f"--undefined={MIRROR_SYMBOL}", f"--export={MIRROR_SYMBOL}", str(self.mirror)]
        args += [*LINK_ARGS, *(f"-l{lib}" for lib in LIBS), str(self.builtins)]
        return [
            "-C",
            "link-self-contained=no",
            "-L",
            f"native={self.lib_dir}",
            *(f"-Clink-arg={a}" for a in args),
        ]


def builtins_library(cc: Sequence[str]) -> Path | None:
    """compiler-rt's builtins archive the C driver ``cc`` links (None when it names none)."""
    try:
        out = subprocess.run(
            [*cc, "-print-libgcc-file-name"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None
    return path if path is not None and path.is_file() else None


def needs_asyncify(imports: dict[str, list[str]], asyncify_imports: Sequence[str]) -> bool:
    """Does the module import a call Wasmer unwinds the stack in (``module.name`` entries of
    ``asyncify_imports``: fork, setjmp's checkpoints, exec)? Without one, asyncify would only
    instrument every indirect call, which Rust makes many of, for nothing."""
    return any(
        name in imports.get(module, [])
        for module, _, name in (i.partition(".") for i in asyncify_imports)
    )


def undefined_imports(imports: dict[str, list[str]]) -> list[str]:
    """Symbols the linker left to the runtime (``env`` imports besides the memory)."""
    return sorted(n for n in imports.get(UNDEFINED_MODULE, []) if n not in EXPECTED_ENV_IMPORTS)
