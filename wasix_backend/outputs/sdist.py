"""Write a plugin's self-contained source distribution (the PEP 517 backend's ``build_sdist``).

It carries the plugin folder, the plugins of its dependencies, the engine itself as
``_backend/`` and the pinned upstream source archives in ``sources/`` (used as the mirror when
it is built), so that ``pip install wasix_NAME-VERSION.tar.gz`` compiles from source on a
machine that has only PyPI. Deterministic (sorted entries, zero times and owners) and written
to a temporary name, then renamed.

A recipe whose plugin fetches its own sources (a ``wasix_fetch`` hook that is not a wrapper)
is respected: its declared archives are bundled when the default route can get them, and
otherwise left to that hook, which ships in the sdist and runs where it is built (said on
stderr). Any other source that cannot be bundled is an error naming it.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WasixError
from ..excludes import SDIST_ADDED, copytree_ignore

if TYPE_CHECKING:
    from ..plugins import LoadedPlugins
    from ..recipe import Recipe


def own_fetch(loaded: LoadedPlugins, name: str) -> bool:
    """Whether the plugin that declares ``name`` replaces the default fetch with its own hook."""
    owner = loaded.owners.get(name)
    return any(impl.plugin is owner and not (impl.hookwrapper or getattr(impl, "wrapper", False))
               for impl in loaded.pm.hook.wasix_fetch.get_hookimpls())  # fmt: skip


def engine_pyproject(engine: Path) -> bytes:
    """The engine's ``pyproject.toml``: the checkout's, the copy its wheel carries, or (an
    install without either) one written from the installed metadata."""
    for candidate in (engine.parent / "pyproject.toml", engine / "_data" / "pyproject.toml"):
        if candidate.is_file():
            return candidate.read_bytes()
    from importlib.metadata import metadata, requires

    import tomlkit

    deps = [r for r in requires("wasix-backend") or [] if "extra ==" not in r]
    doc = tomlkit.document()
    doc["project"] = {"name": "wasix-backend", "version": metadata("wasix-backend")["Version"], "dependencies": deps}
    return tomlkit.dumps(doc).encode()


def write_sdist(loaded: LoadedPlugins, recipe: Recipe, source_dir: Path, sdist_directory: Path, *, engine: Path) -> Path:
    """Write ``sdist_directory/wasix_NAME-VERSION.tar.gz`` for ``recipe``, declared by the
    plugin folder ``source_dir``; ``engine`` is the ``wasix_backend`` package to ship."""
    from ..fetch import fetch_source
    from ..gitsource import bundle_source
    from ..graph import closure
    from ..paths import project_toolchain_dir
    from ..toolchain.sysroot import RECIPE as SYSROOT_RECIPE
    from ..versions import pep440
    from .wheel import import_name, metadata_files

    taken = sorted(n for n in SDIST_ADDED if (source_dir / n).exists())
    if taken:
        raise WasixError(f"{recipe.name}: the plugin folder has {', '.join(taken)}, which the sdist adds itself "
                         "(the bundled source archives, the core metadata): rename it")
    base = f"{import_name(recipe)}-{pep440(recipe.version)}"
    staging = Path(sdist_directory) / f".{base}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    root = staging / base
    try:
        shutil.copytree(source_dir, root, ignore=copytree_ignore, symlinks=False)
        backend = root / "_backend" / "wasix_backend"
        shutil.copytree(engine, backend, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        shutil.copytree(project_toolchain_dir(), backend / "_data" / "toolchain", ignore=copytree_ignore)
        (backend / "_data" / "pyproject.toml").write_bytes(engine_pyproject(engine))
        sources = root / "sources"
        sources.mkdir(exist_ok=True)
        # The wasix provider's C library travels too (its recipe and pinned source), so the
        # sdist builds with the default toolchain where its repository is unreachable.
        system = loaded.registry.get_build_system(recipe.build_system)
        c_toolchain = system is None or system.c_toolchain
        toolchain_recipes = [SYSROOT_RECIPE] if SYSROOT_RECIPE in loaded.recipes and c_toolchain else []
        for name in [*closure(loaded.recipes, [recipe.name]), *toolchain_recipes]:
            dep = loaded.recipes[name]
            if name != recipe.name and dep.plugin_dir is not None:
                shutil.copytree(dep.plugin_dir, backend / "_data" / "plugins" / dep.plugin_dir.name, ignore=copytree_ignore)
            for src in dep.sources:
                try:
                    if src.is_git:
                        bundle_source(src, name, sources)
                    else:
                        shutil.copy2(fetch_source(src, package=name), sources / src.filename)
                except WasixError as exc:
                    what = src.filename if not src.is_git else f"{src.git} at {src.rev}"
                    if not own_fetch(loaded, name):
                        raise WasixError(f"{name}: cannot bundle its source {what} into the sdist: {exc}") from None
                    print(f"wasix-backend: note: {name}: source {what} not bundled ({str(exc).splitlines()[0]}); "
                          f"plugin {dep.plugin!r} fetches its own sources (wasix_fetch), and that hook runs "
                          "where the sdist is built", file=sys.stderr)
        pkg_info = metadata_files(recipe)
        (root / "PKG-INFO").write_bytes(next(v for k, v in pkg_info.items() if k.endswith("/METADATA")))
        out = Path(sdist_directory) / f"{base}.tar.gz"
        tmp = out.with_suffix(".tmp")
        with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(staging.rglob("*")):
                info = tar.gettarinfo(str(path), str(path.relative_to(staging)))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(info, io.BytesIO(fh.read()))
                elif info.isdir():
                    tar.addfile(info)
        os.replace(tmp, out)
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)
