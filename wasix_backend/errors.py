"""Errors whose message is meant for the user: each names what failed and what to do."""

from __future__ import annotations

import errno
from pathlib import Path


class WasixError(Exception):
    """Base class. ``str(err)`` is a complete, user-facing message (no traceback needed)."""


class RecipeError(WasixError):
    """A recipe is invalid. Raised at load time, naming the plugin, the field and the problem."""

    def __init__(self, plugin: str, field: str, problem: str) -> None:
        self.plugin, self.field, self.problem = plugin, field, problem
        super().__init__(f"plugin {plugin!r}: recipe field {field!r}: {problem}")


class PluginError(WasixError):
    """A plugin could not be loaded or one of its hooks raised."""


class GraphError(WasixError):
    """The dependency graph is unusable: a cycle, or a dependency nobody provides."""


class FetchError(WasixError):
    """A source or toolchain archive could not be fetched, verified or unpacked."""


class ToolchainError(WasixError):
    """The toolchain is missing or broken."""


class BuildError(WasixError):
    """A build phase failed. Names the package, the phase and the log file."""

    def __init__(
        self, package: str, phase: str, message: str, log: Path | None = None, tail: str = "", details: str = ""
    ) -> None:
        self.package, self.phase, self.log, self.tail, self.details = package, phase, log, tail, details
        text = f"{package}: {phase} failed: {message}"
        if log is not None:
            text += f"\n  log: {log}"
        if details:  # already laid out (first errors, config.log, tail): see logsummary
            text += "\n" + "\n".join("  " + line for line in details.rstrip().splitlines())
        elif tail:
            text += "\n  last lines of the log:\n" + "\n".join(
                "    " + line for line in tail.rstrip().splitlines()
            )
        super().__init__(text)


_WHAT_TO_DO = {
    errno.EACCES: "make it writable or choose another directory",
    errno.EPERM: "make it writable or choose another directory",
    errno.EROFS: "it is on a read-only file system: choose another directory",
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EDQUOT: "the disk quota is exceeded: free some space and run again",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f): raise the limit",
}


def os_error(exc: OSError, path: Path | str, what: str, hint: str = "") -> WasixError:
    """A one-line message for a failed write: the path, the cause and what to do.

    ``what`` says whose path it is ("output", "store"); ``hint`` names the option that
    picks another place (``--out``, ``--store``)."""
    where = exc.filename or path
    todo = _WHAT_TO_DO.get(exc.errno or 0, "check the path and its permissions")
    if hint and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo += f" ({hint})"
    return WasixError(f"cannot write {what} {where}: {exc.strerror or exc}; {todo}")


class MissingRequirement(WasixError):
    """Something a package needs is not available on this machine (a compiler, its sources).

    Not a fault of the package: the engine *skips* it (and what depends on it) instead of
    failing, and says ``how`` to get what is missing. ``reason`` is the one-line cause shown
    in the summary table; ``str(err)`` is the full explanation.
    """

    def __init__(self, message: str, *, how: str, reason: str | None = None) -> None:
        self.how = how
        self.reason = reason or message.splitlines()[0]
        super().__init__(message)


class MissingToolchain(MissingRequirement, ToolchainError):
    """No usable compiler of a kind a package needs (e.g. no Rust with a WASI target)."""


class SourcesUnreachable(MissingRequirement, FetchError):
    """Every place a source (archive, commit, crate) may come from is unreachable here.

    Only raised when no place gave a wrong file: a hash mismatch stays a :class:`FetchError`.
    """


class Unreachable(FetchError):
    """One download place could not be reached, or does not have the file (network, HTTP)."""
