"""What ``wasix-build gc`` may remove from the store and the source cache, and removing it.

Garbage: staging trees of builds whose process is gone, lock files nobody holds,
``.part`` files of dead downloads, quarantined entries, and store entries no root keeps.
Roots are the entries ``dist/`` outputs were made from (while those outputs exist), the
latest ``keep`` builds of each package, the newest build of each toolchain entry (the
wasix-libc sysroot every build of the ``wasix`` provider compiles against), and everything
those entries were built against.

Only a store is collected (:meth:`Store.check`: ``gc --store /`` is refused), and only while
no build runs in it: ``gc`` takes the store's lock exclusively. While builds hold it, only
what is provably dead goes (staging trees of dead processes, stale locks and partial
downloads, quarantined entries); entries, logs and other temporary files stay.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from .fetch import _part_pid, lock_holder, pid_alive
from .store import RECORD, Store


@dataclass(frozen=True)
class Garbage:
    path: Path
    reason: str
    #: Whether it can go while builds are running (it belongs to no live process).
    dead_anyway: bool = False


#: Toolchain entries: built with the host's LLVM rather than a wasixcc toolchain.
_TOOLCHAIN_PREFIX = "host-llvm"
_SYSROOT = "wasix-libc"


def _staging_pid(path: Path) -> int | None:
    match = re.fullmatch(r"[0-9a-f]{32}-(\d+)-\d+", path.name)
    return int(match.group(1)) if match else None


def _unheld(lock: Path) -> bool:
    return lock_holder(lock) is None if Path("/proc/locks").exists() else True


def find_garbage(store: Store, sources: Path | None, *, keep: int, busy: bool = False) -> list[Garbage]:
    """What may go; with ``busy`` (builds are running in the store) only what is dead anyway."""
    store.check()
    found = _find(store, sources, keep=keep)
    return [g for g in found if g.dead_anyway] if busy else found


def _toolchain_roots(records: dict[Path, dict]) -> set[Path]:  # type: ignore[type-arg]
    """The newest entry of each toolchain package per toolchain (each LLVM has its sysroot)."""
    groups: dict[tuple[str, str], list[Path]] = {}
    for entry, record in records.items():
        inputs = record.get("key_inputs")
        toolchain = str(inputs.get("toolchain", "")) if isinstance(inputs, dict) else ""
        name = str(record.get("name", entry.name))
        if toolchain.startswith(_TOOLCHAIN_PREFIX) or name == _SYSROOT:
            groups.setdefault((name, toolchain), []).append(entry)
    return {max(entries, key=lambda e: (e / RECORD).stat().st_mtime) for entries in groups.values()}


def _find(store: Store, sources: Path | None, *, keep: int) -> list[Garbage]:
    out: list[Garbage] = []
    root = store.root
    for work in sorted((root / "tmp").glob("*")):
        pid = _staging_pid(work)
        if pid is None:
            out.append(Garbage(work, "temporary files of no running build"))
        elif not pid_alive(pid):
            out.append(Garbage(work, "staging tree of a build that is no longer running", dead_anyway=True))
    for q in sorted((root / "quarantine").glob("*")):
        out.append(Garbage(q, "quarantined (damaged) store entry", dead_anyway=True))

    entries = store.entries()
    records = {}
    for e in entries:
        with contextlib.suppress(OSError, ValueError):
            records[e] = store.record(e)
    keep_set: set[Path] = set()
    for file, doc in store.roots():
        output, entry = Path(doc.get("output", "")), root / doc.get("entry", "")
        if output.exists() and entry in records:
            keep_set.add(entry)
        else:
            out.append(Garbage(file, f"root of {output}, which is gone", dead_anyway=True))
    by_name: dict[str, list[Path]] = {}
    for e in records:
        by_name.setdefault(records[e].get("name", e.name), []).append(e)
    for builds in by_name.values():
        builds.sort(key=lambda e: (e / RECORD).stat().st_mtime, reverse=True)
        keep_set.update(builds[:keep])
    keep_set |= _toolchain_roots(records)
    todo = list(keep_set)  # and what those were built against
    while todo:
        for dep in records.get(todo.pop(), {}).get("deps", {}).values():
            dep_path = Path(dep)
            if dep_path in records and dep_path not in keep_set:
                keep_set.add(dep_path)
                todo.append(dep_path)
    dead_keys = set()
    for e in entries:
        if e not in keep_set:
            out.append(Garbage(e, "store entry no output or recent build refers to"))
            dead_keys.add(e.name[:12])
    live_keys = {e.name[:12] for e in keep_set}
    for log in sorted((root / "logs").glob("*")):
        key12 = log.name.rsplit("-", 1)[-1]
        if key12 in dead_keys or (key12 not in live_keys and not _building(root, key12)):
            out.append(Garbage(log, "logs of a build that is not kept"))

    lock_dirs = [root / "locks"] + ([sources] if sources else [])
    for d in lock_dirs:
        for lock in sorted(d.glob("*.lock")):
            if _unheld(lock):
                out.append(Garbage(lock, "lock file nobody holds", dead_anyway=True))
    if sources is not None:
        for part in sorted(sources.glob(".*.part")):
            pid = _part_pid(part)
            # Partial files without a pid (older versions, other writers): only when a day old.
            dead = not pid_alive(pid) if pid is not None else _age(part) > 86400
            if dead:
                out.append(Garbage(part, "partial file of a download that is no longer running", dead_anyway=True))
    return out


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _building(root: Path, key12: str) -> bool:
    return any(True for _ in (root / "tmp").glob(f"{key12}*"))


def remove(item: Garbage) -> bool:
    """Remove one item; a lock is taken first so that a lock someone just took stays."""
    path = item.path
    try:
        if path.suffix == ".lock":
            lock = FileLock(str(path))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False
            try:
                path.unlink(missing_ok=True)
            finally:
                lock.release()
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        return False
    return True
