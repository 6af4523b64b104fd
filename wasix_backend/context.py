"""The build context: everything a phase hook may read or use, in one object."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BuildError
from .interrupt import run_child

if TYPE_CHECKING:
    from .recipe import Recipe
    from .toolchain import Toolchain


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class BuildContext:
    """What a phase hook gets.

    Paths: sources are unpacked into ``source_dir``; out-of-tree builds use ``build_dir``
    (equal to ``source_dir`` for in-tree builds); ``prefix`` is the package's final install
    location (give it to ``--prefix``), and installing writes to ``stage`` (= ``destdir`` +
    ``prefix``), which the engine moves into the store only after every phase succeeded.
    ``deps`` maps each dependency's name to its installed prefix.
    """

    recipe: Recipe
    source_dir: Path
    build_dir: Path
    prefix: Path
    destdir: Path
    deps: dict[str, Path]
    env: dict[str, str]
    toolchain: Toolchain
    jobs: int
    log: logging.Logger
    phase: str = ""
    log_file: Path | None = None
    #: Seconds spent in subprocesses started through :meth:`run` (for overhead accounting).
    subprocess_seconds: float = 0.0
    #: Scratch space plugins may use to pass data between their phases.
    state: dict[str, object] = field(default_factory=dict)

    @property
    def stage(self) -> Path:
        return self.destdir / self.prefix.relative_to(self.prefix.anchor)

    @property
    def plugin_dir(self) -> Path | None:
        return self.recipe.plugin_dir

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> int:
        """Run a command, its output appended to this phase's log.

        ``env`` entries are added to ``self.env``. A non-zero exit raises
        :class:`~wasix_backend.errors.BuildError` naming package, phase and log (unless
        ``check`` is false; the exit status is returned).
        """
        argv = [os.fspath(a) for a in args]
        full_env = {**self.env, **(env or {})}
        cwd = cwd or self.build_dir
        self.log.info("$ %s  (in %s)", " ".join(argv), cwd)
        for h in self.log.handlers:
            h.flush()
        start = time.perf_counter()
        with open(self.log_file or os.devnull, "ab") as out:
            try:
                # Own process group: an interrupt stops the whole command tree (interrupt.py).
                proc = run_child(argv, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except FileNotFoundError:
                raise BuildError(self.recipe.name, self.phase, f"command not found: {argv[0]}", self.log_file) from None
            finally:
                self.subprocess_seconds += time.perf_counter() - start
        if check and proc.returncode != 0:
            raise BuildError(
                self.recipe.name,
                self.phase,
                f"`{' '.join(argv[:4])}{' …' if len(argv) > 4 else ''}` exited with status {proc.returncode}",
                self.log_file,
                log_tail(self.log_file) if self.log_file else "",
            )
        return proc.returncode

    def expand(self, text: str) -> str:
        """Fill recipe placeholders: ``{prefix}``, ``{host}``, ``{build_cc}``, ``{jobs}`` and
        ``{dep:NAME}`` (a dependency's install prefix). Unknown ones are an error."""

        def sub(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("dep:"):
                if key[4:] not in self.deps:
                    raise self.fail(f"{{{key}}}: {key[4:]!r} is not a dependency of {self.recipe.name}")
                return str(self.deps[key[4:]])
            values = {"prefix": self.prefix, "host": self.toolchain.host, "build_cc": self.toolchain.build_cc, "jobs": self.jobs}
            if key not in values:
                raise self.fail(f"unknown placeholder {{{key}}} (known: prefix, host, build_cc, jobs, dep:NAME)")
            return str(values[key])

        return re.sub(r"\{([a-z_]+(?::[a-z0-9._-]+)?)\}", sub, text)

    def fail(self, message: str) -> BuildError:
        """A :class:`BuildError` for this package and phase (raise it)."""
        return BuildError(self.recipe.name, self.phase, message, self.log_file,
                          log_tail(self.log_file) if self.log_file else "")
