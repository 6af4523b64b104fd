"""``TOOL --version``, remembered by the file's identity, so a no-op build starts no process.

Store keys name the compiler and wasm-opt by their version text; asking them costs a process
each (tens of milliseconds for clang). The answer is kept in ``<cache>/tool-versions.json``
under the tool's resolved path, size and mtime: a replaced or upgraded binary is asked again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path

from ..paths import cache_root


@functools.cache
def tool_version(path: Path) -> str:
    """The output of ``path --version`` (``"unusable"`` when it cannot run)."""
    from ..fastpath import watch

    try:
        real = Path(os.path.realpath(path))
        st = real.stat()
    except OSError:
        return "unusable"
    watch(path)  # its version is in store keys: a no-op stamp must notice a new binary
    ident = f"{Path(path).absolute()}\0{real}\0{st.st_size}\0{st.st_mtime_ns}"
    memo = cache_root() / "tool-versions.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if ident in known:
        return str(known[ident])
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unusable"
    version = out.stdout.strip() or out.stderr.strip()
    if out.returncode == 0:
        known[ident] = version
        with contextlib.suppress(OSError):
            memo.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
            os.replace(tmp, memo)
    return version


@functools.cache
def _digest(real: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with real.open("rb") as f:
        first = f.readline()
        if _names_python(first):
            # A console script of a PyPI tool (cmake, pkg-config): its first line names the
            # interpreter of the environment it was installed into — a PEP 517 build's
            # throw-away venv, another user's venv — which says nothing about the tool, whose
            # version is asked separately. Hash the rest, so every environment with the same
            # release of the tool gives the same store keys.
            h.update(b"python console script\0")
        else:
            h.update(first)
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _names_python(first_line: bytes) -> bool:
    """Whether ``first_line`` is a ``#!`` line that runs a Python interpreter."""
    if not first_line.startswith(b"#!") or len(first_line) > 4096:
        return False
    words = first_line[2:].split()
    if words and words[0].endswith(b"/env"):  # #!/usr/bin/env [-S] [VAR=x] python3
        program = [w for w in words[1:] if not w.startswith(b"-") and b"=" not in w][:1]
    else:
        program = words[:1]
    return bool(program) and program[0].rsplit(b"/", 1)[-1].startswith(b"python")


def tool_digest(path: Path) -> str:
    """The sha256 of the program ``path`` runs (links resolved), once per file version and
    process; ``"missing"`` when it is not there."""
    from ..fastpath import watch

    try:
        real = Path(os.path.realpath(path))
        st = real.stat()
        watch(path)
        return _digest(real, st.st_size, st.st_mtime_ns)
    except OSError:
        return "missing"
