"""Finding and loading plugins: generic build systems, built-in packages, entry points, folders.

Every source of plugins goes through the same path (a module or object registered with
pluggy, then asked for its recipes), the way pytest and tox load built-ins and
third-party plugins alike. A broken plugin is recorded with its name and does not hide the
others.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import pluggy

from . import ENTRY_POINT_GROUP, PROJECT_NAME, hookimpl, hookspecs
from .errors import PluginError, WasixError
from .excludes import excluded
from .paths import builtin_plugins_dir
from .recipe import Recipe, load_recipe

#: Generic plugins, registered first so that package plugins (registered later) are called
#: before them and can replace or wrap their defaults.
GENERIC_PLUGINS = (
    "wasix_backend.buildsystems.fetching",
    "wasix_backend.buildsystems.patching",
    "wasix_backend.buildsystems.autotools",
    "wasix_backend.buildsystems.make",
    "wasix_backend.buildsystems.cmake",
    "wasix_backend.buildsystems.cargo",
)


class FolderRecipePlugin:
    """A package plugin made of a ``recipe.toml`` alone (no Python hooks)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.__name__ = f"folder:{folder.name}"

    @hookimpl
    def recipes(self) -> list[Recipe]:
        return [load_recipe(self.folder / "recipe.toml")]


@dataclass
class LoadedPlugins:
    """The plugin manager plus what the engine needs to know about who declared what."""

    pm: pluggy.PluginManager
    recipes: dict[str, Recipe] = field(default_factory=dict)
    #: recipe name -> the plugin object that declared it
    owners: dict[str, object] = field(default_factory=dict)
    #: plugin name -> where it came from ("builtin", "entry point dist==1.0", a folder)
    origins: dict[str, str] = field(default_factory=dict)
    #: plugin name -> files whose content defines its behaviour (for store keys)
    files: dict[str, list[Path]] = field(default_factory=dict)
    errors: list[PluginError] = field(default_factory=list)
    package_plugins: list[object] = field(default_factory=list)

    def hook_for(self, recipe: str, phase: str) -> pluggy.HookCaller:
        """The phase hook restricted to generic plugins and the recipe's own plugin."""
        owner = self.owners[recipe]
        others = [p for p in self.package_plugins if p is not owner]
        return self.pm.subset_hook_caller(phase, remove_plugins=others)

    def fingerprint(self, recipe: str) -> str:
        """A hash of the code and data of the plugin that declared ``recipe``."""
        name = self.pm.get_name(self.owners[recipe]) or ""
        h = hashlib.sha256()
        for path in sorted(self.files.get(name, [])):
            if path.is_file():
                h.update(path.name.encode() + b"\0" + path.read_bytes())
        return h.hexdigest()

    def resolve(self, name: str) -> str:
        """The recipe name ``name`` means: itself, else the recipe it names under PEP 503
        normalisation, also as a wheel's ``wasix-`` name (``lua5-4``, ``wasix-lua5-4`` →
        ``lua5.4``), else ``name`` unchanged (for the caller's error)."""
        if name in self.recipes:
            return name
        from packaging.utils import canonicalize_name

        wanted = str(canonicalize_name(name))
        for candidate in (wanted, wanted.removeprefix("wasix-")):
            matches = [n for n in self.recipes if canonicalize_name(n) == candidate]
            if len(matches) == 1:
                return matches[0]
        return name

    def get(self, name: str) -> Recipe:
        try:
            return self.recipes[self.resolve(name)]
        except KeyError:
            known = ", ".join(sorted(self.recipes)) or "none"
            hint = ""
            broken = [str(e) for e in self.errors]
            if broken:
                hint = "\n  (some plugins failed to load:\n    " + "\n    ".join(broken) + ")"
            raise WasixError(f"no recipe named {name!r} (known: {known}){hint}") from None


def _plugin_files(folder: Path) -> list[Path]:
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        # Tests do not change what is built; caches and build output are not the plugin.
        if path.is_file() and rel.parts[0] != "tests" and not excluded(rel):
            out.append(path)
    return out


def _import_folder_module(folder: Path) -> ModuleType:
    mod_name = f"wasix_backend_plugin_{folder.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(mod_name, folder / "plugin.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def is_plugin_folder(folder: Path) -> bool:
    return (folder / "recipe.toml").is_file() or (folder / "plugin.py").is_file()


def plugin_folders(root: Path) -> list[Path]:
    """``root`` itself when it is a plugin folder, else its plugin sub-folders."""
    if is_plugin_folder(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and is_plugin_folder(p))


def _error(name: str, what: str, exc: BaseException) -> PluginError:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    if isinstance(exc, WasixError):
        detail = str(exc)
    return PluginError(f"plugin {name!r} {what}: {detail}")


