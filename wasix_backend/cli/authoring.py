"""``wasix-build new | update``: commands for people writing and maintaining recipes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import WasixError
from .common import err, plugins_of


def cmd_new(args: argparse.Namespace) -> int:
    from ..scaffold import new_plugin

    folder = new_plugin(
        args.name,
        kind=args.kind,
        build_system=args.build_system,
        directory=Path(args.dir),
        from_url=args.from_url,
    )
    err.print(f"[green]✓[/] wrote {folder}/ (recipe.toml, plugin.py, patches/, tests/, pyproject.toml)")
    err.print(f"  next: edit {folder}/recipe.toml, then `wasix-build build {args.name} --plugin-dir {folder.parent}`")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from ..update import updatable, update_recipe

    loaded = plugins_of(args)
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


def cmd_self_wheel(args: argparse.Namespace) -> int:
    from ..selfwheel import write_self_wheel

    wheel = write_self_wheel(Path(args.dir))
    err.print(f"[green]✓[/] wrote {wheel}")
    err.print(f"  build a plugin distribution with it: pip wheel --find-links {args.dir} plugins/NAME")
    return 0


def register(add) -> None:  # `add`: main.make_parser's sub-command helper
    p = add("new", cmd_new, "write a new plugin folder: recipe.toml, plugin.py, patches/, tests/, pyproject.toml")
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
    p = add("self-wheel", cmd_self_wheel, "write wasix-backend's own wheel into DIR (pip wheel --find-links DIR plugins/NAME)")
    p.add_argument("dir", metavar="DIR")
