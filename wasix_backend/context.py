"""The build context: everything a phase hook may read or use, in one object."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import hosttools
from .errors import BuildError
from .interrupt import run_child
from .logsummary import summarize

if TYPE_CHECKING:
    from .recipe import Recipe
    from .toolchain import Toolchain


#: Placeholders filled in by :meth:`BuildContext.expand` (docs/plugins.md's table comes from here).
PLACEHOLDERS = {
    "prefix": "the package's final install prefix (what `--prefix` gets)",
    "host": "the toolchain's `--host` triple (`wasm32-wasi`)",
    "build_cc": "a C compiler for programs that run on the build machine (code generators); also `$CC_FOR_BUILD`",
    "jobs": "the number of parallel jobs of this build",
    "dep:NAME": "the install prefix of dependency `NAME` (headers in `{dep:NAME}/include`, libraries in `{dep:NAME}/lib`)",
    "tool:NAME": "the toolchain's `CC`, `AR`, `RANLIB` … (`{tool:AR}`), for Makefiles that want flags in them: `AR={tool:AR} rcu`",
}


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
                if "/" not in argv[0] and argv[0] in hosttools.DEBIAN_PACKAGES and not shutil.which(argv[0], path=full_env.get("PATH")):
                    # A program of the build machine that is not installed: skipped, saying how to get it.
                    raise hosttools.missing_requirement(self.recipe.name, [argv[0]], f"its {self.phase} phase") from None
                raise BuildError(self.recipe.name, self.phase, f"command not found: {argv[0]}", self.log_file) from None
            finally:
                self.subprocess_seconds += time.perf_counter() - start
        if check and proc.returncode != 0:
            raise self._error(f"`{' '.join(argv[:4])}{' …' if len(argv) > 4 else ''}` exited with status {proc.returncode}")
        return proc.returncode

    def expand(self, text: str) -> str:
        """Fill the recipe placeholders of :data:`PLACEHOLDERS`; an unknown one is an error."""

        def sub(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("dep:"):
                if key[4:] not in self.deps:
                    known = ", ".join(sorted(self.deps)) or "none"
                    raise self.fail(f"{{{key}}}: {key[4:]!r} is not a dependency of {self.recipe.name} (its dependencies: {known})")
                return str(self.deps[key[4:]])
            if key.startswith("tool:"):
                from .toolchain import ENV_TOOLS  # the toolchain's programs, by variable

                if key[5:] not in ENV_TOOLS or key[5:] not in self.env:
                    raise self.fail(f"{{{key}}}: the toolchain has no {key[5:]} (it has: {', '.join(t for t in ENV_TOOLS if t in self.env)})")
                return self.env[key[5:]]
            if key == "build_cc" and shutil.which(self.toolchain.build_cc, path=self.env.get("PATH")) is None:
                # No C compiler for the build machine (stock Debian has none): skipped, saying so.
                raise hosttools.missing_requirement(self.recipe.name, ["gcc"], "compiling its build machine's helpers")
            values = {"prefix": self.prefix, "host": self.toolchain.host, "build_cc": self.toolchain.build_cc, "jobs": self.jobs}
            if key not in values:
                raise self.fail(f"unknown placeholder {{{key}}} (known: {', '.join(PLACEHOLDERS)})")
            return str(values[key])

        return re.sub(r"\{([a-z_]+(?::[A-Za-z0-9._-]+)?)\}", sub, text)

    def fail(self, message: str) -> BuildError:
        """A :class:`BuildError` for this package and phase (raise it), with the log's summary."""
        return self._error(message)

    def _error(self, message: str) -> BuildError:
        if self.log_file is None:
            return BuildError(self.recipe.name, self.phase, message)
        summary = summarize(self.log_file, phase=self.phase, build_dir=self.build_dir)
        return BuildError(self.recipe.name, self.phase, message, self.log_file, "\n".join(summary.tail), summary.text())
