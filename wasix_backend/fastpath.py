"""The no-op fast path: a repeated ``wasix-build build …`` with nothing changed costs a few
``stat`` calls instead of loading plugins, asking compilers and hashing keys.

When a ``build`` finds every package in the store, it leaves a *stamp*: the files its answer
depended on with their (mtime, size, inode) — plugin files and folders, this package's code,
the ``sys.path`` folders (installed plugins), every binary or library whose version or content
went into a toolchain identity (:func:`watch`), the store entries used and the outputs
written — and what it printed. The same command line, in the same directory, with the same
environment and terminal, replays that output when every file still has its signature;
anything else takes the normal path (which checks everything and writes a new stamp).
``WASIX_NO_FAST_PATH=1`` turns it off.

A signature is taken when the command ends, so a file edited while the command ran (after it
was read) would be stamped with its new signature and the old answer replayed for good: a
stamp is therefore refused when any file it depends on, other than the outputs the command
wrote itself, was changed (mtime or ctime) after the command started, or just before. A
watched store record stands for its whole entry: every file of a sysroot is checked, not
only the record that names it.

This module is the console script's entry point, so it imports only the standard library.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

STAMP_FORMAT = 1
#: Variables that change between identical invocations without changing what is built.
_VOLATILE_ENV = frozenset({"_", "OLDPWD", "PWD", "SHLVL", "COLUMNS", "LINES", "PYTEST_CURRENT_TEST"})

#: A file changed this long before the command started may have been changed after it was
#: read all the same: file times come from the kernel's coarse clock, a few milliseconds
#: behind ``time.time_ns()``. (100 ms refused the stamp of a no-op run right after a build.)
RACY_NS = 20_000_000
#: File systems that keep whole seconds (FAT, some network ones) cannot order an edit within
#: the second the command started in.
_COARSE_NS = 1_000_000_000
#: A store entry's record: watching it watches the entry's every file (see :func:`watch`).
_RECORD = ".wasix-build.json"

#: Files the toolchain's identity was computed from in this process (see :func:`watch`).
_watched: set[str] = set()
#: The stamp the running command offers to leave (set by :func:`offer`).
_offered: list[str] | None = None
#: What the command wrote itself (outputs): their times are no sign of an edit.
_produced: set[str] = set()


def watch(*paths: Path | str) -> None:
    """Record files whose content shaped a store key (a compiler, its builtins, a sysroot's
    record), so a stamp is invalid once one of them changes. A store entry's record stands
    for the entry: its files and folders are watched too (a header edited in a sysroot)."""
    for p in paths:
        real = os.path.realpath(p)
        _watched.add(real)
        if os.path.basename(real) == _RECORD:
            for folder, _dirs, files in os.walk(os.path.dirname(real)):
                _watched.add(folder)
                _watched.update(os.path.join(folder, f) for f in files)


def offer(inputs: Iterable[Path | str], produced: Iterable[Path | str] = ()) -> None:
    """Called by ``build`` when every package was cached: leave a stamp depending on ``inputs``
    and ``produced`` (the outputs it wrote; plus everything :func:`watch` saw) if the command
    ends with status 0 and no input changed while it ran."""
    global _offered
    written = {os.path.realpath(p) for p in produced}
    _produced.clear()
    _produced.update(written)
    _offered = sorted({os.path.realpath(p) for p in inputs} | written | _watched)


def _changed_since(path: str, start_ns: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    slack = _COARSE_NS if changed % _COARSE_NS == 0 else RACY_NS
    return changed >= start_ns - slack


def build_inputs(plugin_files: Iterable[Path], plugin_roots: Iterable[Path], entries: Iterable[Path],
                 outputs: Iterable[Path]) -> list[Path]:
    """What a no-op ``build`` answer depends on besides the watched toolchain files."""
    from .codekey import _PKG, code_files
    from .paths import project_toolchain_dir

    found: list[Path] = [*plugin_files, *outputs]
    # Folders too: a file added to a plugin, the package or the toolchain data shows as a
    # changed folder mtime; a new or removed distribution on sys.path likewise.
    trees = [*plugin_roots, _PKG, project_toolchain_dir()]
    for tree in trees:
        for folder, dirs, files in os.walk(tree):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            found.append(Path(folder))
            if tree == _PKG:
                continue
            found += [Path(folder, f) for f in files]
    found += code_files()
    found += [Path(p) for p in sys.path if p and os.path.isdir(p)]
    # A compiler installed or removed on PATH can change which toolchain is chosen.
    found += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.isdir(p)]
    for entry in entries:  # the store's entries, file by file (a removed or edited one rebuilds)
        for folder, _, files in os.walk(entry):
            found.append(Path(folder))
            found += [Path(folder, f) for f in files]
    return found


def _signature(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _stamp_path(argv: list[str]) -> Path:
    env = sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE_ENV)
    ttys = [stream.isatty() if hasattr(stream, "isatty") else False for stream in (sys.stdout, sys.stderr)]
    key = json.dumps([STAMP_FORMAT, argv, os.getcwd(), env, ttys, sys.executable])
    root = os.environ.get("WASIX_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wasix-backend"
    )
    return Path(root) / "noop" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def replay(argv: list[str]) -> int | None:
    """The recorded exit status after printing the recorded output, or ``None`` when no valid
    stamp exists for this exact invocation."""
    if os.environ.get("WASIX_NO_FAST_PATH"):
        return None
    try:
        stamp = json.loads(_stamp_path(argv).read_bytes())
    except (OSError, ValueError):
        return None
    if stamp.get("format") != STAMP_FORMAT:
        return None
    for path, signature in stamp["inputs"]:
        if _signature(path) != signature:
            return None
    sys.stdout.write(stamp["stdout"])
    sys.stderr.write(stamp["stderr"])
    sys.stdout.flush()
    sys.stderr.flush()
    return int(stamp["status"])


class _Tee(io.TextIOBase):
    """Writes through to ``stream`` and keeps a copy; looks like ``stream`` to rich."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding


@contextmanager
def recording(argv: list[str]) -> Iterator[list[int]]:
    """Run a command with its output copied; yields a one-element list for its status. A
    stamp is written when the command offered one and its status is 0."""
    global _offered
    _offered = None
    _produced.clear()
    start_ns = time.time_ns()
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    path = _stamp_path(argv)  # before the command runs: the same key replay() computes
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    status = [1]
    try:
        yield status
    finally:
        sys.stdout, sys.stderr = saved
    if _offered is None or status[0] != 0:
        path.unlink(missing_ok=True)
        return
    if any(p not in _produced and _changed_since(p, start_ns) for p in _offered):
        # Edited while the command ran: what it read may not be what is there now.
        path.unlink(missing_ok=True)
        return
    stamp = {"format": STAMP_FORMAT, "argv": argv, "status": status[0], "stdout": out.copy.getvalue(),
             "stderr": err.copy.getvalue(), "inputs": [[p, _signature(p)] for p in _offered]}  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stamp))
        os.replace(tmp, path)
    except OSError:
        pass  # no stamp: the next run takes the normal path


def main(argv: list[str] | None = None) -> int:
    """``wasix-build``: replay a valid stamp, else run the command line (and maybe stamp it)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    status = replay(argv)
    if status is not None:
        return status
    from .cli import main as cli_main

    with recording(argv) as result:
        result[0] = cli_main(argv)
    return result[0]
