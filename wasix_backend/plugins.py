"""Finding and loading plugins: built-in build systems and outputs, packages, entry points, folders.

Every source of plugins goes through the same path, the way pytest and tox load built-ins and
third-party plugins alike: pass 1 registers each plugin with pluggy (checking its hooks) and
calls its ``wasix_register`` hook, so every build system and output format is known before
pass 2 asks each plugin for its recipes (``wasix_recipes``), which are checked against them.
A broken plugin is recorded with its name and does not hide the others.
"""

from __future__ import annotations

import difflib
import functools
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
from .excludes import is_sdist, plugin_file
from .paths import builtin_plugins_dir
from .recipe import Recipe, load_recipe
from .registry import Registry, activated

#: Modules registered first, as pytest's default plugins: fetching and patching (called for
#: every recipe) and the built-in build systems and output formats, which register through
#: ``wasix_register`` as any plugin does. Build systems are listed strongest guess first
#: (``new --from-url`` tries their markers in this order).
BUILTIN_MODULES = (
    "wasix_backend.buildsystems.fetching",
    "wasix_backend.buildsystems.patching",
    "wasix_backend.buildsystems.autotools",
    "wasix_backend.buildsystems.cmake",
    "wasix_backend.buildsystems.cargo",
    "wasix_backend.buildsystems.make",
    "wasix_backend.buildsystems.none",
    "wasix_backend.buildsystems.bundle",
    "wasix_backend.outputs.formats",
)
_PKG = Path(__file__).resolve().parent
#: Hooks whose names lost their meaning when every hook got the ``wasix_`` prefix.
_RENAMED = ("recipes", "fetch", "patch", "configure", "compile", "package", "register")


