"""The launcher's steps every program links: ``libwasix-mirror.a``.

``toolchain/compat/src/`` holds three C files the wheel launcher relies on (``mirror.c``: host
paths at their real place in the sandbox; ``host_tty.c``: the host terminal's modes and size;
``modes.c``: the file modes a program asks for). The driver links the library into every
program, with ``--wrap`` for the C library calls they stand in front of, so ``configure`` link
tests see the same functions the real program gets.

The library is built on first use and cached under a key made of its sources and the
compiler, so editing them or changing the toolchain rebuilds it by itself.
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

#: The wheel launcher's mirror step (plain POSIX calls), which shows host paths at their real
#: place in wasmer-sdk's sandbox, its host terminal step (the host's modes and window size,
#: terminal requests told to the launcher) and the record of the file modes a program asks for.
MIRROR_LIBRARY_NAME = "libwasix-mirror.a"
MIRROR_SOURCES = ("mirror.c", "host_tty.c", "modes.c")
#: Exporting their markers links them (and their constructors) although no program calls them.
MIRROR_LINK_FLAGS = ("-Wl,--export=__wasix_mirror_v1", "-Wl,--export=__wasix_host_tty_v1")
#: The program's tcgetattr/tcsetattr go through host_tty.c's, which call the C library's
#: outside the launcher.
TERMINAL_WRAP_FLAGS = ("-Wl,--wrap=tcgetattr", "-Wl,--wrap=tcsetattr")
#: The calls that give a file its mode go through modes.c's, which record
#: the mode for the launcher (the sandbox keeps none), and the stat calls answer with the modes
#: (the sandbox says 0). Internal callers are wrapped too: fopen() through
#: __wasilibc_open_nomode, creat() and openat() through open(). Each name must exist in the
#: C library (the pinned wasix-libc): modes.c calls every __real_ one.
MODES_WRAPPED = (
    "open", "openat", "creat", "__wasilibc_open_nomode", "mkdir", "mkdirat", "chmod", "fchmod", "fchmodat",
    "stat", "lstat", "fstat", "fstatat",
)  # fmt: skip
MODES_WRAP_FLAGS = tuple(f"-Wl,--wrap={name}" for name in MODES_WRAPPED)




def compat_dir() -> Path:
    """``toolchain/compat``: the C sources under ``src/``."""
    return project_toolchain_dir() / "compat"


def _sources() -> list[Path]:
    sources = [compat_dir() / "src" / name for name in MIRROR_SOURCES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise ToolchainError(f"wasix launcher steps: {', '.join(missing)} missing; the installation is incomplete")
    return sources


def source_key(tool_version: str) -> str:
    """A hash of every source of the library plus the compiler's version."""
    digest = hashlib.sha256(tool_version.encode())
    root = compat_dir()
    for path in _sources():
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_library(cc: Sequence[str], ar: Sequence[str], tool_version: str) -> Path:
    """Build ``libwasix-mirror.a`` with ``cc``/``ar`` unless a cached copy is current.

    ``cc`` and ``ar`` are commands (e.g. ``[clang, "--target=wasm32-wasi", …]``). Safe to
    call from parallel compiler processes: one builds, the others wait for it.
    """
    out_dir = cache_root() / "compat" / source_key(tool_version)
    library = out_dir / MIRROR_LIBRARY_NAME
    if library.is_file():
        return library
    from filelock import FileLock  # only when it is built: every compile reaches this function

    out_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out_dir / ".lock")):
        if library.is_file():
            return library
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build.") as tmp:
            objects = []
            for src in _sources():
                obj = Path(tmp) / (src.stem + ".o")
                _run([*cc, "-O2", "-c", str(src), "-o", str(obj)], src)
                objects.append(str(obj))
            staged = Path(tmp) / MIRROR_LIBRARY_NAME
            _run([*ar, "rcs", str(staged), *objects], staged)
            os.replace(staged, library)
    return library


def _run(cmd: list[str], subject: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ToolchainError(
            f"wasix launcher steps: building {subject.name} failed (status {proc.returncode}):\n"
            f"  $ {' '.join(cmd)}\n{proc.stderr.strip()}\n"
            "Their sources are in toolchain/compat/src/; fix them or report the compiler version."
        )
