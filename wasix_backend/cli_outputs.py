"""``wasix-build wasmer | wheel | index``: turning store entries into things people install."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WasixError, os_error

if TYPE_CHECKING:
    from .recipe import Recipe


def _make_outputs(args: argparse.Namespace, what: str, write: Callable[[Recipe, Path], list[Path]]) -> int:
    """Build the named programs (a library is an error naming ``what``), ``write`` the
    outputs of each one that built (one that cannot be written fails that package only),
    then print the summary; the exit status."""
    from .cli import _plugins, _targets, build_targets, err, finish

    loaded = _plugins(args)
    targets = _targets(args, loaded, programs_only=True)
    for name in targets:
        if loaded.get(name).kind != "program":
            raise WasixError(f"{name} is a library: {what} are made for programs (build a program that uses it)")
    _, results, summary = build_targets(args, targets, loaded)
    written: dict[str, list[str]] = {}
    for name in (t for t in targets if t in results):
        try:
            paths = write(loaded.recipes[name], results[name].path)
        except WasixError as exc:
            summary.output_failed(name, exc)
            continue
        written[name] = [str(p) for p in paths]
        for path in paths:
            size = f" ({path.stat().st_size:,} bytes)" if path.is_file() else ""
            err.print(f"  → {path}{size}")
    return finish(args, summary, written)


@contextmanager
def _writing(args: argparse.Namespace, dest: Path, entry: Path | None) -> Iterator[None]:
    """Around one output's writer: a failed write is one line naming ``dest`` (the writers
    leave nothing half-written); a finished one is recorded as a root of its store entry."""
    try:
        yield
    except OSError as exc:
        raise os_error(exc, dest, "output", "pass --out DIR") from None
    if entry is not None:
        from .cli import _store

        _store(args).add_root(dest, entry)


def cmd_wasmer(args: argparse.Namespace) -> int:
    from .outputs.wasmer_pkg import write_wasmer_package
    from .outputs.webc import write_webc
    from .versions import webc_filename

    out = Path(args.out)

    def write(recipe: Recipe, prefix: Path) -> list[Path]:
        pkg_dir = out / "pkg" / recipe.name
        with _writing(args, pkg_dir, prefix):
            write_wasmer_package(recipe, prefix, out, namespace=args.namespace)
        paths = [pkg_dir / "wasmer.toml"]
        if not args.no_webc:
            webc = out / webc_filename(recipe.name, recipe.version)
            with _writing(args, webc, prefix):
                write_webc(pkg_dir, webc)
            paths.append(webc)
        return paths

    return _make_outputs(args, "Wasmer packages", write)


def cmd_wheel(args: argparse.Namespace) -> int:
    from .outputs.wheel import wheel_filename, write_wheel

    def write(recipe: Recipe, prefix: Path) -> list[Path]:
        dest = Path(args.out) / "wheels" / wheel_filename(recipe)
        with _writing(args, dest, prefix):
            write_wheel(recipe, prefix, dest.parent)
        return [dest]

    return _make_outputs(args, "wheels", write)


def cmd_index(args: argparse.Namespace) -> int:
    from packaging.utils import parse_wheel_filename

    from .cli import err
    from .outputs.index import write_index

    out = Path(args.out)
    wheels = out / "wheels"
    if not any(wheels.glob("*.whl")):
        raise WasixError(f"no wheels in {wheels}: run `wasix-build wheel --all` first")
    with _writing(args, out / "simple", None):
        simple = write_index(wheels, out / "simple")
    err.print(f"  → {simple}/index.html")
    # --find-links, not --index-url: pip then asks the index it is configured with for the
    # wheels' dependencies (wasmer-sdk) instead of looking for them in dist/simple/.
    links = shlex.quote(str(wheels.absolute()))
    for project in sorted({parse_wheel_filename(w.name)[0] for w in wheels.glob("*.whl")}):
        print(f"  install: pip install --find-links {links} {project}", file=sys.stderr)
    return 0


def register(add) -> None:  # `add` is cli.make_parser's sub-command helper
    from .cli import _build_opts

    p = add("wasmer", cmd_wasmer, "Wasmer packages: OUT/pkg/NAME/wasmer.toml and OUT/NAME-SEMVER.webc")
    _build_opts(p)
    p.add_argument("--namespace", default=None, help="package owner (default: the recipe's, else 'wasmer')")
    p.add_argument("--no-webc", action="store_true", help="only the package directory")
    _build_opts(add("wheel", cmd_wheel, "Python wheels carrying the .wasm: OUT/wheels/wasix_NAME-…whl"))
    p = add("index", cmd_index, "a PEP 503 simple index of OUT/wheels at OUT/simple")
    p.add_argument("--out", default="dist")
