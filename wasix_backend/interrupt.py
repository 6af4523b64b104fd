"""Stopping a build at once on Ctrl-C or SIGTERM: signals, child process groups, cleanup.

Build commands (configure, make, compilers) run in their own process group, so a signal to
``wasix-build`` alone is not enough to stop them and a terminal's Ctrl-C does not reach them
behind our back. Instead the main thread turns SIGINT/SIGTERM into :class:`Interrupted`, the
engine calls :func:`stop_children` (which signals every group and marks the process as
stopping), and the worker threads, finding their command killed, raise :class:`Interrupted`
too and remove their staging trees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from types import FrameType

from filelock import BaseFileLock, Timeout

#: Seconds a child group gets between SIGTERM and SIGKILL.
GRACE = 3.0

_children: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()
_stopping = threading.Event()


class Interrupted(KeyboardInterrupt):
    """The user (SIGINT) or the system (SIGTERM) asked us to stop. ``status`` is the exit
    status to end with: 128 + the signal number, as shells report."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread for the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def stopping() -> bool:
    return _stopping.is_set()


def check() -> None:
    """Raise :class:`Interrupted` when a stop was asked for (call between steps)."""
    if _stopping.is_set():
        raise Interrupted()


def acquire(lock: BaseFileLock, poll: float = 0.25) -> None:
    """Take a file lock held by another process, giving up at once on a stop."""
    while True:
        check()
        with contextlib.suppress(Timeout):
            lock.acquire(timeout=poll)
            return


def run_child(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run`` in a new process group that :func:`stop_children` can kill whole."""
    check()
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)  # type: ignore[call-overload]
    with _lock:
        _children.add(proc)
    try:
        if _stopping.is_set():  # the stop came while it was starting
            _kill_group(proc, signal.SIGTERM)
        proc.wait()
    finally:
        with _lock:
            _children.discard(proc)
    check()  # killed by us: not the command's failure
    return subprocess.CompletedProcess(argv, proc.returncode)


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop_children() -> None:
    """Mark the process as stopping and end every running child group: SIGTERM, then
    SIGKILL for groups still there after :data:`GRACE` seconds."""
    _stopping.set()
    with _lock:
        procs = list(_children)
    for proc in procs:
        _kill_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        _kill_group(proc, signal.SIGKILL)  # the rest of the group (make's children) too


def reset() -> None:
    """Forget an earlier stop (in-process callers that go on after an interrupt: tests)."""
    _stopping.clear()
