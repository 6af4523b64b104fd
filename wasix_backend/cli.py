"""``wasix-build``: the command line.

Each sub-command is a small function taking the parsed arguments and returning an exit
status; user-facing errors (:class:`WasixError`) become one clear message and status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from . import __version__
from .errors import WasixError, os_error

err = Console(stderr=True, highlight=False)
Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------- helpers
def _plugins(args: argparse.Namespace):
    from .plugins import load_plugins

    loaded = load_plugins(args.plugin_dir)
    for problem in loaded.errors:
        err.print(f"[yellow]warning:[/] {problem}")
    return loaded


def _toolchain(args: argparse.Namespace):
    from .toolchain import select_toolchain

    return select_toolchain(getattr(args, "provider", None), store=_store(args), console=err)


def _store(args: argparse.Namespace):
    from .paths import store_dir
    from .store import Store

    return Store(Path(args.store) if getattr(args, "store", None) else store_dir())


def _targets(args: argparse.Namespace, loaded, *, programs_only: bool = False) -> list[str]:
    if args.all:
        names = sorted(loaded.recipes)
        if programs_only:
            names = [n for n in names if loaded.recipes[n].kind == "program"]
        return names
    if not args.names:
        raise WasixError("name at least one package, or pass --all")
    # `lua5.4`, `lua5-4` and the wheel's spelling `wasix-lua5-4` all name recipe `lua5.4`.
    return [loaded.resolve(n) for n in args.names]


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def build_targets(args: argparse.Namespace, targets: list[str], loaded=None):
    """Build ``targets`` (and dependencies). Returns (loaded, results, summary).

    A package that cannot be built here is skipped (or, with ``--strict``, failed), one that
    fails stops the scheduling of new builds unless ``--keep-going``; either way the caller
    makes the outputs of what did build and ends with :func:`finish`.
    """
    from .engine import Engine
    from .summary import Summary

    loaded = loaded or _plugins(args)
    for t in targets:
        loaded.get(t)
    engine = Engine(loaded, _store(args), _toolchain(args), jobs=args.jobs, console=err,
                    keep_going=args.keep_going, strict=args.strict)
    results, failures = engine.build(targets)
    return loaded, results, Summary(results, failures)


def finish(args: argparse.Namespace, summary, outputs: dict[str, object]) -> int:
    """Print the summary (and with ``--json`` the machine-readable one); the exit status."""
    if args.json:
        _print_json({"packages": summary.as_json(), "outputs": outputs})
    return summary.report(err)


# ---------------------------------------------------------------------------- commands
def cmd_list(args: argparse.Namespace) -> int:
    loaded = _plugins(args)
    rows = [
        {
            "name": r.name,
            "version": r.version,
            "kind": r.kind,
            "dependencies": [str(d) for d in r.deps],
            "plugin": r.plugin,
            "origin": loaded.origins.get(r.plugin, ""),
        }
        for r in sorted(loaded.recipes.values(), key=lambda r: r.name)
    ]
    if args.json:
        _print_json(rows)
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    for row in rows:
        deps = ", ".join(row["dependencies"]) or "-"
        print(f"{row['name']:<{width}}  {row['version']:<10} {row['kind']:<8} deps: {deps:<20} plugin: {row['plugin']} ({row['origin']})")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    loaded = _plugins(args)
    r = loaded.get(args.name)
    data = {
        **r.canonical(),
        "description": r.description,
        "license": r.license,
        "homepage": r.homepage,
        "patches": [str(p) for p in r.patches],
        "commands": r.command_map(),
        "plugin": r.plugin,
        "origin": loaded.origins.get(r.plugin, ""),
        "plugin_dir": str(r.plugin_dir or ""),
    }
    if args.json:
        _print_json(data)
    else:
        from .textfmt import format_tree

        print("\n".join(format_tree(data)))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from .graph import closure, closure_each, to_dot

    loaded = _plugins(args)
    if args.names:
        order, problems = closure(loaded.recipes, [loaded.resolve(n) for n in args.names]), []
    else:  # the whole graph: one broken corner must not hide the rest
        order, problems = closure_each(loaded.recipes, sorted(loaded.recipes))
    if args.json:
        _print_json({n: [d.name for d in loaded.recipes[n].deps] for n in order})
    elif args.dot:
        print(to_dot(loaded.recipes, order))
    else:
        for n in order:
            deps = ", ".join(str(d) for d in loaded.recipes[n].deps)
            print(f"{n}" + (f"  <- {deps}" if deps else ""))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        left_out = sorted(set(loaded.recipes) - set(order))
        print(f"error: left out of the graph because of the above: {', '.join(left_out)}", file=sys.stderr)
    return 1 if problems else 0


def cmd_build(args: argparse.Namespace) -> int:
    loaded = _plugins(args)
    targets = _targets(args, loaded)
    _, results, summary = build_targets(args, targets, loaded)
    from .fsutil import atomic_copy

    out = Path(args.out) / "bin"
    store = _store(args)
    written = {}
    for name in (t for t in targets if t in results):
        recipe, result = loaded.recipes[name], results[name]
        for binary in recipe.binaries:
            dest = out / f"{binary}.wasm"
            try:  # unique temp name, then rename: concurrent builds never splice a file
                atomic_copy(result.path / "bin" / f"{binary}.wasm", dest)
            except OSError as exc:
                raise os_error(exc, dest, "output", "pass --out DIR") from None
            store.add_root(dest, result.path)
            written[binary] = str(dest)
    if not args.json:
        for dest in written.values():
            err.print(f"  → {dest} ({Path(dest).stat().st_size:,} bytes)")
    return finish(args, summary, written)


def cmd_clean(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
        err.print(f"removed {out}")
    if args.store_too:
        store = _store(args)
        n = store.remove_entries()
        err.print(f"removed {n} store entries from {store.root}")
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from .toolchain.shell import shell_env

    tc = _toolchain(args)
    env = {**os.environ, **shell_env(tc)}
    command = args.command or [os.environ.get("SHELL", "/bin/sh")]
    if command and command[0] == "--":
        command = command[1:]
    if not args.command:
        err.print(f"wasix-build shell: {tc.provider} toolchain; CC={env.get('CC')}; exit to leave")
    os.execvpe(command[0], command, env)
    return 0  # not reached


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import format_module_info, inspect_module

    info = inspect_module(Path(args.file))
    if args.json:
        _print_json(info.__dict__)
    else:
        print(format_module_info(info))
    return 0


def cmd_toolchain(args: argparse.Namespace) -> int:
    from .toolchain import install as tc_install

    pins = Path(args.pins) if args.pins else None
    if args.action == "install":
        tc_install.install(args.components or None, pins=pins)
        err.print("[green]✓[/] toolchain installed")
        return 0
    report = {"components": tc_install.status(pins=pins)}
    try:
        report["active"] = _toolchain(args).describe()
    except WasixError as exc:
        report["active"] = {"error": str(exc)}
    try:
        from .rust import describe as rust_describe

        report["rust"] = rust_describe()
    except ImportError:
        pass
    if args.json:
        _print_json(report)
        return 0
    from .textfmt import format_tree

    print("active provider:")
    print("\n".join(format_tree(report["active"], 2)))
    print("pinned upstream components:")
    for c in report["components"]:
        state = "installed at " + str(c.get("path")) if c.get("installed") else "not installed"
        print(f"  {c['name']} {c['version']}: {state}")
    if "rust" in report:
        print("rust:")
        print("\n".join(format_tree(report["rust"], 2)))
    return 0


# ---------------------------------------------------------------------------- parser
def _common(p: argparse.ArgumentParser, dest: str = "plugin_dir") -> None:
    # Accepted before and after the sub-command; main() joins the two lists.
    p.add_argument("--plugin-dir", action="append", type=Path, default=[], metavar="DIR", dest=dest,
                   help="load plugins from DIR (a plugin folder or a folder of them); repeatable")


def _build_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every package")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel builds (default: cores)")
    p.add_argument("--out", default="dist", help="output directory (default: dist)")
    p.add_argument("--store", default=None, help="store directory (default: $WASIX_STORE or the user cache)")
    p.add_argument("--provider", default=None, help="toolchain provider: wasix or zig (default: $WASIX_PROVIDER, else wasix where clang >= 19 is installed, its sysroot built on first use, else zig)")
    p.add_argument("--keep-going", action="store_true", help="build what can be built after a failure")
    p.add_argument("--strict", action="store_true",
                   help="a package that cannot be built here (missing compiler or sources) fails instead of being skipped")
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wasix-build", description="Cross-compile C and Rust packages to WASIX.")
    parser.add_argument("--version", action="version", version=f"wasix-build {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, dest="plugin_dir_after")
        p.set_defaults(handler=handler)
        return p

    p = add("list", cmd_list, "list the known packages")
    p.add_argument("--json", action="store_true")
    p = add("show", cmd_show, "show one package's recipe")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p = add("graph", cmd_graph, "print the dependency graph in build order")
    p.add_argument("names", nargs="*")
    p.add_argument("--json", action="store_true")
    p.add_argument("--dot", action="store_true", help="Graphviz output")
    _build_opts(add("build", cmd_build, "build packages; programs land in OUT/bin/NAME.wasm"))
    p = add("clean", cmd_clean, "remove the output directory (and with --store-too, the build store's entries)")
    p.add_argument("--out", default="dist", help="output directory (default: dist)")
    p.add_argument("--store", default=None, help="the store --store-too empties (default: $WASIX_STORE or the user cache)")
    p.add_argument("--store-too", "--store-entries", dest="store_too", action="store_true", help="also empty the build store")
    p = add("shell", cmd_shell, "a shell (or `-- COMMAND`) with CC, CFLAGS … set for the active toolchain")
    p.add_argument("--provider", default=None)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = add("inspect", cmd_inspect, "imports, exports, memories and WASIX/WASI verdict of a module")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p = add("toolchain", cmd_toolchain, "install the pinned WASIX toolchain, or show its status")
    p.add_argument("action", choices=["install", "status"])
    p.add_argument("components", nargs="*")
    p.add_argument("--pins", default=None, help="pins file (default: the project's toolchain/pins.toml)")
    p.add_argument("--provider", default=None)
    p.add_argument("--json", action="store_true")
    for extra in _extra_commands():
        extra(add)
    return parser


def _extra_commands() -> list[Callable[..., None]]:
    """Sub-commands defined next to the code they drive (outputs, scaffolding, updates)."""
    from . import cli_authoring, cli_maintenance, cli_outputs

    return [cli_outputs.register, cli_authoring.register, cli_maintenance.register]


def signal_name(status: int) -> str:
    import signal

    try:
        return signal.Signals(status - 128).name
    except ValueError:
        return f"status {status}"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    args.plugin_dir = [*args.plugin_dir, *getattr(args, "plugin_dir_after", [])]
    from .interrupt import Interrupted, handle_signals, reset

    reset()  # a new command (in-process callers may run several)
    try:
        with handle_signals():  # SIGTERM stops a build like Ctrl-C: children, staging, status
            return args.handler(args)
    except WasixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        status = exc.status if isinstance(exc, Interrupted) else 130
        print(f"interrupted ({signal_name(status)}): nothing half-built was kept", file=sys.stderr)
        return status
    except BrokenPipeError:  # `wasix-build … | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a write no command anticipated: still one line, with the path
        print(f"error: {exc.filename or type(exc).__name__}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
