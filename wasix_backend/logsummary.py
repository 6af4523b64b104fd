"""What a failed build's message shows: the first real errors of the failing step, then the tail.

A log's last lines are often warnings or make's recursion noise; the cause (``error:`` from the
compiler or linker, ``configure: error:``, make's ``*** … Error``) is usually further up. When
configure failed, the check that failed is only in ``config.log``: its lines for that check are
shown too, and the file is named.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Lines that state an error, most compilers' and tools' spellings. ``warning:`` never matches.
ERROR_RE = re.compile(
    r"""(
      ^.*?:\d+(?::\d+)?:\s*(?:fatal\ )?error:\s      # file.c:3:5: error: …  (gcc, clang)
    | ^\S*(?:cc|clang|gcc|ld|lld|wasm-ld|zig|ar|ranlib|wasixcc\S*)(?:-\d+)?:\s*(?:fatal\ )?error:\s  # wasm-ld: error: …
    | ^(?:fatal\ )?error(?:\[E\d+\])?:\s               # error: …  (rustc, cargo, zig)
    | ^configure:\ error:\s                          # configure: error: …
    | ^CMake\ Error                                  # CMake Error at …
    | ^\S*make(?:\[\d+\])?:\ \*\*\*\ .*(?:Error\ \d+|No\ rule|Stop\.)   # make: *** [x] Error 1
    | undefined\ (?:reference|symbol)
    )""",
    re.X,
)
#: The line the engine logs before each command (``… INFO $ ./configure …``).
_COMMAND_RE = re.compile(r"^\S+ \S+ INFO \$ ")
#: config.log: ``configure:1234: checking for foo`` starts a check.
_CHECK_RE = re.compile(r"^configure:\d+: checking ")
_CONFIG_ERROR_RE = re.compile(r"^configure:\d+: error: ")


@dataclass
class Summary:
    """The parts of a failure message (each possibly empty)."""

    errors: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    config_log: Path | None = None
    config_lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        parts = []
        if self.errors:
            parts.append("first errors:\n" + _indent(self.errors))
        if self.config_log is not None:
            head = f"configure failed: see {self.config_log}"
            parts.append(head + (" — the failing check:\n" + _indent(self.config_lines) if self.config_lines else ""))
        if self.tail:
            parts.append("last lines of the log:\n" + _indent(self.tail))
        return "\n".join(parts)


def _indent(lines: list[str]) -> str:
    return "\n".join("    " + line for line in lines)


def _read_end(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def error_lines(lines: list[str], limit: int = 8) -> list[str]:
    """The first ``limit`` distinct error lines, in order."""
    seen: list[str] = []
    for line in lines:
        text = line.rstrip()
        if ERROR_RE.search(text) and text not in seen:
            seen.append(text)
            if len(seen) == limit:
                break
    return seen


def failing_check(config_log: Path, limit: int = 12) -> list[str]:
    """The lines of ``config.log`` from the last check before its ``error:`` line.

    Long test programs are cut: the check's ``checking`` line, its error lines and the
    final error are what say why it failed.
    """
    lines = _read_end(config_log, 4 << 20).splitlines()
    end = next((i for i in range(len(lines) - 1, -1, -1) if _CONFIG_ERROR_RE.match(lines[i])), None)
    if end is None:
        return []
    start = next((i for i in range(end, -1, -1) if _CHECK_RE.match(lines[i])), end)
    block = lines[start : end + 1]
    keep = [block[0]] + [ln for ln in block[1:-1] if "error" in ln.lower() or ": result:" in ln] + [block[-1]]
    if len(keep) > limit:
        keep = [*keep[: limit - 1], keep[-1]]
    return [ln.rstrip() for ln in keep]


def summarize(log: Path, *, phase: str = "", build_dir: Path | None = None, tail: int = 15) -> Summary:
    """Read the phase log (its end, where the failing step is) and, for configure, config.log."""
    text = _read_end(log, 1 << 20)
    lines = text.splitlines()
    # The failing step is the last command the engine logged: its output alone is searched.
    start = next((i for i in range(len(lines) - 1, -1, -1) if _COMMAND_RE.match(lines[i])), 0)
    step = lines[start:]
    summary = Summary(errors=error_lines(step), tail=[ln.rstrip() for ln in lines[-tail:]])
    if phase == "configure" and build_dir is not None:
        config_log = build_dir / "config.log"
        if config_log.is_file() and any(ln.startswith("configure: error:") for ln in step):
            summary.config_log = config_log
            summary.config_lines = failing_check(config_log)
    # Error lines that are also in the tail need not be shown twice.
    if summary.errors and all(e in summary.tail for e in summary.errors) and len(step) <= tail:
        summary.errors = []
    return summary
