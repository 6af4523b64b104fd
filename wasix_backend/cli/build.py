"""``wasix-build list | show | graph | build | clean``: packages and building them."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GraphError, WasixError, os_error
from .common import (
    build_options,
    build_targets,
    err,
    finish,
    json_options,
    print_json,
    store_options,
    targets_of,
)

if TYPE_CHECKING:
    from ..session import Session


def cmd_list(args: argparse.Namespace, session: Session) -> int:
    loaded = session.plugins
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
        print_json(rows)
        return 0
    width = max([len(r["name"]) for r in rows] + [4])
    for row in rows:
        deps = ", ".join(row["dependencies"]) or "-"
        print(f"{row['name']:<{width}}  {row['version']:<10} {row['kind']:<8} deps: {deps:<20} plugin: {row['plugin']} ({row['origin']})")
    return 0


def cmd_show(args: argparse.Namespace, session: Session) -> int:
    loaded = session.plugins
    r = loaded.get(args.name)
    if args.key:
        return _show_key(args, session, r.name)
    data = {
        **r.canonical(),
        "sources": [s.describe() for s in r.sources],
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
        print_json(data)
    else:
        from ..textfmt import format_tree

        print("\n".join(format_tree(data)))
    return 0


def _show_key(args: argparse.Namespace, session: Session, name: str) -> int:
    """``show --key``: what the package's store key is made of, and what changed."""
    from ..keydiff import explain, format_report

    store = session.store
    engine = session.engine(substitute=False)
    _, keys, problems = engine.plan([name])
    if name in problems:
        raise problems[name]
    if name not in keys:
        raise WasixError(f"{name}: no key: a dependency cannot be planned ({', '.join(problems)})")
    report = explain(name, engine.key_inputs[name], store)
    if args.json:
        print_json(report)
    else:
        print("\n".join(format_report(report)))
    return 0


def cmd_graph(args: argparse.Namespace, session: Session) -> int:
    from ..graph import closure, closure_each, to_dot

    loaded = session.plugins
    if args.names:
        order, problems = closure(loaded.recipes, [loaded.resolve(n) for n in args.names]), list[GraphError]()
    else:  # the whole graph: one broken corner must not hide the rest
        order, problems = closure_each(loaded.recipes, sorted(loaded.recipes))
    if args.json:
        print_json({n: [d.name for d in loaded.recipes[n].deps] for n in order})
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


def cmd_build(args: argparse.Namespace, session: Session) -> int:
    loaded = session.plugins
    targets = targets_of(args, loaded)
    engine, results, summary = build_targets(args, session, targets)
    if args.check:
        status = finish(args, summary, {})
        return _check(engine, targets, results) or status
    from ..fsutil import atomic_copy

    out = Path(args.out) / "bin"
    store = session.store
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
        for path in written.values():
            err.print(f"  → {path} ({Path(path).stat().st_size:,} bytes)")
        for name in (t for t in targets if t in results and loaded.recipes[t].data):
            guests = ", ".join(sorted(loaded.recipes[name].data))
            err.print(f"  note: {name} reads its data at {guests}, which a bare module does not carry: its Wasmer "
                      f"package and wheel do (wasix-build wasmer|wheel {name})")
    if targets and all(r.cached for r in results.values()) and set(targets) <= set(results):
        from .. import fastpath
        from ..paths import builtin_plugins_dir

        # A no-op: the next identical invocation may replay this answer (wasix_backend.fastpath).
        fastpath.offer(fastpath.build_inputs(
            [f for files in loaded.files.values() for f in files],
            [*session.options.plugin_dirs, builtin_plugins_dir()], [r.path for r in results.values()], []),
            produced=[Path(d) for d in written.values()])  # fmt: skip
    return finish(args, summary, written)


def _check(engine, targets: list[str], results) -> int:
    """``build --check``: rebuild each stored target and compare it file by file."""
    from ..check import check

    status = 0
    for name in (t for t in targets if t in results):
        deps = {d: results[d].path for d in engine._key_deps(name)}
        err.print(f"checking {name}: rebuilding into a scratch store …")
        outcome = check(engine, name, results[name], deps)
        if outcome.reproducible:
            err.print(f"[green]✓[/] {name}: the rebuild matches {outcome.entry} file by file")
            continue
        status = 1
        err.print(f"[red]✗[/] {name}: not reproducible: {len(outcome.differences)} file(s) differ from {outcome.entry}")
        for rel, how in outcome.differences.items():
            err.print(f"    {rel}: {how}")
    return status


def cmd_clean(args: argparse.Namespace, session: Session) -> int:
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
        err.print(f"removed {out}")
    if args.store_too:
        store = session.store
        n = store.remove_entries()
        err.print(f"removed {n} store entries from {store.root}")
    return 0


def register(add) -> None:  # `add`: main.make_parser's sub-command helper
    p = add("list", cmd_list, "list the known packages", parents=[json_options()])
    p = add("show", cmd_show, "show one package's recipe", parents=[json_options(), store_options()])
    p.add_argument("name")
    p.add_argument("--key", action="store_true",
                   help="what the package's store key is made of, and what changed since its newest stored build")
    p.add_argument("--provider", default=None, help="toolchain provider for --key (default: as `build`)")
    p = add("graph", cmd_graph, "print the dependency graph in build order", parents=[json_options()])
    p.add_argument("names", nargs="*")
    p.add_argument("--dot", action="store_true", help="Graphviz output")
    p = add("build", cmd_build, "build packages; programs land in OUT/bin/NAME.wasm", parents=[build_options()])
    p.add_argument("--check", action="store_true",
                   help="rebuild the named packages into a scratch store and compare with the stored entries file by file")
    p = add("clean", cmd_clean, "remove the output directory (and with --store-too, the build store's entries)")
    p.add_argument("--out", default="dist", help="output directory (default: dist)")
    p.add_argument("--store", default=None, help="the store --store-too empties (default: $WASIX_STORE or the user cache)")
    p.add_argument("--store-too", "--store-entries", dest="store_too", action="store_true", help="also empty the build store")