def load_plugins(
    plugin_dirs: Iterable[Path] = (),
    *,
    builtins: bool = True,
    entry_points: bool = True,
) -> LoadedPlugins:
    """Register generic plugins, then built-in packages, entry points and ``plugin_dirs``."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(pm)

    for modname in GENERIC_PLUGINS:
        module = importlib.import_module(modname)
        pm.register(module, name=modname)
        loaded.origins[modname] = "generic"
        if module.__file__:
            loaded.files[modname] = [Path(module.__file__)]

    candidates: list[tuple[str, str, object]] = []  # (name, origin, loader)
    if builtins:
        for folder in plugin_folders(builtin_plugins_dir()):
            candidates.append((folder.name, "builtin", folder))
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = f"{ep.dist.name}=={ep.dist.version}" if ep.dist else "?"
            candidates.append((ep.name, f"entry point ({dist})", ep))
    for root in plugin_dirs:
        root = Path(root).absolute()
        folders = plugin_folders(root)
        if not folders:
            loaded.errors.append(PluginError(f"--plugin-dir {root}: no plugin folder (recipe.toml or plugin.py) found there"))
        for folder in folders:
            candidates.append((folder.name, str(folder), folder))

    for name, origin, source in candidates:
        if pm.has_plugin(name):
            # A later source of the same name (e.g. --plugin-dir) replaces an earlier one.
            old = pm.unregister(name=name)
            loaded.package_plugins = [p for p in loaded.package_plugins if p is not old]
            for rname in [r for r, o in loaded.owners.items() if o is old]:
                del loaded.owners[rname], loaded.recipes[rname]
        try:
            if isinstance(source, Path):
                plugin: object = _import_folder_module(source) if (source / "plugin.py").is_file() else FolderRecipePlugin(source)
                files = _plugin_files(source)
            else:
                plugin = source.load()  # type: ignore[attr-defined]
                file = getattr(plugin, "__file__", None)
                files = _plugin_files(Path(file).parent) if file and Path(file).name == "__init__.py" else ([Path(file)] if file else [])
            pm.register(plugin, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit() or any BaseException at import: report, go on
            loaded.errors.append(_error(name, f"({origin}) failed to load", exc))
            continue
        unknown = _unknown_hooks(pm, plugin)
        if unknown:
            # As pytest's check_pending: a misspelt hook would otherwise never run, silently.
            pm.unregister(plugin)
            loaded.errors.append(PluginError(f"plugin {name!r} ({origin}) failed to load: {unknown}"))
            continue
        loaded.origins[name] = origin
        loaded.files[name] = files
        loaded.package_plugins.append(plugin)
        try:
            declared = _declared_recipes(pm, plugin, source if isinstance(source, Path) else None)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            pm.unregister(plugin)
            loaded.package_plugins.remove(plugin)
            loaded.errors.append(_error(name, f"({origin}) could not declare its recipes", exc))
            continue
        for recipe in declared:
            if recipe.name in loaded.recipes:
                other = pm.get_name(loaded.owners[recipe.name])
                loaded.errors.append(PluginError(f"plugin {name!r}: recipe {recipe.name!r} is already declared by plugin {other!r}; ignored"))
                continue
            loaded.recipes[recipe.name] = replace(recipe, plugin=name)
            loaded.owners[recipe.name] = plugin
    pm.check_pending()  # every plugin left registered was checked above: this cannot fail
    return loaded


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    """'' when every ``@hookimpl`` of ``plugin`` has a spec, else what is wrong and the fix."""
    known = sorted(n for n in dir(hookspecs) if isinstance(getattr(pm.hook, n, None), pluggy.HookCaller) and getattr(pm.hook, n).has_spec())
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not impl.optionalhook:
                close = difflib.get_close_matches(caller.name, known, n=1)
                where = _where(impl.function)
                hint = f"did you mean {close[0]!r}?" if close else f"hooks are: {', '.join(known)}"
                problems.append(f"@hookimpl {caller.name!r}{where} is not a wasix-backend hook ({hint})")
    return "; ".join(problems)


def _where(function: object) -> str:
    code = getattr(function, "__code__", None)
    return f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""


def _declared_recipes(pm: pluggy.PluginManager, plugin: object, folder: Path | None) -> list[Recipe]:
    """The plugin's ``recipes()`` results, called through pluggy (only this plugin's hook).

    A plugin without the hook declares the ``recipe.toml`` beside it (a folder, or an installed
    package's directory).
    """
    impls = [i for i in pm.hook.recipes.get_hookimpls() if i.plugin is plugin]
    if impls:
        others = [p for p in pm.get_plugins() if p is not plugin]
        declared: list[Recipe] = []
        for result in pm.subset_hook_caller("recipes", remove_plugins=others)():
            if not isinstance(result, list | tuple) or not all(isinstance(r, Recipe) for r in result):
                raise PluginError("recipes() must return a list of Recipe objects")
            declared += result
        return declared
    if callable(getattr(plugin, "recipes", None)):
        raise PluginError("has a function recipes() without @hookimpl: mark it `@wasix_backend.hookimpl`")
    if folder is None and getattr(plugin, "__file__", None):  # an installed plugin package
        folder = Path(plugin.__file__).parent  # type: ignore[attr-defined]
    if folder is not None and (folder / "recipe.toml").is_file():
        return [load_recipe(folder / "recipe.toml")]
    return []
