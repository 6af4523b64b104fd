"""The built-in output formats — ``wasmer`` (with ``.webc``), ``wheel``, ``web``, ``index`` — registered
through ``wasix_register`` as a plugin's would be.

The writers are imported when a format is used, not here: every command registers the
formats, and a no-op build should not pay for zip and e-mail modules.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from .. import hookimpl
from ..errors import WasixError
from ..registry import OutputFormat, OutputJob, Registry


def _wasmer(job: OutputJob) -> list[Path]:
    from ..versions import webc_filename
    from .wasmer_pkg import write_wasmer_package
    from .webc import write_webc

    assert job.recipe is not None and job.prefix is not None
    versions = {name: r.version for name, r in job.recipes.items()}
    pkg_dir = write_wasmer_package(job.recipe, job.prefix, job.out, namespace=job.options.namespace, versions=versions)
    paths = [pkg_dir / "wasmer.toml"]
    if not job.options.no_webc:
        webc = job.out / webc_filename(job.recipe.name, job.recipe.version)
        paths.append(write_webc(pkg_dir, webc))
    return paths


def _wasmer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--namespace", default=None, help="package owner (default: the recipe's, else 'wasmer')")
    p.add_argument("--no-webc", action="store_true", help="only the package directory")


def _wheel(job: OutputJob) -> list[Path]:
    from .wheel import write_wheel

    assert job.recipe is not None and job.prefix is not None
    return [write_wheel(job.recipe, job.prefix, job.out / "wheels")]


def _index(job: OutputJob) -> list[Path]:
    from packaging.utils import parse_wheel_filename

    from .index import write_index

    wheels = job.out / "wheels"
    if not any(wheels.glob("*.whl")):
        raise WasixError(f"no wheels in {wheels}: run `wasix-build wheel --all` first")
    simple = write_index(wheels, job.out / "simple")
    # --find-links, not --index-url: pip then asks the index it is configured with for the
    # wheels' dependencies (wasmer-sdk) instead of looking for them in dist/simple/.
    links = shlex.quote(str(wheels.absolute()))
    for project in sorted({parse_wheel_filename(w.name)[0] for w in wheels.glob("*.whl")}):
        job.say(f"  install: pip install --find-links {links} {project}")
    return [simple / "index.html"]


def _web(job: OutputJob) -> list[Path]:
    from .web import write_web

    assert job.recipe is not None and job.prefix is not None
    return write_web(job.recipe, job.prefix, job.out, job.recipes)


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.output(OutputFormat("wasmer", "Wasmer packages: OUT/pkg/NAME/wasmer.toml and OUT/NAME-SEMVER.webc",
                                 _wasmer, _wasmer_arguments))
    registry.output(OutputFormat("wheel", "Python wheels carrying the .wasm: OUT/wheels/wasix_NAME-…whl", _wheel))
    registry.output(OutputFormat("web", "a static site running each package in a terminal in the browser: "
                                 "OUT/web/index.html, OUT/web/p/NAME/", _web))
    registry.output(OutputFormat("index", "a PEP 503 simple index of OUT/wheels at OUT/simple", _index, per_package=False))
