"""What every sub-command shares: the command's session (its plugins, store, toolchain, caches
and engine), building, the summary, and the options (argparse ``parents=``) several
sub-commands take."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from ..errors import WasixError

if TYPE_CHECKING:
    from ..plugins import LoadedPlugins
    from ..session import Session, SessionOptions

err = Console(stderr=True, highlight=False)


def session_options(args: argparse.Namespace) -> SessionOptions:
    """The session a command's options ask for; options a sub-command lacks keep their
    defaults (``push`` has no ``--jobs``, ``list`` no ``--store``)."""
    # Here, not at the top: the engine and plugin machinery would triple the start-up time of
    # commands that never build (``--version``, ``inspect``, ``cache keygen``).
    from ..session import SessionOptions, substituters_from_env

    store = getattr(args, "store", None)
    return SessionOptions(
        # --plugin-dir is accepted before and after the sub-command: the two lists, in order.
        plugin_dirs=(*args.plugin_dir, *getattr(args, "plugin_dir_after", [])), store=Path(store) if store else None,
        provider=getattr(args, "provider", None), jobs=getattr(args, "jobs", None),
        keep_going=getattr(args, "keep_going", False), strict=getattr(args, "strict", False),
        substituters=substituters_from_env(getattr(args, "substituter", None) or []),
        progress=not getattr(args, "json", False),
    )  # fmt: skip


def open_session(args: argparse.Namespace, plugins: LoadedPlugins | None = None) -> Session:
    """The command's session (``plugins``: those ``main`` loaded to make the parser)."""
    from ..session import Session  # start-up time, as above

    return Session(session_options(args), console=err, plugins=plugins,
                   warn=lambda problem: err.print(f"[yellow]warning:[/] {problem}"))


def targets_of(args: argparse.Namespace, loaded, *, programs_only: bool = False) -> list[str]:
    if args.all:
        names = sorted(loaded.recipes)
        if programs_only:
            names = [n for n in names if loaded.recipes[n].kind == "program"]
        return names
    if not args.names:
        raise WasixError("name at least one package, or pass --all")
    # `lua5.4`, `lua5-4` and the wheel's spelling `wasix-lua5-4` all name recipe `lua5.4`.
    return [loaded.resolve(n) for n in args.names]


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def build_targets(args: argparse.Namespace, session: Session, targets: list[str]):
    """Build ``targets`` (and dependencies). Returns (engine, results, summary).

    A package that cannot be built here is skipped (or, with ``--strict``, failed), one that
    fails stops the scheduling of new builds unless ``--keep-going``; either way the caller
    makes the outputs of what did build and ends with :func:`finish`.
    """
    from ..executors.dask import build_on_dask, scheduler_address  # start-up time, as above
    from ..summary import Summary

    for t in targets:
        session.plugins.get(t)
    executor = getattr(args, "executor", None) or "local"
    if executor.startswith("dask://"):
        scheduler_address(executor)  # a malformed address is one error before anything runs
    elif executor != "local":
        raise WasixError(f"--executor {executor!r}: use `local` or `dask://HOST:PORT`")
    # Held until the command ends: `gc` removes nothing this command uses (the sysroot chosen
    # below, the entries built, the ones its outputs are copied from).
    session.hold_store()
    engine = session.engine()
    if executor == "local":
        results, failures = engine.build(targets)
    else:
        results, failures = build_on_dask(session, targets, executor)
    return engine, results, Summary(results, failures)


def finish(args: argparse.Namespace, summary, outputs: Mapping[str, object]) -> int:
    """Print the summary (and with ``--json`` the machine-readable one); the exit status."""
    if args.json:
        print_json({"packages": summary.as_json(), "outputs": outputs})
    return summary.report(err)


# ---------------------------------------------------------------------------- shared options
def jobs_count(text: str) -> int:
    """``-j N``: 1 to :data:`~wasix_backend.engine.MAX_JOBS` (a huge N hangs make for ever)."""
    from ..engine import MAX_JOBS

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"a number of parallel builds from 1 to {MAX_JOBS}, got {text!r}")
    return value


def plugin_dir_options(dest: str = "plugin_dir") -> argparse.ArgumentParser:
    """``--plugin-dir``, accepted before and after the sub-command (:func:`session_options` joins the two)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--plugin-dir", action="append", type=Path, default=[], metavar="DIR", dest=dest,
                   help="load plugins from DIR (a plugin folder or a folder of them); repeatable")
    return p


def json_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return p


def store_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--store", default=None, help="store directory (default: $WASIX_STORE or the user cache)")
    return p


def build_options() -> argparse.ArgumentParser:
    """What every command that builds packages takes (build and the output formats)."""
    p = argparse.ArgumentParser(add_help=False, parents=[store_options(), json_options()])
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every package")
    p.add_argument("-j", "--jobs", type=jobs_count, default=None, help="parallel builds (default: cores)")
    p.add_argument("--out", default="dist", help="output directory (default: dist)")
    p.add_argument("--provider", default=None, help="toolchain provider: wasix, the one there is (auto means the same): clang >= 19 where installed, else ziglang's clang from PyPI, the wasix-libc sysroot built on first use")
    p.add_argument("--keep-going", action="store_true", help="build what can be built after a failure")
    p.add_argument("--strict", action="store_true",
                   help="a package that cannot be built here (missing compiler or sources) fails instead of being skipped")
    p.add_argument("--substituter", action="append", default=[], metavar="URL",
                   help="binary cache to pull finished builds from before compiling (repeatable; also $WASIX_SUBSTITUTERS)")
    p.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT",
                   help="where packages build: threads here (default), or tasks on a Dask cluster sharing the first --substituter")
    return p
