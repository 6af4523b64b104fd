"""PEP 517 build backend: a plugin folder becomes a wheel (the built program) or an sdist.

A plugin folder's ``pyproject.toml``::

    [build-system]
    requires = []                  # the backend adds its own (get_requires_for_build_*)
    build-backend = "_wasix_build"    # a three-line shim that imports this module from the
    backend-path = ["."]             # checkout around the folder, or from an sdist's _backend/

    [tool.wasix-backend]
    recipe = "nano"

``build_wheel`` builds the recipe through the engine (store, cache and all) and writes the same
wheel as ``wasix-build wheel``. ``build_sdist`` writes a self-contained source distribution: the
plugin folder, the plugins of its dependencies, the engine itself as ``_backend/``, and the
pinned upstream source archives in ``sources/`` (used as the mirror), so that
``pip install wasix_nano-7.2.tar.gz`` compiles from source on a machine that has only PyPI.

Only the standard library is imported at module level: the engine's own dependencies are
requested through ``get_requires_for_build_*`` before any hook that needs them runs.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tomllib
from pathlib import Path
from typing import Any

from .excludes import copytree_ignore, excluded

__all__ = [
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_wheel",
]

_PKG = Path(__file__).resolve().parent
#: Not needed to *build*: the runtime (tests, launcher) and the inspector.
_RUNTIME_ONLY = {"wasmer-sdk", "wasmtime"}
_SKIP = copytree_ignore


# ------------------------------------------------------------------------------- helpers
def _config(source_dir: Path) -> dict[str, Any]:
    data = tomllib.loads((source_dir / "pyproject.toml").read_text())
    return data.get("tool", {}).get("wasix-backend", {})


def _engine_requirements() -> list[str]:
    """The engine's dependencies, from its pyproject (checkout) or the copy an sdist carries."""
    for candidate in (_PKG.parent / "pyproject.toml", _PKG / "_data" / "pyproject.toml"):
        if candidate.is_file():
            deps = tomllib.loads(candidate.read_text())["project"]["dependencies"]
            break
    else:  # installed normally: ask the metadata
        from importlib.metadata import requires

        deps = [r for r in requires("wasix-backend") or [] if "extra ==" not in r]
    from_name = [d.split(";")[0].split("[")[0] for d in deps]
    return [d for d, n in zip(deps, from_name, strict=True) if not any(n.strip().lower().startswith(x) for x in _RUNTIME_ONLY)]


def _plugin_payload(source_dir: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """The plugin folder as an importable package, when pyproject declares it as a plugin.

    ``[project.entry-points."wasix_backend.plugins"] NAME = "PKG.plugin"`` makes the wheel carry
    the folder's recipe, hooks and patches as package ``PKG``, so that installing the program
    also teaches an installed ``wasix-build`` its recipe.
    """
    project = tomllib.loads((source_dir / "pyproject.toml").read_text()).get("project", {})
    entry_points = project.get("entry-points", {}).get("wasix_backend.plugins", {})
    files: dict[str, bytes] = {}
    for value in entry_points.values():
        package = value.split(":")[0].split(".")[0]
        files[f"{package}/__init__.py"] = b""
        for path in sorted(source_dir.rglob("*")):
            rel = path.relative_to(source_dir)
            if path.is_file() and not excluded(rel) and rel.parts[0] not in ("tests", "pyproject.toml"):
                files[f"{package}/{rel.as_posix()}"] = path.read_bytes()
    return files, dict(entry_points)


def _load(source_dir: Path):  # -> (LoadedPlugins, Recipe)
    from .plugins import load_plugins

    name = _config(source_dir).get("recipe") or source_dir.name
    loaded = load_plugins([source_dir])
    for problem in loaded.errors:
        print(f"wasix-backend: warning: {problem}")
    return loaded, loaded.get(str(name))


def _with_mirror(source_dir: Path) -> None:
    """An sdist's bundled sources serve as the mirror (an explicit $WASIX_MIRROR wins)."""
    if (source_dir / "sources").is_dir() and not os.environ.get("WASIX_MIRROR"):
        os.environ["WASIX_MIRROR"] = str(source_dir / "sources")


def _build_recipe(source_dir: Path):
    from rich.console import Console

    from .engine import Engine
    from .errors import WasixError
    from .paths import store_dir
    from .store import Store
    from .toolchain import select_toolchain

    _with_mirror(source_dir)
    loaded, recipe = _load(source_dir)
    store, console = Store(store_dir()), Console(stderr=True, highlight=False)
    engine = Engine(loaded, store, select_toolchain(store=store, console=console), console=console)
    results, failures = engine.build([recipe.name])
    if failures:
        raise WasixError("\n".join(str(f.error) for f in failures))
    return recipe, results[recipe.name].path


# ------------------------------------------------------------------------------- PEP 517
def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _engine_requirements()


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _engine_requirements()


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """Write the wheel's ``.dist-info`` without compiling anything."""
    from .outputs.wheel import metadata_files

    _, recipe = _load(Path.cwd())
    files = metadata_files(recipe, plugins=_plugin_payload(Path.cwd())[1])
    dist_info = next(iter(files)).split("/", 1)[0]
    for name, data in files.items():
        path = Path(metadata_directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dist_info


def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    from .outputs.wheel import write_wheel

    recipe, prefix = _build_recipe(Path.cwd())
    extra, plugins = _plugin_payload(Path.cwd())
    return write_wheel(recipe, prefix, Path(wheel_directory), extra=extra, plugins=plugins).name


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:

    from .fetch import fetch_source
    from .gitsource import bundle_source
    from .graph import closure
    from .outputs.wheel import import_name, metadata_files
    from .toolchain.sysroot import RECIPE as SYSROOT_RECIPE
    from .versions import pep440

    source_dir = Path.cwd()
    loaded, recipe = _load(source_dir)
    base = f"{import_name(recipe)}-{pep440(recipe.version)}"
    staging = Path(sdist_directory) / f".{base}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    root = staging / base
    try:
        shutil.copytree(source_dir, root, ignore=_SKIP, symlinks=False)
        backend = root / "_backend" / "wasix_backend"
        shutil.copytree(_PKG, backend, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        from .paths import project_toolchain_dir

        shutil.copytree(project_toolchain_dir(), backend / "_data" / "toolchain", ignore=_SKIP)
        shutil.copy2(_PKG.parent / "pyproject.toml" if (_PKG.parent / "pyproject.toml").is_file() else _PKG / "_data" / "pyproject.toml", backend / "_data" / "pyproject.toml")
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
                shutil.copytree(dep.plugin_dir, backend / "_data" / "plugins" / dep.plugin_dir.name, ignore=_SKIP)
            for src in dep.sources:
                if src.is_git:
                    bundle_source(src, name, sources)
                else:
                    shutil.copy2(fetch_source(src, package=name), sources / src.filename)
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
        return out.name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
