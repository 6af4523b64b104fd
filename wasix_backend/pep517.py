"""PEP 517 build backend: a plugin folder becomes a wheel (the built program) or an sdist.

A plugin folder's ``pyproject.toml``::

    [build-system]
    requires = []                  # the backend adds its own (get_requires_for_build_*)
    build-backend = "_wasix_build"    # a three-line shim that imports this module from the
    backend-path = ["."]             # checkout around the folder, or from an sdist's _backend/

    [tool.wasix-backend]
    recipe = "nano"

``build_wheel`` builds the recipe through the engine (store, cache and all) and writes the same
wheel as ``wasix-build wheel``; ``config_settings`` may pick ``provider``, ``jobs`` and
``store`` as the command line does. ``build_sdist`` writes a self-contained source
distribution (:mod:`wasix_backend.outputs.sdist`), so that ``pip install wasix_nano-7.2.tar.gz``
compiles from source on a machine that has only PyPI. ``build_editable`` (PEP 660, ``pip
install -e``) builds the same program, and its plugin package points at the folder, so edits
to the recipe and hooks reach ``wasix-build`` at once.

The folder is always what is built, whether or not the plugin is installed already, and a
wheel built from the sdist carries the same files as one built from the folder (not the
sdist's bundled sources). A failure is one message (``wasix-backend: error: …``), not a
traceback.

Only the standard library is imported at module level: the engine's own dependencies are
requested through ``get_requires_for_build_*`` before any hook that needs them runs.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import WasixError
from .excludes import is_sdist, plugin_file

if TYPE_CHECKING:
    from .session import Session

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

_PKG = Path(__file__).resolve().parent
#: Not needed to *build*: the runtime (tests, launcher) and the inspector.
_RUNTIME_ONLY = {"wasmer-sdk", "wasmtime"}


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


def _plugin_payload(source_dir: Path, editable: bool = False) -> tuple[dict[str, bytes], dict[str, str]]:
    """The plugin folder as an importable package, when pyproject declares it as a plugin.

    ``[project.entry-points."wasix_backend.plugins"] NAME = "PKG.plugin"`` makes the wheel carry
    the folder's recipe, hooks and patches as package ``PKG``, so that installing the program
    also teaches an installed ``wasix-build`` its recipe. From an unpacked sdist, what the sdist
    added (its bundled sources) stays out: the wheel is the folder's. ``editable``: package
    ``PKG`` is the folder itself (its ``__path__``), for ``pip install -e``.
    """
    project = tomllib.loads((source_dir / "pyproject.toml").read_text()).get("project", {})
    entry_points = project.get("entry-points", {}).get("wasix_backend.plugins", {})
    files: dict[str, bytes] = {}
    sdist = is_sdist(source_dir)
    for value in entry_points.values():
        package = value.split(":")[0].split(".")[0]
        if editable:
            files[f"{package}/__init__.py"] = (
                f'"""The plugin folder {source_dir}, installed in editable mode (pip install -e)."""\n\n'
                f"__path__ = [{str(source_dir)!r}]\n"
            ).encode()
            continue
        files[f"{package}/__init__.py"] = b""
        for path in sorted(source_dir.rglob("*")):
            rel = path.relative_to(source_dir)
            if path.is_file() and plugin_file(rel, sdist) and rel.parts[0] not in ("tests", "pyproject.toml"):
                files[f"{package}/{rel.as_posix()}"] = path.read_bytes()
    return files, dict(entry_points)


def _session(source_dir: Path, settings: dict[str, str] | None = None) -> Session:
    """The session of one hook: the folder's plugins, and the store, provider and jobs of
    ``config_settings`` (checked by :func:`_settings`). No binary caches: a front end such as
    pip builds what it is given."""
    from rich.console import Console

    from .session import Session, SessionOptions

    settings = settings or {}
    options = SessionOptions(
        plugin_dirs=(source_dir,), store=Path(settings["store"]).absolute() if "store" in settings else None,
        provider=settings.get("provider"), jobs=int(settings["jobs"]) if "jobs" in settings else None,
    )  # fmt: skip
    return Session(options, console=Console(stderr=True, highlight=False),
                   warn=lambda problem: print(f"wasix-backend: warning: {problem}"))


def _load(session: Session, source_dir: Path):  # -> (LoadedPlugins, Recipe)
    """The plugins, with the folder's recipe winning over an installed copy of it."""
    name = _config(source_dir).get("recipe") or source_dir.name
    loaded = session.plugins
    recipe = loaded.get(str(name))
    if recipe.plugin_dir is not None and recipe.plugin_dir.resolve() != source_dir.resolve():
        raise WasixError(f"recipe {recipe.name!r} of {source_dir} was not loaded from it but from "
                         f"{recipe.plugin_dir} ({loaded.origins.get(recipe.plugin, '?')})")
    return loaded, recipe


_F = TypeVar("_F", bound=Callable[..., object])


