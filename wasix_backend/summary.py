"""The end-of-command summary of ``build``, ``wasmer`` and ``wheel``: one row per package.

Statuses: *built*, *cached* (from the store), *pulled* (from a binary cache, ``--substituter``), *skipped* (something it needs is missing on
this machine: the row says what and how to get it), *failed*. The exit status is 1 only when
something failed, so "build everything that can be built here" succeeds on a machine
without, say, Rust; ``--strict`` makes the engine count skips as failures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import BuildError, MissingRequirement, WasixError

if TYPE_CHECKING:
    from .engine import BuildFailure, BuildResult

_STYLE = {"built": "green", "cached": "green", "pulled": "green", "skipped": "yellow", "failed": "red"}


@dataclass
class Row:
    name: str
    version: str
    status: str
    seconds: float = 0.0
    reason: str = ""
    how: str = ""
    error: WasixError | None = None
    store: Path | None = None
    sizes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "cached": self.status == "cached",
            "seconds": round(self.seconds, 2),
            "reason": self.reason,
            "how": self.how,
            "store": str(self.store) if self.store else None,
            "sizes": self.sizes,
        }


def _reason(name: str, error: WasixError) -> str:
    """One line for the table; the full message is printed above it."""
    if isinstance(error, MissingRequirement):
        return error.reason
    first = str(error).splitlines()[0].removeprefix(f"{name}: ")
    if isinstance(error, BuildError) and error.log is not None:
        first += f" (log: {error.log})"
    return first


class Summary:
    """What happened to every package of one command."""

    def __init__(self, results: dict[str, BuildResult], failures: list[BuildFailure]) -> None:
        self.rows: dict[str, Row] = {}
        for r in results.values():
            status = "pulled" if r.pulled else "cached" if r.cached else "built"
            self.rows[r.name] = Row(r.name, r.version, status, r.seconds, "; ".join(r.notes), store=r.path, sizes=r.sizes)
        for f in failures:
            how = f.error.how if isinstance(f.error, MissingRequirement) else ""
            self.rows[f.name] = Row(f.name, f.version, f.status, f.seconds, _reason(f.name, f.error), how, f.error)

    def output_failed(self, name: str, error: WasixError) -> None:
        """A package built, but writing its Wasmer package or wheel did not work."""
        row = self.rows[name]
        row.status, row.reason, row.error = "failed", _reason(name, error), error

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows.values() if r.status == "failed"]

    def as_json(self) -> list[dict[str, object]]:
        return [self.rows[n].as_dict() for n in sorted(self.rows)]

    def report(self, console: Console) -> int:
        """Print every problem in full, then the table; return the exit status."""
        for row in (self.rows[n] for n in sorted(self.rows)):
            if row.error is not None:
                label = "skipped" if row.status == "skipped" else "error"
                print(f"{label}: {row.name}: {str(row.error).removeprefix(f'{row.name}: ')}", file=sys.stderr)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ("package", "version", "status", "seconds", "reason"):
            table.add_column(column, justify="right" if column == "seconds" else "left", overflow="fold")
        rows = [self.rows[n] for n in sorted(self.rows)]
        for row in rows:
            style = _STYLE[row.status]
            table.add_row(row.name, row.version, Text(row.status, style=style), f"{row.seconds:.1f}", Text(row.reason))
        console.print(table)
        hints: dict[str, list[str]] = {}  # one line per way to get something, naming who needs it
        for row in rows:
            if row.how and row.status == "skipped":
                hints.setdefault(row.how, []).append(row.name)
        for how, names in hints.items():
            console.print(Text(f"to build {', '.join(names)}: {how}"), soft_wrap=True)
        counts = {s: sum(r.status == s for r in rows) for s in _STYLE}
        console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n), highlight=False)
        return 1 if self.failed else 0
