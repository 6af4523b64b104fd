"""Timing helpers for the benchmarks: running commands, summarising samples.

Every figure is the wall time of a real process started from here, so it includes what a user
waits for (interpreter start-up, imports) and nothing is timed from inside the code under test.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


class BenchError(Exception):
    """A benchmark could not be measured (a command failed, a prerequisite is missing)."""


@dataclass
class Row:
    """One figure: its samples and, when it has one, its target and whether it was met."""

    label: str
    samples: list[float]
    unit: str  # "s", "x", "%", "B"
    target: str = ""
    met: bool | None = None  # None: no target
    note: str = ""

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_json(self) -> dict[str, object]:
        doc = asdict(self)
        if self.samples:
            doc.update(min=self.min, median=self.median, max=self.max)
        return doc


@dataclass
class Section:
    """The result of one measurement function."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: "measured", or "not measured (why)".
    status: str = "measured"
    #: 1-minute load average when the measurement started and ended (other work skews it).
    load: tuple[float | None, float | None] = (None, None)

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "title": self.title,
            "status": self.status,
            "load_average": list(self.load),
            "notes": self.notes,
            "rows": [r.to_json() for r in self.rows],
        }


def ratio_row(label: str, num: Sequence[float], den: Sequence[float], *, target: float | None,
              below: bool = True, note: str = "") -> Row:
    """Per-pair ratios ``num[i] / den[i]`` (pairs measured back to back), judged on the median."""
    samples = [a / b for a, b in zip(num, den, strict=True)]
    row = Row(label, samples, "x", note=note)
    if target is not None:
        row.target = f"{'<' if below else '≥'} {target:g}x"
        row.met = row.median < target if below else row.median >= target
    return row


def wasix_build() -> list[str]:
    """The ``wasix-build`` console script of this interpreter's environment."""
    here = Path(sys.executable).parent
    for name in ("wasix-build", "wasix-build.exe"):
        if (here / name).is_file():
            return [str(here / name)]
    found = shutil.which("wasix-build")
    return [found] if found else [sys.executable, "-m", "wasix_backend"]


@dataclass
class Timed:
    seconds: float
    stdout: str
    stderr: str


def run_timed(argv: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str | None] | None = None,
              cwd: Path | None = None, what: str = "") -> Timed:
    """Run ``argv`` to completion (stdin closed, output captured); its wall time in seconds.

    ``env`` entries are added to ``os.environ`` (a ``None`` value removes the variable). A
    non-zero exit raises :class:`BenchError` with the command and the end of its stderr.
    """
    args = [os.fspath(a) for a in argv]
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    start = time.perf_counter()
    proc = subprocess.run(args, env=full_env, cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace")
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what or ' '.join(args[:4])}: exit status {proc.returncode}\n{tail}")
    return Timed(seconds, proc.stdout, proc.stderr)


def store_records(store: Path) -> list[dict[str, object]]:
    """The ``.wasix-build.json`` records of every entry of a build store."""
    records = []
    for path in sorted(Path(store).glob("*/.wasix-build.json")):
        records.append(json.loads(path.read_text()))
    return records


def last_error_line(text: str) -> str:
    """The most telling line of a failed command's output (for one-line notes)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("error:"):
            return ln
    return lines[-1] if lines else "(no output)"