class BackendError(SystemExit, WasixError):
    """A hook's failure as front-ends should show it: one line on stderr, exit status 1, no
    traceback (``SystemExit``); still a :class:`WasixError` to Python callers."""


def _user_errors(hook: _F) -> _F:
    """Turn a :class:`WasixError` raised inside ``hook`` into one clean message."""

    @functools.wraps(hook)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return hook(*args, **kwargs)
        except BackendError:
            raise
        except WasixError as exc:
            raise BackendError(f"wasix-backend: error: {exc}") from None

    return wrapper  # type: ignore[return-value]


def _with_mirror(source_dir: Path) -> None:
    """An sdist's bundled sources serve as the mirror (an explicit $WASIX_MIRROR wins)."""
    if (source_dir / "sources").is_dir() and not os.environ.get("WASIX_MIRROR"):
        os.environ["WASIX_MIRROR"] = str(source_dir / "sources")


#: ``config_settings`` keys (``pip wheel -C provider=wasix -C jobs=2 -C store=DIR``, ``python -m
#: build -C…``): the same as ``wasix-build``'s ``--provider``, ``--jobs`` and ``--store``.
CONFIG_SETTINGS = ("provider", "jobs", "store")


def _settings(config_settings: dict[str, Any] | None) -> dict[str, str]:
    settings = dict(config_settings or {})
    unknown = sorted(set(settings) - set(CONFIG_SETTINGS))
    if unknown:
        raise WasixError(f"config_settings {', '.join(map(repr, unknown))} not understood (known: {', '.join(CONFIG_SETTINGS)})")
    for key, value in settings.items():
        if not isinstance(value, str):  # a front-end passes a list when a key is repeated
            raise WasixError(f"config_settings {key!r}: give it once, got {value!r}")
    from .engine import MAX_JOBS

    if "jobs" in settings and not (settings["jobs"].isdigit() and 0 < int(settings["jobs"]) <= MAX_JOBS):
        raise WasixError(f"config_settings 'jobs': a number of parallel jobs from 1 to {MAX_JOBS}, got {settings['jobs']!r}")
    if "store" in settings:
        from .store import Store

        Store(Path(settings["store"]).absolute()).check()  # `-C store=/` writes nothing into /
    return settings


def _build_recipe(source_dir: Path, config_settings: dict[str, Any] | None = None):
    settings = _settings(config_settings)
    _with_mirror(source_dir)
    with _session(source_dir, settings) as session:
        _, recipe = _load(session, source_dir)
        session.hold_store()  # the sysroot chosen below stays while this builds
        results, failures = session.engine().build([recipe.name])
    if failures:
        raise WasixError("\n".join(str(f.error) for f in failures))
    return recipe, results[recipe.name].path


# ------------------------------------------------------------------------------- PEP 517
def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _engine_requirements()


def get_requires_for_build_sdist(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _engine_requirements()


def get_requires_for_build_editable(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _engine_requirements()


def _write_metadata(metadata_directory: str) -> str:
    from .outputs.wheel import metadata_files

    _, recipe = _load(_session(Path.cwd()), Path.cwd())
    files = metadata_files(recipe, plugins=_plugin_payload(Path.cwd())[1])
    dist_info = next(iter(files)).split("/", 1)[0]
    for name, data in files.items():
        path = Path(metadata_directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dist_info


@_user_errors
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """Write the wheel's ``.dist-info`` without compiling anything."""
    return _write_metadata(metadata_directory)


@_user_errors
def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """The editable wheel's ``.dist-info``: the same as the wheel's."""
    return _write_metadata(metadata_directory)


def _wheel(wheel_directory: str, config_settings: dict[str, Any] | None, editable: bool) -> str:
    from .outputs.wheel import write_wheel

    recipe, prefix = _build_recipe(Path.cwd(), config_settings)
    extra, plugins = _plugin_payload(Path.cwd(), editable=editable)
    return write_wheel(recipe, prefix, Path(wheel_directory), extra=extra, plugins=plugins).name


@_user_errors
def build_wheel(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    return _wheel(wheel_directory, config_settings, editable=False)


@_user_errors
def build_editable(
    wheel_directory: str, config_settings: dict[str, Any] | None = None, metadata_directory: str | None = None
) -> str:
    """PEP 660 (``pip install -e PLUGIN``): the program as built now, and the plugin package
    pointing at the folder, so ``wasix-build`` reads the recipe, hooks and patches from there
    (edits count at once; the installed program is refreshed by installing again)."""
    return _wheel(wheel_directory, config_settings, editable=True)


@_user_errors
def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """The sdist (:mod:`wasix_backend.outputs.sdist`); only ``store`` matters here (it builds nothing)."""
    from .outputs.sdist import write_sdist

    _settings(config_settings)
    source_dir = Path.cwd()
    loaded, recipe = _load(_session(source_dir), source_dir)
    return write_sdist(loaded, recipe, source_dir, Path(sdist_directory), engine=_PKG).name
