"""What every sub-command shares: the plugins, store and toolchain of a command, building,
the summary, and the options (argparse ``parents=``) several sub-commands take."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from ..errors import WasixError

err = Console(stderr=True, highlight=False)


def plugins_of(args: argparse.Namespace):
    """The plugins, loaded once per command (main() may have loaded them for the parser)."""
    from ..plugins import load_plugins

    loaded = getattr(args, "loaded_plugins", None)
    if loaded is None:
        loaded = load_plugins(args.plugin_dir)
        args.loaded_plugins = loaded
    if not getattr(args, "plugins_reported", False):
        args.plugins_reported = True
        for problem in loaded.errors:
            err.print(f"[yellow]warning:[/] {problem}")
    return loaded


def toolchain_of(args: argparse.Namespace):
    from ..toolchain import get_toolchain

    return get_toolchain(getattr(args, "provider", None), store=store_of(args), console=err)


def store_of(args: argparse.Namespace):
    """The command's store; a directory that is not one (``--store /``) is refused here,
    before anything is written into it or deleted from it."""
    from ..paths import store_dir
    from ..store import Store

    store = Store(Path(args.store) if getattr(args, "store", None) else store_dir())
    store.check()
    return store


#: Descriptors holding stores' shared locks until the command ends (see :func:`build_targets`).
_held: list[int] = []


def release_stores() -> None:
    """Let go of the stores the command held (``cli.main`` calls it when a command ends)."""
    import os

    while _held:
        os.close(_held.pop())


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


def build_targets(args: argparse.Namespace, targets: list[str], loaded=None):
    """Build ``targets`` (and dependencies). Returns (engine, results, summary).

    A package that cannot be built here is skipped (or, with ``--strict``, failed), one that
    fails stops the scheduling of new builds unless ``--keep-going``; either way the caller
    makes the outputs of what did build and ends with :func:`finish`.
    """
    from ..engine import Engine
    from ..summary import Summary

    loaded = loaded or plugins_of(args)
    for t in targets:
        loaded.get(t)
    from .cache import make_substituter

    executor = getattr(args, "executor", None) or "local"
    if executor.startswith("dask://"):
        from ..executors.dask import scheduler_address

        scheduler_address(executor)  # a malformed address is one error before anything runs
    elif executor != "local":
        raise WasixError(f"--executor {executor!r}: use `local` or `dask://HOST:PORT`")
    store = store_of(args)
    # Held until the command ends: `gc` removes nothing this command uses (the sysroot chosen
    # below, the entries built, the ones its outputs are copied from).
    fd = store.hold(err.print)
    if fd is not None:
        _held.append(fd)
    engine = Engine(loaded, store, toolchain_of(args), jobs=args.jobs, console=err,
                    keep_going=args.keep_going, strict=args.strict, substituter=make_substituter(args))
    if executor == "local":
        results, failures = engine.build(targets)
    else:
        from ..executors.dask import build_on_dask

        results, failures = build_on_dask(engine, targets, executor, args)
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
    """``--plugin-dir``, accepted before and after the sub-command (main() joins the two)."""
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