class FolderRecipePlugin:
    """A package plugin made of a ``recipe.toml`` alone (no Python hooks)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.__name__ = f"folder:{folder.name}"

    @hookimpl
    def wasix_recipes(self) -> list[Recipe]:
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
    registry: Registry = field(default_factory=Registry)

    def _system_hooks(self, recipe: Recipe) -> object | None:
        system = self.registry.get_build_system(recipe.build_system)
        return system.hooks if system is not None else None

    def hook_for(self, recipe: str, phase: str) -> pluggy.HookCaller:
        """Phase hook ``wasix_PHASE`` restricted to the generic plugins, the recipe's build
        system's hooks and the recipe's own plugin."""
        keep = (self.owners[recipe], self._system_hooks(self.recipes[recipe]))
        systems = [s.hooks for s in self.registry.build_systems.values() if s.hooks is not None]
        others = [p for p in (*self.package_plugins, *systems) if not any(p is k for k in keep)]
        return self.pm.subset_hook_caller(f"wasix_{phase}", remove_plugins=others)

    def fingerprint(self, recipe: str) -> dict[str, str]:
        """``file name -> digest`` of the code and data of the plugin that declared
        ``recipe`` and of its build system's hooks (those outside this package: its own code
        is in :mod:`.codekey`'s part of the key).

        Python files are hashed without comments, formatting and docstrings; the recipe file
        is left out (its parsed build fields are in the key, its description is not), and so
        are files that only package the plugin (``pyproject.toml``, the PEP 517 shim, texts).
        """
        owner = self.owners[recipe]
        files = list(self.files.get(self.pm.get_name(owner) or "", []))
        hooks = self._system_hooks(self.recipes[recipe])
        if hooks is not None and hooks is not owner:
            files += [f for f in object_files(hooks) if not f.resolve().is_relative_to(_PKG)]
        out: dict[str, str] = {}
        for path in sorted(set(files)):
            if path.is_file() and not _not_build_file(path):
                digest = _file_digest(path)
                out[path.name] = digest if path.name not in out else hashlib.sha256((out[path.name] + digest).encode()).hexdigest()
        return out

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


#: A plugin's differential test cases (wasix_backend.difftest): not part of its store key.
TEST_DATA = Path("cases.toml")


def _plugin_files(folder: Path) -> list[Path]:
    out = []
    sdist = is_sdist(folder)
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        # Tests (tests/, the differential cases.toml) do not change what is built; caches,
        # build output and what an sdist adds (its bundled sources) are not the plugin.
        if path.is_file() and rel.parts[0] != "tests" and rel != TEST_DATA and plugin_file(rel, sdist):
            out.append(path)
    return out


#: Files of a plugin folder that never shape a build (see :meth:`LoadedPlugins.fingerprint`).
_NOT_BUILD_FILES = ("recipe.toml", "pyproject.toml", "_wasix_build.py", "setup.cfg", "MANIFEST.in")


def _not_build_file(path: Path) -> bool:
    # Patches are in the key on their own (``patches``), in the order they are applied.
    return path.name in _NOT_BUILD_FILES or path.parent.name == "patches" or path.suffix.lower() in (".md", ".rst")


def _file_digest(path: Path) -> str:
    from .codekey import source_digest

    data = path.read_bytes()
    if path.suffix == ".py":
        try:
            return source_digest(data, str(path))
        except SyntaxError:  # loading it fails with its own message; hash the bytes meanwhile
            pass
    return hashlib.sha256(data).hexdigest()


def object_files(obj: object) -> list[Path]:
    """The files of a plugin object's code: its package's files, or its module file.

    A module beside a ``recipe.toml`` is a plugin folder installed as a package (the layout
    ``wasix-build new`` writes, ``NAME = "wasix_plugin_NAME.plugin"``): its files are the
    folder's, less the empty ``__init__.py`` the wheel adds to make it importable, so the
    installed plugin has the store key of the folder it was built from."""
    module = obj if isinstance(obj, ModuleType) else sys.modules.get(type(obj).__module__)
    file = getattr(module, "__file__", None)
    if not file:
        return []
    path = Path(file)
    if path.name == "__init__.py":
        return _plugin_files(path.parent)
    if (path.parent / "recipe.toml").is_file():
        init = path.parent / "__init__.py"
        return [f for f in _plugin_files(path.parent) if f != init or f.stat().st_size]
    return [path]


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


def _only(pm: pluggy.PluginManager, plugin: object, hook: str) -> pluggy.HookCaller:
    """Hook ``hook`` of ``plugin`` alone (so one plugin's failure is its own)."""
    return pm.subset_hook_caller(hook, remove_plugins=[p for p in pm.get_plugins() if p is not plugin])


def _register_from(pm: pluggy.PluginManager, registry: Registry, plugin: object, name: str) -> None:
    if any(i.plugin is plugin for i in pm.hook.wasix_register.get_hookimpls()):
        with registry.registering(name):
            _only(pm, plugin, "wasix_register")(registry=registry)


def _builtins(pm: pluggy.PluginManager, loaded: LoadedPlugins) -> list[object]:
    modules: list[object] = []
    for modname in BUILTIN_MODULES:
        module = importlib.import_module(modname)
        pm.register(module, name=modname)
        loaded.origins[modname] = "generic"
        if module.__file__:
            loaded.files[modname] = [Path(module.__file__)]
        modules.append(module)
    for mod in modules:  # a failure here is a bug of this package: let it show
        _register_from(pm, loaded.registry, mod, pm.get_name(mod) or "")
    return modules


@functools.cache
def generic_registry() -> Registry:
    """The registry of the built-in modules alone (a recipe checked outside a plugin load)."""
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(pm)
    _builtins(pm, loaded)
    return loaded.registry


def load_plugins(
    plugin_dirs: Iterable[Path] = (),
    *,
    builtins: bool = True,
    entry_points: bool = True,
) -> LoadedPlugins:
    """Register the built-in modules, then built-in packages, entry points and ``plugin_dirs``.

    Pass 1 registers every plugin and calls its ``wasix_register``; pass 2 collects recipes,
    so a recipe may use a build system of any plugin. Package plugins are registered last
    (after every build system's hooks), so their hooks are called first.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(pm)
    builtin_modules = _builtins(pm, loaded)

    candidates: list[tuple[str, str, object]] = []  # (name, origin, loader)
    explicit: set[str] = set()  # plugins of ``plugin_dirs``: what the user points at
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
            explicit.add(folder.name)

    # Pass 1: register, check the hooks, let each plugin register build systems and outputs.
    plugin_folder: dict[str, Path | None] = {}
    for name, origin, source in candidates:
        if pm.has_plugin(name):
            # A later source of the same name (e.g. --plugin-dir) replaces an earlier one.
            old = pm.unregister(name=name)
            loaded.package_plugins = [p for p in loaded.package_plugins if p is not old]
        try:
            if isinstance(source, Path):
                plugin: object = _import_folder_module(source) if (source / "plugin.py").is_file() else FolderRecipePlugin(source)
                files = _plugin_files(source)
            else:
                plugin = source.load()  # type: ignore[attr-defined]
                files = object_files(plugin)
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
        plugin_folder[name] = source if isinstance(source, Path) else None
    for plugin in list(loaded.package_plugins):
        name = pm.get_name(plugin) or ""
        try:
            _register_from(pm, loaded.registry, plugin, name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            loaded.registry.forget(name)
            pm.unregister(plugin)
            loaded.package_plugins.remove(plugin)
            loaded.errors.append(_error(name, f"({loaded.origins.pop(name)}) could not register", exc))
    _order(pm, loaded, builtin_modules)

    # Pass 2: recipes, checked against the complete registry.
    with activated(loaded.registry):
        for plugin in list(loaded.package_plugins):
            name = pm.get_name(plugin) or ""
            try:
                declared = _declared_recipes(pm, plugin, plugin_folder[name])
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                loaded.errors.append(_error(name, f"({loaded.origins[name]}) could not declare its recipes", exc))
                continue
            for recipe in declared:
                if recipe.name in loaded.recipes:
                    other = pm.get_name(loaded.owners[recipe.name]) or ""
                    if name not in explicit or other in explicit:
                        loaded.errors.append(PluginError(f"plugin {name!r}: recipe {recipe.name!r} is already declared by plugin {other!r}; ignored"))
                        continue
                    # A folder named with --plugin-dir (or built by pip) is what the user means:
                    # it replaces an installed or built-in copy of the recipe (the copy's hooks
                    # then never run for it), as a folder of the same plugin name does.
                loaded.recipes[recipe.name] = replace(recipe, plugin=name)
                loaded.owners[recipe.name] = plugin
    pm.check_pending()  # every plugin left registered was checked above: this cannot fail
    return loaded


def _order(pm: pluggy.PluginManager, loaded: LoadedPlugins, builtin_modules: list[object]) -> None:
    """Register build systems' hooks, then package plugins, after the built-ins, so that
    pluggy (newest first) calls a package's hooks before its build system's, and those
    before the generic fetching and patching."""
    systems = [s.hooks for s in loaded.registry.build_systems.values() if s.hooks is not None]
    systems = [h for i, h in enumerate(systems) if not any(h is b for b in builtin_modules) and not any(h is o for o in systems[:i])]
    packages = [p for p in loaded.package_plugins if not any(p is h for h in systems)]
    for plugin in [*systems, *packages]:
        name = pm.get_name(plugin) if pm.is_registered(plugin) else None
        if name is not None:
            pm.unregister(plugin)
        else:  # a hooks object no plugin registered: it gets the build system's name
            owner = next(o for (k, n), o in loaded.registry.owners.items()
                         if k == "build system" and loaded.registry.build_systems[n].hooks is plugin)
            name = f"{owner}:hooks:{id(plugin):x}"
            loaded.origins[name] = loaded.origins.get(owner, "")
        pm.register(plugin, name=name)
        unknown = _unknown_hooks(pm, plugin)
        if unknown:
            raise PluginError(f"build-system hooks of plugin {name!r}: {unknown}")


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str:
    """'' when every ``@hookimpl`` of ``plugin`` has a spec, else what is wrong and the fix."""
    known = sorted(n for n in dir(hookspecs) if isinstance(getattr(pm.hook, n, None), pluggy.HookCaller) and getattr(pm.hook, n).has_spec())
    problems = []
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not impl.optionalhook:
                where = _where(impl.function)
                if caller.name in _RENAMED:
                    problems.append(f"@hookimpl {caller.name!r}{where} was renamed to 'wasix_{caller.name}': "
                                    "rename the function (every hook has the wasix_ prefix)")
                    continue
                close = difflib.get_close_matches(caller.name, known, n=1)
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
    impls = [i for i in pm.hook.wasix_recipes.get_hookimpls() if i.plugin is plugin]
    if impls:
        declared: list[Recipe] = []
        for result in _only(pm, plugin, "wasix_recipes")():
            if not isinstance(result, list | tuple) or not all(isinstance(r, Recipe) for r in result):
                raise PluginError("wasix_recipes() must return a list of Recipe objects")
            declared += result
        return declared
    for fname in ("wasix_recipes", "recipes"):
        if callable(getattr(plugin, fname, None)):
            raise PluginError(f"has a function {fname}() without @hookimpl: name it wasix_recipes and "
                              "mark it `@wasix_backend.hookimpl`")
    if folder is None and getattr(plugin, "__file__", None):  # an installed plugin package
        folder = Path(plugin.__file__).parent  # type: ignore[attr-defined]
    if folder is not None and (folder / "recipe.toml").is_file():
        return [load_recipe(folder / "recipe.toml")]
    return []
