"""``wasix-build new | update | test | schema``: commands for people writing and maintaining recipes."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WasixError
from .common import build_options, build_targets, err, finish, targets_of

if TYPE_CHECKING:
    from ..session import Session


def cmd_new(args: argparse.Namespace, session: Session) -> int:
    from ..scaffold import new_plugin

    folder = new_plugin(
        args.name,
        kind=args.kind,
        build_system=args.build_system,
        directory=Path(args.dir),
        from_url=args.from_url,
    )
    written = ", ".join(sorted((p.name + "/" if p.is_dir() else p.name) for p in folder.iterdir()))
    err.print(f"[green]✓[/] wrote {folder}/ ({written})")
    err.print(f"  next: edit {folder}/recipe.toml, then `wasix-build build {args.name} --plugin-dir {folder.parent}`")
    return 0


def cmd_update(args: argparse.Namespace, session: Session) -> int:
    from ..update import updatable, update_recipe

    loaded = session.plugins
    recipes = updatable(loaded.recipes, args.names or None)
    if not recipes:
        err.print("no recipe has an [update] table: nothing to check")
        return 0
    status = 0
    for recipe in recipes:
        try:
            result = update_recipe(recipe, check=args.check)
        except WasixError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(result.describe(args.check))
    return status


def cmd_self_wheel(args: argparse.Namespace, session: Session) -> int:
    from ..selfwheel import write_self_wheel

    wheel = write_self_wheel(Path(args.dir))
    err.print(f"[green]✓[/] wrote {wheel}")
    err.print(f"  build a plugin distribution with it: pip wheel --find-links {args.dir} plugins/NAME")
    return 0


def cmd_test(args: argparse.Namespace, session: Session) -> int:
    """Build the named programs and run their plugins' cases.toml: each case natively and
    under Wasmer, compared (the collection's differential runner, for any plugin)."""
    from ..difftest import CasesError, judge, load_cases, native_builds
    from ..errors import MissingRequirement
    from ..nativebuild import native_build
    from ..rundeps import sandbox_of

    loaded = session.plugins
    names = targets_of(args, loaded, programs_only=True)
    suites = {}
    for name in names:
        recipe = loaded.get(name)
        path = recipe.plugin_dir / "cases.toml" if recipe.plugin_dir else None
        if path is None or not path.is_file():
            raise WasixError(f"{name}: no cases.toml in its plugin folder ({recipe.plugin_dir}): nothing to test "
                             "(docs/plugins.md, Differential tests)")
        try:
            suites[name] = load_cases(path, plugin=name)
        except CasesError as exc:
            raise WasixError(str(exc)) from None
    _, results, summary = build_targets(args, session, names)
    status = finish(args, summary, {})
    counts: dict[str, int] = {}
    scratch = tempfile.TemporaryDirectory(prefix="wasix-test-native-")
    for name in (n for n in names if n in results):
        recipe = loaded.recipes[name]
        # The package's commands and data, then those of the packages whose commands it runs.
        modules, data = sandbox_of(loaded.recipes, name, {n: r.path for n, r in results.items()}, loaded.registry)
        natives: dict[str, Path] = {}
        if native_builds(suites[name]):  # `native = "build:BIN"`: its own sources, built for this machine
            err.print(f"{name}: building its own sources for this machine (the native side)")
            try:
                natives = native_build(recipe, loaded, Path(scratch.name) / name)
            except MissingRequirement as exc:
                err.print(f"[yellow]{name}: no native build here[/]: {exc.reason}")
        for case in suites[name]:
            if args.k and args.k not in case.name:
                continue
            verdict = judge(case, modules, data, natives)
            counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
            mark = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "xpass": "[red]XPASS[/]",
                    "xfail": "[yellow]xfail[/]", "skip": "[yellow]skip[/]"}[verdict.outcome]  # fmt: skip
            err.print(f"{mark} {case.id}" + (f": {verdict.details[0]}" if verdict.outcome in ("skip", "xfail") else ""),
                      markup=True)  # fmt: skip
            if verdict.failed:
                for detail in verdict.details:
                    print(detail.rstrip("\n"), file=sys.stderr)
                status = status or 1
    scratch.cleanup()
    order = ("pass", "fail", "xpass", "xfail", "skip")
    err.print(", ".join(f"{counts[k]} {k}" for k in order if k in counts) or "no cases ran")
    return status


def cmd_schema(args: argparse.Namespace, session: Session) -> int:
    """The JSON schema of ``recipe.toml`` (with the loaded plugins' build systems) or of
    ``cases.toml``, on stdout or written all or nothing to ``--output``."""
    from ..fsutil import atomic_write_bytes
    from ..schema_docs import json_schema

    registry = session.plugins.registry if args.file == "recipe" else None
    text = json_schema(args.file, registry)
    if args.output:
        atomic_write_bytes(Path(args.output), text.encode())
        err.print(f"wrote {args.output}", soft_wrap=True)  # a path, whole
    else:
        sys.stdout.write(text)
    return 0


def register(add) -> None:  # `add`: main.make_parser's sub-command helper
    p = add("new", cmd_new, "write a new plugin folder: recipe.toml, plugin.py, patches/, cases.toml, pyproject.toml")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--kind", choices=["program", "library"], default="program")
    p.add_argument("--build-system", default=None, metavar="SYSTEM",
                   help="a registered build system (autotools, make, cmake, cargo, or a plugin's); "
                        "default: guessed from the archive with --from-url, else autotools")
    p.add_argument("--dir", default="plugins", help="parent folder of the new plugin (default: plugins)")
    p.add_argument("--from-url", default=None, metavar="URL",
                   help="download this source archive: fills in version, sha256 and the build system")
    p = add("update", cmd_update, "look for newer upstream releases ([update] tables) and rewrite the pins")
    p.add_argument("names", nargs="*", metavar="NAME", help="default: every recipe with an [update] table")
    p.add_argument("--check", action="store_true", help="only report; change nothing")
    p = add("test", cmd_test, "build programs and run their plugins' cases.toml, natively and under Wasmer, compared",
            parents=[build_options()])
    p.add_argument("-k", default="", metavar="TEXT", help="only the cases whose name contains TEXT")
    p = add("schema", cmd_schema, "print the JSON schema of recipe.toml (with the loaded plugins' build systems) or "
            "cases.toml, for editors and other checkers")
    p.add_argument("file", nargs="?", choices=["recipe", "cases"], default="recipe", help="which file (default: recipe)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write it to FILE instead of stdout")
    p = add("self-wheel", cmd_self_wheel, "write wasix-backend's own wheel into DIR (pip wheel --find-links DIR plugins/NAME)")
    p.add_argument("dir", metavar="DIR")
