"""The recipe model: what a package is, where its sources come from, how it builds.

Recipes are TOML files (``recipe.toml`` next to a plugin) or built in Python; both end up as
:class:`Recipe`. Validation happens here, at load time, so that a bad recipe fails before any
build starts, with the plugin, the field and the problem named.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import RecipeError

Kind = Literal["program", "library"]
KINDS = ("program", "library")
BUILD_SYSTEMS = ("autotools", "make", "cmake", "cargo", "none")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Source:
    """One source archive, pinned by sha256.

    ``urls`` are tried in order after the local mirror. ``debian`` names the Debian *source*
    package whose pool directory holds ``file`` (upstream's tarball as ``*.orig.tar.*``).
    The archive is unpacked into ``subdir`` of the source tree, its top directory stripped
    ``strip`` times.
    """

    sha256: str
    urls: tuple[str, ...] = ()
    file: str = ""
    debian: str = ""
    subdir: str = ""
    strip: int = 1

    @property
    def filename(self) -> str:
        """The archive's file name: explicit ``file``, else the last part of the first URL."""
        if self.file:
            return self.file
        return self.urls[0].rstrip("/").rsplit("/", 1)[-1].split("?")[0]


@dataclass(frozen=True)
class Dependency:
    name: str
    specifier: str = ""

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"

    def accepts(self, version: str) -> bool:
        from packaging.specifiers import SpecifierSet

        return Version(version) in SpecifierSet(self.specifier) if self.specifier else True


@dataclass(frozen=True)
class Recipe:
    """A package: identity, sources, patches, dependencies, build settings and outputs."""

    name: str
    version: str
    kind: Kind = "program"
    description: str = ""
    license: str = ""
    homepage: str = ""
    sources: tuple[Source, ...] = ()
    patches: tuple[Path, ...] = ()
    build_deps: tuple[Dependency, ...] = ()
    run_deps: tuple[Dependency, ...] = ()
    build_system: str = "autotools"
    #: Free-form settings for the build-system plugin (``[build]`` table, minus ``system``).
    build: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: Programs this recipe produces, installed as ``bin/NAME.wasm``.
    binaries: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    #: Command name -> binary name, for Wasmer packages and wheel console scripts.
    commands: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Guest path -> path inside the install prefix, shipped as data (Wasmer ``[fs]``).
    data: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Extra tables (``[wasmer]``, ``[wheel]``, ``[update]``, ``[test]`` …) kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: Where the recipe came from: its plugin's folder (patches are relative to it).
    plugin_dir: Path | None = field(default=None, hash=False, compare=False)
    #: The plugin that declared it (filled in by the plugin manager).
    plugin: str = field(default="", hash=False, compare=False)

    @property
    def deps(self) -> tuple[Dependency, ...]:
        """Every recipe this one needs built first: build and run dependencies."""
        return self.build_deps + tuple(d for d in self.run_deps if d not in self.build_deps)

    @property
    def dist_name(self) -> str:
        """The normalized (PEP 503) distribution name of this package's wheel."""
        return canonicalize_name(f"wasix-{self.name}")

    def command_map(self) -> dict[str, str]:
        """Commands to expose: the recipe's list, else one per binary."""
        return dict(self.commands) or {b: b for b in self.binaries}

    def canonical(self) -> dict[str, Any]:
        """A JSON-able description of everything that affects the build (for store keys)."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "sources": [s.__dict__ | {"urls": list(s.urls)} for s in self.sources],
            "build_deps": [str(d) for d in self.build_deps],
            "run_deps": [str(d) for d in self.run_deps],
            "build_system": self.build_system,
            "build": self.build,
            "binaries": list(self.binaries),
            "libraries": list(self.libraries),
            "headers": list(self.headers),
        }


def _expect(plugin: str, fieldname: str, value: Any, typ: type | tuple[type, ...]) -> Any:
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise RecipeError(plugin, fieldname, f"expected {names}, got {type(value).__name__} {value!r}")
    return value


def _str_list(plugin: str, fieldname: str, value: Any) -> tuple[str, ...]:
    _expect(plugin, fieldname, value, list)
    for i, item in enumerate(value):
        _expect(plugin, f"{fieldname}[{i}]", item, str)
    return tuple(value)


def _parse_deps(plugin: str, fieldname: str, value: Any) -> tuple[Dependency, ...]:
    deps = []
    for i, text in enumerate(_str_list(plugin, fieldname, value)):
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise RecipeError(plugin, f"{fieldname}[{i}]", f"not a valid dependency: {exc}") from None
        deps.append(Dependency(canonicalize_name(req.name), str(req.specifier)))
    return tuple(deps)


def _parse_source(plugin: str, i: int, table: Any) -> Source:
    where = f"source[{i}]"
    _expect(plugin, where, table, dict)
    known = {"url", "urls", "sha256", "file", "debian", "subdir", "strip"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise RecipeError(plugin, f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")
    sha = _expect(plugin, f"{where}.sha256", table.get("sha256", ""), str).lower()
    if not _SHA256_RE.match(sha):
        raise RecipeError(plugin, f"{where}.sha256", f"must be 64 hex digits, got {sha!r}")
    urls: list[str] = []
    if "url" in table:
        urls.append(_expect(plugin, f"{where}.url", table["url"], str))
    urls += _str_list(plugin, f"{where}.urls", table.get("urls", []))
    src = Source(
        sha256=sha,
        urls=tuple(urls),
        file=_expect(plugin, f"{where}.file", table.get("file", ""), str),
        debian=_expect(plugin, f"{where}.debian", table.get("debian", ""), str),
        subdir=_expect(plugin, f"{where}.subdir", table.get("subdir", ""), str),
        strip=_expect(plugin, f"{where}.strip", table.get("strip", 1), int),
    )
    if not src.urls and not src.file:
        raise RecipeError(plugin, where, "needs `url`/`urls` or `file` (looked up in the mirror)")
    if src.debian and not src.file:
        raise RecipeError(plugin, f"{where}.file", "a `debian` source needs the pool file name")
    if src.subdir.startswith("/") or ".." in Path(src.subdir).parts:
        raise RecipeError(plugin, f"{where}.subdir", "must be a relative path inside the source tree")
    return src


def recipe_from_dict(data: dict[str, Any], *, plugin: str, plugin_dir: Path | None = None) -> Recipe:
    """Validate a recipe's TOML data and build a :class:`Recipe`.

    Raises :class:`RecipeError` naming ``plugin``, the offending field and the problem.
    """
    pkg = _expect(plugin, "package", data.get("package"), dict)
    known_top = {"package", "source", "dependencies", "build", "outputs", "patches"}
    name = _expect(plugin, "package.name", pkg.get("name"), str)
    if not _NAME_RE.match(name):
        raise RecipeError(plugin, "package.name", f"{name!r} must be lower-case letters, digits, '.', '-' or '_'")
    version = _expect(plugin, "package.version", pkg.get("version"), str)
    try:
        Version(version)
    except InvalidVersion:
        raise RecipeError(plugin, "package.version", f"{version!r} is not a PEP 440 version") from None
    kind = _expect(plugin, "package.kind", pkg.get("kind", "program"), str)
    if kind not in KINDS:
        raise RecipeError(plugin, "package.kind", f"{kind!r} is not one of {', '.join(KINDS)}")

    sources = tuple(
        _parse_source(plugin, i, t) for i, t in enumerate(_expect(plugin, "source", data.get("source", []), list))
    )

    deps = _expect(plugin, "dependencies", data.get("dependencies", {}), dict)
    build_deps = _parse_deps(plugin, "dependencies.build", deps.get("build", []))
    run_deps = _parse_deps(plugin, "dependencies.run", deps.get("run", []))
    if name in {d.name for d in build_deps + run_deps}:
        raise RecipeError(plugin, "dependencies", f"{name!r} depends on itself")

    build = dict(_expect(plugin, "build", data.get("build", {}), dict))
    system = _expect(plugin, "build.system", build.pop("system", "autotools"), str)
    if system not in BUILD_SYSTEMS:
        raise RecipeError(plugin, "build.system", f"{system!r} is not one of {', '.join(BUILD_SYSTEMS)}")

    outputs = _expect(plugin, "outputs", data.get("outputs", {}), dict)
    binaries = _str_list(plugin, "outputs.bin", outputs.get("bin", []))
    if kind == "program" and not binaries:
        raise RecipeError(plugin, "outputs.bin", "a program must name at least one binary")
    commands = dict(_expect(plugin, "outputs.commands", outputs.get("commands", {}), dict))
    for cmd, binary in commands.items():
        if binary not in binaries:
            raise RecipeError(plugin, f"outputs.commands.{cmd}", f"binary {binary!r} is not in outputs.bin")

    patch_names = _str_list(plugin, "patches", data.get("patches", pkg.get("patches", [])))
    patches: list[Path] = []
    base = plugin_dir or Path.cwd()
    if "patches" not in data and "patches" not in pkg and plugin_dir is not None:
        patches = sorted((plugin_dir / "patches").glob("*.patch"))  # default: all, in name order
    for i, rel in enumerate(patch_names):
        path = (base / rel).resolve()
        if not path.is_file():
            raise RecipeError(plugin, f"patches[{i}]", f"no such file: {path}")
        patches.append(path)

    return Recipe(
        name=name,
        version=version,
        kind=kind,  # type: ignore[arg-type]
        description=_expect(plugin, "package.description", pkg.get("description", ""), str),
        license=_expect(plugin, "package.license", pkg.get("license", ""), str),
        homepage=_expect(plugin, "package.homepage", pkg.get("homepage", ""), str),
        sources=sources,
        patches=tuple(patches),
        build_deps=build_deps,
        run_deps=run_deps,
        build_system=system,
        build=build,
        binaries=binaries,
        libraries=_str_list(plugin, "outputs.lib", outputs.get("lib", [])),
        headers=_str_list(plugin, "outputs.include", outputs.get("include", [])),
        commands=commands,
        data=dict(_expect(plugin, "outputs.data", outputs.get("data", {}), dict)),
        extra={k: v for k, v in data.items() if k not in known_top},
        plugin_dir=plugin_dir,
        plugin=plugin,
    )


def load_recipe(path: Path | str, *, plugin: str | None = None) -> Recipe:
    """Load ``recipe.toml`` (patches resolve relative to its folder)."""
    path = Path(path)
    plugin = plugin or path.parent.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(plugin, "recipe.toml", f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(plugin, "recipe.toml", f"not valid TOML: {exc}") from None
    return recipe_from_dict(data, plugin=plugin, plugin_dir=path.parent)
