"""Output sub-commands (``wasix-build wasmer | wheel | index | …``), one per registered
:class:`~wasix_backend.registry.OutputFormat`: turning store entries into things people install."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WasixError, os_error
from .common import build_options, build_targets, err, finish, targets_of

if TYPE_CHECKING:
    from ..registry import OutputFormat, Registry
    from ..session import Session


def run_output(args: argparse.Namespace, session: Session) -> int:
    """Build the named programs (a library is an error naming the format), write the format
    for each one that built (one that cannot be written fails that package only), then print
    the summary; the exit status. A format that is not per package is written once."""
    from ..registry import OutputJob
    from ..rundeps import runtime_closure

    loaded = session.plugins
    fmt: OutputFormat = loaded.registry.outputs[args.output_format]
    out = Path(args.out)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731  plain: commands must paste as printed
    if not fmt.per_package:
        try:
            for path in fmt.write(OutputJob(None, None, out, args, say)):
                err.print(f"  → {path}")
        except OSError as exc:
            raise os_error(exc, out, "output", "pass --out DIR") from None
        return 0
    names = targets_of(args, loaded, programs_only=True)
    for name in names:
        if loaded.get(name).kind != "program":
            raise WasixError(f"{name} is a library; {fmt.name} outputs are made for programs (build a program that uses it)")
    # The packages whose commands they run are written too: they install and run together.
    for name in list(names):
        names += [d for d in runtime_closure(loaded.recipes, name, loaded.registry) if d not in names]
    _, results, summary = build_targets(args, session, names)
    entries = session.store
    written: dict[str, list[str]] = {}
    for name in (t for t in names if t in results):
        entry = results[name].path
        try:
            paths = fmt.write(OutputJob(loaded.recipes[name], entry, out, args, say, loaded.recipes))
        except OSError as exc:  # the writers leave nothing half-written: one line naming where
            summary.output_failed(name, os_error(exc, out, "output", "pass --out DIR"))
            continue
        except WasixError as exc:
            summary.output_failed(name, exc)
            continue
        written[name] = [str(p) for p in paths]
        for path in paths:
            entries.add_root(path, entry)
            size = f" ({path.stat().st_size:,} bytes)" if path.is_file() else ""
            err.print(f"  → {path}{size}")
    return finish(args, summary, written)


def register(add, registry: Registry | None) -> None:  # `add`: main.make_parser's sub-command helper
    """One sub-command per output format of ``registry`` (None: the command line was parsed
    for a built-in command, and plugins were not loaded to save the time)."""
    for fmt in (registry.outputs.values() if registry else ()):
        p = add(fmt.name, run_output, fmt.help, parents=[build_options()] if fmt.per_package else [])
        p.set_defaults(output_format=fmt.name)
        if not fmt.per_package:
            p.add_argument("--out", default="dist", help="output directory (default: dist)")
        if fmt.add_arguments is not None:
            fmt.add_arguments(p)
