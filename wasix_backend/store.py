"""The content-addressed store of finished builds.

An entry is ``<root>/<key32>-<name>-<version>/`` holding the package's install tree and a
``.wasix-build.json`` record. It appears by one ``rename`` of a fully built staging tree, so a
build killed at any moment leaves nothing a later build takes as finished. A per-key file lock
keeps two processes from building the same entry at once; staging trees of dead builds are
swept by the next build of the same key.

A store is marked by the file ``.wasix-store`` written when it is first used, so that
commands that delete (``gc``, ``clean --store-too``) and builds that write refuse a
directory that is not one (``--store /``). A store made before the marker existed is
recognised by its layout and marked. Builds hold a shared lock on the marker while they run;
``gc`` and ``clean`` take it exclusively, so neither deletes what a running build uses.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import WasixError
from .fsutil import atomic_write_bytes, file_sha256
from .interrupt import acquire, check
from .recipe import Recipe

if TYPE_CHECKING:
    from filelock import FileLock

#: Bump when the store layout or the meaning of a key changes.
STORE_FORMAT = 2
RECORD = ".wasix-build.json"
#: Written into a store when it is first used; what ``gc`` and ``clean`` look for.
MARKER = ".wasix-store"
#: What a store holds besides entries (``<key32>-<name>-<version>``).
_STORE_DIRS = frozenset({"tmp", "locks", "logs", "quarantine", "roots"})
_ENTRY_NAME = re.compile(r"[0-9a-f]{32}-.+")
#: ``build --check``'s scratch stores, made inside the store.
_SCRATCH_NAME = re.compile(r"check-.+")


class NotAStore(WasixError):
    """A directory given as the store holds other things: nothing is written or deleted there."""


def _is_store_item(name: str) -> bool:
    return name in _STORE_DIRS or name == MARKER or bool(_ENTRY_NAME.fullmatch(name) or _SCRATCH_NAME.fullmatch(name))


def key_inputs(
    recipe: Recipe,
    *,
    toolchain: str,
    plugin: Mapping[str, str],
    code: Mapping[str, str],
    deps: Mapping[str, str],
    run_deps_shape_build: bool = False,
) -> dict[str, Any]:
    """Everything that decides a build's result, as a JSON-able document.

    The recipe's build fields (sources' pins included), the content of its patches, the
    toolchain's identity, the declaring plugin's files (``plugin``: name -> digest), the code
    of this package that runs inside the build (``code``: module -> digest, see
    :mod:`.codekey`) and the keys of its dependencies — so a change anywhere below a package
    rebuilds it and everything above it, and nothing else. The document is kept in the
    entry's record, so ``wasix-build show --key`` can say what changed.
    ``[dependencies] run`` enters only when ``run_deps_shape_build`` (a bundle copies them):
    otherwise they are brought beside the program when it runs and never rebuild it.
    """
    canonical = recipe.canonical()
    if not run_deps_shape_build:
        canonical["run_deps"] = []  # kept as a field: keys made before it was ignored stay valid
    return {
        "format": STORE_FORMAT,
        "recipe": canonical,
        "patches": [[p.name, file_sha256(p)] for p in recipe.patches],
        "toolchain": toolchain,
        "plugin": dict(sorted(plugin.items())),
        "code": dict(sorted(code.items())),
        "deps": dict(sorted(deps.items())),
    }


def key_of(inputs: Mapping[str, Any]) -> str:
    """The store key of a :func:`key_inputs` document."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def build_key(recipe: Recipe, **inputs: Any) -> str:
    """:func:`key_of` :func:`key_inputs` (same arguments)."""
    return key_of(key_inputs(recipe, **inputs))


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._marked = False

    # what is a store ----------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why ``root`` must not be used as a store (None: it is one, or can become one).

        A store is a directory with the marker, or (made before the marker existed) one
        holding nothing but entries and the store's own folders, or a new or empty one."""
        if not self.root.exists() and not self.root.is_symlink():
            return None
        if not self.root.is_dir():
            return f"{self.root} is not a directory"
        if (self.root / MARKER).is_file():
            return None
        try:
            names = sorted(os.listdir(self.root))
        except OSError as exc:
            return f"{self.root} cannot be read: {exc.strerror or exc}"
        others = [n for n in names if not _is_store_item(n)]
        if not others:
            return None
        shown = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
        return (f"{self.root} is not a wasix-backend store: it has no {MARKER} file and holds other things "
                f"({shown}); name a new or empty directory (if it is a store, `touch {self.root / MARKER}`)")

    def check(self) -> None:
        """Raise :class:`NotAStore` when :meth:`problem` says so."""
        problem = self.problem()
        if problem:
            raise NotAStore(problem)

    def mark(self) -> None:
        """Make sure ``root`` is a store before writing into it: checked, created and marked."""
        if self._marked:
            return
        self.check()
        self.root.mkdir(parents=True, exist_ok=True)
        marker = self.root / MARKER
        if not marker.is_file():
            with contextlib.suppress(OSError):  # a read-only store still serves builds
                atomic_write_bytes(marker, json.dumps({"format": STORE_FORMAT}).encode() + b"\n")
        self._marked = True

    # builds running (shared) against gc and clean (exclusive) ------------------------------
    def _lock_fd(self) -> int | None:
        try:
            return os.open(self.root / MARKER, os.O_RDONLY)
        except OSError:
            return None

    @contextlib.contextmanager
    def in_use(self, say: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the store's shared lock: ``gc`` and ``clean`` delete no entry meanwhile. When
        one of them is running, wait for it (saying so after a second)."""
        fd = self.hold(say)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def hold(self, say: Callable[[str], None] | None = None) -> int | None:
        """:meth:`in_use` for the rest of the process: the descriptor holding the lock."""
        import fcntl

        self.mark()
        fd = self._lock_fd()
        if fd is None:
            return None
        start, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            except BaseException:
                os.close(fd)
                raise
            if not told and time.monotonic() - start > 1:
                told = True
                (say or (lambda t: print(t, file=sys.stderr, flush=True)))(
                    f"waiting for `wasix-build gc` or `clean` to finish in {self.root}")
            try:
                check()  # Ctrl-C/SIGTERM: stop waiting at once
            except BaseException:
                os.close(fd)
                raise
            time.sleep(0.1)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[bool]:
        """Try the store's lock exclusively: yields whether no build holds it (and, while the
        block runs, none can start)."""
        import fcntl

        if self.root.is_dir():
            with contextlib.suppress(OSError):
                self.mark()
        fd = self._lock_fd()
        if fd is None:  # no marker (a read-only store): nothing can hold it
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free = True
            except BlockingIOError:
                free = False
            yield free
        finally:
            os.close(fd)

    # layout -----------------------------------------------------------------------------
    def entry(self, recipe: Recipe, key: str) -> Path:
        return self.root / f"{key[:32]}-{recipe.name}-{recipe.version}"

    def log_dir(self, recipe: Recipe, key: str) -> Path:
        return self.root / "logs" / f"{recipe.name}-{recipe.version}-{key[:12]}"

    def lock(self, key: str) -> FileLock:
        from filelock import FileLock  # only for a build: a no-op never takes a lock

        self.mark()
        (self.root / "locks").mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "locks" / f"{key[:32]}.lock"))

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold :meth:`lock`; waiting for another process ends at once on Ctrl-C/SIGTERM."""
        lock = self.lock(key)
        acquire(lock)
        try:
            yield
        finally:
            lock.release()

    # queries ----------------------------------------------------------------------------
    def lookup(
        self, recipe: Recipe, key: str, on_damage: Callable[[str], None] | None = None
    ) -> Path | None:
        """The finished entry for ``key``, or None. Only complete entries exist at all.

        An entry whose files no longer match their recorded sizes and hashes (a disk error,
        a hand edit) is moved to ``quarantine/``, reported through ``on_damage``, and taken
        as absent, so the caller builds it again.
        """
        path = self.entry(recipe, key)
        if not (path / RECORD).is_file():
            return None
        problems = self.verify_entry(path)
        if not problems:
            problems = self._inputs_problem(path, key)
        if not problems:
            return path
        moved = self.quarantine(path)
        if on_damage is not None:
            where = f"moved to {moved}" if moved else "already moved aside by another process"
            on_damage(f"store entry {path} is damaged ({'; '.join(problems[:3])}); {where}, rebuilding")
        return None

    def verify_entry(self, path: Path) -> list[str]:
        """What no longer matches the entry's record (empty: all recorded files intact).

        Entries recorded before file hashes were kept have nothing to check against."""
        try:
            record = self.record(path)
        except (OSError, ValueError) as exc:
            return [f"its record {RECORD} cannot be read: {exc}"]
        problems = []
        for rel, (size, sha) in sorted(record.get("files", {}).items()):
            file = path / rel
            try:
                actual = file.stat().st_size if not file.is_symlink() else -1
            except OSError:
                problems.append(f"{rel} is missing")
                continue
            if actual != size:
                problems.append(f"{rel} is {actual} bytes, recorded {size}")
            elif file_sha256(file) != sha:
                problems.append(f"{rel} does not match its recorded sha256")
        return problems

    def _inputs_problem(self, path: Path, key: str) -> list[str]:
        """Why the entry's recorded key inputs do not give ``key`` (empty: they do, or the
        entry predates recorded inputs)."""
        inputs = self.record(path).get("key_inputs")
        if inputs is None or key_of(inputs) == key:
            return []
        return [f"its recorded key inputs hash to {key_of(inputs)[:12]}, not to its key {key[:12]}"]

    def quarantine(self, path: Path) -> Path | None:
        """Move a damaged entry out of the way (kept for inspection; ``gc`` removes it)."""
        dest = self.root / "quarantine" / f"{path.name}.{time.time_ns()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, dest)
        except FileNotFoundError:  # another process quarantined it first
            return None
        return dest

    # roots (what gc keeps) -----------------------------------------------------------------
    def add_root(self, output: Path, entry: Path) -> None:
        """Note that ``output`` (a file or directory under ``--out``) was made from ``entry``.

        Best effort: a store that cannot be written (read-only, shared) still serves builds;
        without the note ``gc`` keeps the entry only among the package's latest builds."""
        output = Path(output).absolute()
        name = hashlib.sha256(str(output).encode()).hexdigest()[:32]
        doc = {"output": str(output), "entry": Path(entry).name}
        with contextlib.suppress(OSError):
            self.mark()
            atomic_write_bytes(self.root / "roots" / f"{name}.json", json.dumps(doc).encode())

    def roots(self) -> list[tuple[Path, dict[str, str]]]:
        """(root file, its content) of every recorded output."""
        out = []
        for file in sorted((self.root / "roots").glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                out.append((file, json.loads(file.read_text())))
        return out

    def record(self, path: Path) -> dict[str, Any]:
        return json.loads((path / RECORD).read_text())

    def entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if (p / RECORD).is_file())

    # building ---------------------------------------------------------------------------
    def staging(self, recipe: Recipe, key: str) -> Path:
        """A fresh private work area for building ``key``; stale ones of dead builds go.

        Call with :meth:`lock` held.
        """
        self.mark()
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for stale in tmp.glob(f"{key[:32]}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = tmp / f"{key[:32]}-{os.getpid()}-{time.monotonic_ns()}"
        work.mkdir()
        return work

    def commit(self, staged_prefix: Path, recipe: Recipe, key: str, record: Mapping[str, Any]) -> Path:
        """Move a finished install tree into place, record last-but-one, rename last."""
        final = self.entry(recipe, key)
        staged_prefix.mkdir(parents=True, exist_ok=True)
        doc = {"name": recipe.name, "version": recipe.version, "key": key, "engine": __version__,
               "files": _file_hashes(staged_prefix), **record}
        tmp_record = staged_prefix / (RECORD + ".tmp")
        tmp_record.write_text(json.dumps(doc, indent=2, sort_keys=True))
        os.replace(tmp_record, staged_prefix / RECORD)
        if final.exists():  # a stale, unrecorded leftover (cannot be a finished entry: lookup failed)
            shutil.rmtree(final)
        os.rename(staged_prefix, final)
        return final

    def remove_entries(self) -> int:
        """Delete every entry, log and staging area (``wasix-build clean --store``): what the
        store holds, never the directory itself or anything else in it. Refuses a directory
        that is not a store, and a store a build is running in."""
        self.check()
        if not self.root.is_dir():
            return 0
        with self.exclusive() as free:
            if not free:
                raise WasixError(f"a build is running in the store {self.root}; clean it when the build has ended")
            count = len(self.entries())
            for name in sorted(os.listdir(self.root)):
                path = self.root / name
                if name == MARKER or not _is_store_item(name):
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
        return count


def _file_hashes(tree: Path) -> dict[str, list[Any]]:
    """``relative path -> [size, sha256]`` of every regular file (what a cache hit re-checks)."""
    out: dict[str, list[Any]] = {}
    for dirpath, _dirs, files in os.walk(tree):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            out[path.relative_to(tree).as_posix()] = [path.stat().st_size, file_sha256(path)]
    return dict(sorted(out.items()))
