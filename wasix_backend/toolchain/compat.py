"""The WASIX compatibility layer for the offline (zig) provider.

``toolchain/compat/`` holds headers (termios, signals, user database, wait …) and C sources
implementing them on WASIX host calls (``tty_get``/``tty_set``, ``fd_dup``, ``fd_pipe``). The
driver puts the headers on every compile and links ``libwasix-compat.a`` into every program,
so ``configure`` link tests see the same functions the real program gets.

The library is built on first use and cached under a key made of its sources and the zig
version, so editing the layer or upgrading zig rebuilds it by itself.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import ToolchainError
from ..paths import cache_root, project_toolchain_dir

LIBRARY_NAME = "libwasix-compat.a"
#: wasi-libc's emulation switches the layer is compiled with (and programs too).
EMULATION_DEFINES = (
    "-D_WASI_EMULATED_SIGNAL",
    "-D_WASI_EMULATED_GETPID",
    "-D_WASI_EMULATED_PROCESS_CLOCKS",
    "-D_WASI_EMULATED_MMAN",
)
EMULATION_LIBS = (
    "-lwasi-emulated-signal",
    "-lwasi-emulated-getpid",
    "-lwasi-emulated-process-clocks",
    "-lwasi-emulated-mman",
)


def compat_dir() -> Path:
    """``toolchain/compat``: ``include/`` and ``src/`` of the layer."""
    return project_toolchain_dir() / "compat"


def include_dir() -> Path:
    return compat_dir() / "include"


def _sources() -> list[Path]:
    root = compat_dir()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".c", ".h"})
    if not any(p.suffix == ".c" for p in files):
        raise ToolchainError(f"wasix compat layer: no C sources under {root / 'src'}; the installation is incomplete")
    return files


def source_key(tool_version: str) -> str:
    """A hash of every header and source of the layer plus the compiler's version."""
    digest = hashlib.sha256(tool_version.encode())
    root = compat_dir()
    for path in _sources():
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


#: The one part of the layer every provider links: the wheel launcher's mirror step (plain
#: POSIX calls), which shows host paths at their real place in wasmer-sdk's sandbox, its
#: host terminal step (the host's modes and window size, terminal requests told to the launcher)
#: and, with wasix-libc, the record of the file modes a program asks for (modes.c).
MIRROR_LIBRARY_NAME = "libwasix-mirror.a"
MIRROR_SOURCES = ("mirror.c", "host_tty.c", "modes.c")
#: setjmp/longjmp through exnref exceptions (``SJLJ=exnref``), linked only with that setting.
SJLJ_LIBRARY_NAME = "libwasix-sjlj.a"
#: The libraries made of a few of the layer's sources, for any C library (none of its headers).
_PARTS = {MIRROR_LIBRARY_NAME: MIRROR_SOURCES, SJLJ_LIBRARY_NAME: ("sjlj.c",)}
#: Exporting their markers links them (and their constructors) although no program calls them.
MIRROR_LINK_FLAGS = ("-Wl,--export=__wasix_mirror_v1", "-Wl,--export=__wasix_host_tty_v1")
#: With a C library of its own (wasix-libc), the program's tcgetattr/tcsetattr go through
#: host_tty.c's, which call the library's outside the launcher. The layer's own termios.c is
#: built behind host_tty.c instead (WASIX_COMPAT_LAYER): zig's linker ignores --wrap.
TERMINAL_WRAP_FLAGS = ("-Wl,--wrap=tcgetattr", "-Wl,--wrap=tcsetattr")
#: With wasix-libc, the calls that give a file its mode go through modes.c's, which record
#: the mode for the launcher (the sandbox keeps none), and the stat calls answer with the modes
#: (the sandbox says 0). Internal callers are wrapped too: fopen() through
#: __wasilibc_open_nomode, creat() and openat() through open(). Each name must exist in the
#: C library (the pinned wasix-libc): modes.c calls every __real_ one.
MODES_WRAPPED = (
    "open", "openat", "creat", "__wasilibc_open_nomode", "mkdir", "mkdirat", "chmod", "fchmod", "fchmodat",
    "stat", "lstat", "fstat", "fstatat",
)  # fmt: skip
MODES_WRAP_FLAGS = tuple(f"-Wl,--wrap={name}" for name in MODES_WRAPPED)


def ensure_library(cc: Sequence[str], ar: Sequence[str], tool_version: str, *, name: str = LIBRARY_NAME) -> Path:
    """Build ``libwasix-compat.a`` (or, by ``name``, one of :data:`_PARTS`) with ``cc``/``ar``
    unless a cached copy is current.

    ``cc`` and ``ar`` are commands (e.g. ``[zig, "cc", "-target", "wasm32-wasi"]``). Safe to
    call from parallel compiler processes: one builds, the others wait for it.
    """
    out_dir = cache_root() / "compat" / source_key(tool_version)
    library = out_dir / name
    if library.is_file():
        return library
    from filelock import FileLock  # only when it is built: every compile reaches this function

    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir / ".lock")):
        if library.is_file():
            return library
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build.") as tmp:
            objects = []
            sources = sorted((compat_dir() / "src").glob("*.c"))
            flags = ["-I", str(include_dir()), *EMULATION_DEFINES, "-DWASIX_COMPAT_LAYER"]
            if name in _PARTS:
                sources, flags = [compat_dir() / "src" / src for src in _PARTS[name]], []
            for src in sources:
                obj = Path(tmp) / (src.stem + ".o")
                _run([*cc, "-O2", *flags, "-c", str(src), "-o", str(obj)], src)
                objects.append(str(obj))
            staged = Path(tmp) / name
            _run([*ar, "rcs", str(staged), *objects], staged)
            os.replace(staged, library)
    return library


def _run(cmd: list[str], subject: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ToolchainError(
            f"wasix compat layer: building {subject.name} failed (status {proc.returncode}):\n"
            f"  $ {' '.join(cmd)}\n{proc.stderr.strip()}\n"
            "The layer's sources are in toolchain/compat/; fix them or report the compiler version."
        )
