"""``wasix-build wasmer | wheel | index``: turning store entries into things people install."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import WasixError


def cmd_wasmer(args: argparse.Namespace) -> int:
    from .cli import _plugins, _targets, build_targets, err, finish
    from .outputs.wasmer_pkg import write_wasmer_package
    from .outputs.webc import write_webc

    loaded = _plugins(args)
    targets = _targets(args, loaded, programs_only=True)
    for name in targets:
        if loaded.get(name).kind != "program":
            raise WasixError(f"{name} is a library: Wasmer packages are made for programs")
    _, results, failure = build_targets(args, targets, loaded)
    out = Path(args.out)
    for name in (t for t in targets if t in results):
        recipe = loaded.recipes[name]
        pkg_dir = write_wasmer_package(recipe, results[name].path, out, namespace=args.namespace)
        err.print(f"  → {pkg_dir}/wasmer.toml")
        if not args.no_webc:
            webc = write_webc(pkg_dir, out / f"{recipe.name}-{recipe.version}.webc")
            err.print(f"  → {webc} ({webc.stat().st_size:,} bytes)")
    return finish(failure)


def cmd_wheel(args: argparse.Namespace) -> int:
    from .cli import _plugins, _targets, build_targets, err, finish
    from .outputs.wheel import write_wheel

    loaded = _plugins(args)
    targets = _targets(args, loaded, programs_only=True)
    for name in targets:
        if loaded.get(name).kind != "program":
            raise WasixError(f"{name} is a library: wheels are made for programs (build a program that uses it)")
    _, results, failure = build_targets(args, targets, loaded)
    for name in (t for t in targets if t in results):
        wheel = write_wheel(loaded.recipes[name], results[name].path, Path(args.out) / "wheels")
        err.print(f"  → {wheel}")
    return finish(failure)


def cmd_index(args: argparse.Namespace) -> int:
    from .cli import err
    from .outputs.index import write_index

    out = Path(args.out)
    wheels = out / "wheels"
    if not any(wheels.glob("*.whl")):
        raise WasixError(f"no wheels in {wheels}: run `wasix-build wheel --all` first")
    simple = write_index(wheels, out / "simple")
    err.print(f"  → {simple}/index.html  (pip install --index-url {simple.absolute().as_uri()} …)")
    return 0


def register(add) -> None:  # `add` is cli.make_parser's sub-command helper
    from .cli import _build_opts

    p = add("wasmer", cmd_wasmer, "Wasmer packages: OUT/pkg/NAME/wasmer.toml and OUT/NAME-VERSION.webc")
    _build_opts(p)
    p.add_argument("--namespace", default=None, help="package owner (default: the recipe's, else 'wasmer')")
    p.add_argument("--no-webc", action="store_true", help="only the package directory")
    _build_opts(add("wheel", cmd_wheel, "Python wheels carrying the .wasm: OUT/wheels/wasix_NAME-…whl"))
    p = add("index", cmd_index, "a PEP 503 simple index of OUT/wheels at OUT/simple")
    p.add_argument("--out", default="dist")
