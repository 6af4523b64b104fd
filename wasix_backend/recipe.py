"""The recipe model: what a package is, where its sources come from, how it builds.

Recipes are TOML files (``recipe.toml`` next to a plugin) or built in Python; both end up as
:class:`Recipe`. Validation happens here, at load time, so that a bad recipe fails before any
build starts, with the plugin, the field and the problem named.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import schema
from .errors import RecipeError
from .fsutil import SHA256_RE
from .schema import DEFAULT_BUILD_SYSTEM, check_table, unknown_key

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["KINDS", "Dependency", "Recipe", "Source", "load_recipe", "recipe_from_dict"]

Kind = Literal["program", "library"]
KINDS = ("program", "library")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: A full commit id: SHA-1 (40 hex) or SHA-256 (64 hex) repositories. Nothing shorter.
_COMMIT_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
#: Transports a recipe may name (git's ``ext::`` and friends run commands: never).
_GIT_URL_RE = re.compile(r"^(?:(?:https?|git|ssh|file)://\S+|[\w.-]+@[\w.-]+:\S+)$")


@dataclass(frozen=True)
class Source:
    """One source: an archive pinned by sha256, or a git commit pinned by its id.

    Archive: ``urls`` are tried in order after the local mirror. ``debian`` names the Debian
    *source* package whose pool directory holds ``file`` (upstream's tarball as
    ``*.orig.tar.*``). The archive is unpacked into ``subdir`` of the source tree, its top
    directory stripped ``strip`` times.

    Git: ``git`` is the repository's URL and ``rev`` the full commit id. The commit id hashes
    the whole tree, so it pins the content as a sha256 pins an archive; the commit's tree is
    written, exactly (no ``.gitattributes`` export rules), into ``subdir``.
    """

    sha256: str = ""
    urls: tuple[str, ...] = ()
    file: str = ""
    debian: str = ""
    subdir: str = ""
    strip: int = 1
    git: str = ""
    rev: str = ""

    @property
    def is_git(self) -> bool:
        """Whether this source is a git commit rather than an archive."""
        return bool(self.git)

    @property
    def repo_name(self) -> str:
        """A git source's repository name: the URL's last part without ``.git``."""
        name = self.git.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return name.removesuffix(".git") or "repository"

    @property
    def filename(self) -> str:
        """The archive's file name: explicit ``file``, else the last part of the first URL.

        For a git source: ``<repository name>-<rev>.bundle``, a bundle of the commit.
        """
        if self.git:
            return f"{self.repo_name}-{self.rev}.bundle"
        if self.file:
            return self.file
        return self.urls[0].rstrip("/").rsplit("/", 1)[-1].split("?")[0]

    def canonical(self) -> dict[str, Any]:
        """What of this source decides the build (for store keys): its pin and how it is
        unpacked, not where it is fetched from (a new mirror or URL rebuilds nothing)."""
        if self.git:
            # The commit id pins the tree.
            return {"git-rev": self.rev, "subdir": self.subdir}
        return {"sha256": self.sha256, "subdir": self.subdir, "strip": self.strip}

    def describe(self) -> dict[str, Any]:
        """Everything about this source, for people (``wasix-build show``)."""
        if self.git:
            return {"git": self.git, "rev": self.rev, "subdir": self.subdir}
        return {"sha256": self.sha256, "urls": list(self.urls), "file": self.file, "debian": self.debian,
                "subdir": self.subdir, "strip": self.strip}


@dataclass(frozen=True)
class Dependency:
    """A recipe needed by another: its name and a PEP 440 specifier (``>=6.4``; empty: any
    version), as written in ``[dependencies]``."""

    name: str
    specifier: str = ""

    def __str__(self) -> str:
        return f"{self.name}{self.specifier}"

    def accepts(self, version: str) -> bool:
        from packaging.specifiers import SpecifierSet

        return Version(version) in SpecifierSet(self.specifier) if self.specifier else True


@dataclass(frozen=True)
class Recipe:
    """A package: identity, sources, patches, dependencies, build settings and outputs.

    Two recipes are equal when every field of theirs is, the tables (``build``, ``commands``,
    ``extra`` …) included; those are left out of the hash only because dicts cannot be
    hashed, so equal recipes still hash alike. Where it came from (``plugin_dir``,
    ``plugin``) is not compared: the same recipe may be declared from two places.
    """

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
    build_system: str = DEFAULT_BUILD_SYSTEM
    #: Free-form settings for the build-system plugin (``[build]`` table, minus ``system``).
    build: dict[str, Any] = field(default_factory=dict, hash=False)
    #: Programs this recipe produces, installed as ``bin/NAME.wasm``.
    binaries: tuple[str, ...] = ()
    libraries: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    #: Command name -> binary name, for Wasmer packages and wheel console scripts.
    commands: dict[str, str] = field(default_factory=dict, hash=False)
    #: Guest path -> path inside the install prefix, shipped as data (Wasmer ``[fs]``).
    data: dict[str, str] = field(default_factory=dict, hash=False)
    #: ``[outputs] network``: its commands get the host's network when run from a wheel.
    network: bool = False
    #: Command name -> binary: run by other packages' programs inside the sandbox only (``sh``).
    sandbox_commands: dict[str, str] = field(default_factory=dict, hash=False)
    #: Command name -> ``/bin/sh`` script body, shown as ``/usr/bin/NAME`` inside the sandbox.
    sandbox_scripts: dict[str, str] = field(default_factory=dict, hash=False)
    #: Extra tables (``[wasmer]``, ``[wheel]``, ``[update]``, ``[test]`` …) kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
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
            "sources": [s.canonical() for s in self.sources],
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


def _str_table(plugin: str, fieldname: str, value: Any) -> dict[str, str]:
    _expect(plugin, fieldname, value, dict)
    for key, item in value.items():
        _expect(plugin, f"{fieldname}.{key}", item, str)
    return dict(value)


def _parse_deps(plugin: str, fieldname: str, value: Any) -> tuple[Dependency, ...]:
    deps = []
    for i, text in enumerate(_str_list(plugin, fieldname, value)):
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise RecipeError(plugin, f"{fieldname}[{i}]", f"not a valid dependency: {exc}") from None
        deps.append(Dependency(canonicalize_name(req.name), str(req.specifier)))
    return tuple(deps)


def _parse_git_source(plugin: str, where: str, table: dict[str, Any]) -> Source:
    url = _expect(plugin, f"{where}.git", table.get("git", ""), str).strip()
    if not _GIT_URL_RE.match(url):
        raise RecipeError(
            plugin, f"{where}.git", f"{url!r} is not a repository URL (https://, http://, ssh://, git://, file:// or user@host:path)"
        )
    if "rev" not in table:
        raise RecipeError(plugin, f"{where}.rev", "a `git` source needs `rev`, the full commit id it is pinned to")
    rev = _expect(plugin, f"{where}.rev", table["rev"], str).strip().lower()
    if not _COMMIT_RE.match(rev):
        raise RecipeError(
            plugin,
            f"{where}.rev",
            f"must be a full commit id (40 or 64 hex digits), got {rev!r}: a branch or tag name, or an "
            "abbreviated id, is not a pin; use `git rev-parse NAME^{commit}` to get the commit id",
        )
    for key in ("url", "urls", "file", "debian", "strip"):
        if key in table:
            raise RecipeError(plugin, f"{where}.{key}", "applies to archives, not to a `git` source (the commit is checked out whole)")
    return Source(git=url, rev=rev, subdir=_expect(plugin, f"{where}.subdir", table.get("subdir", ""), str))


def _parse_source(plugin: str, i: int, table: Any) -> Source:
    where = f"source[{i}]"
    _expect(plugin, where, table, dict)
    check_table(plugin, where, table, schema.SOURCE)
    is_git = "git" in table or "rev" in table
    if is_git and "sha256" in table:
        raise RecipeError(plugin, where, "give either `sha256` (an archive) or `git` + `rev` (a commit), not both")
    if is_git:
        if "git" not in table:
            raise RecipeError(plugin, f"{where}.git", "`rev` needs `git`, the repository's URL")
        src = _parse_git_source(plugin, where, table)
    else:
        sha = _expect(plugin, f"{where}.sha256", table.get("sha256", ""), str).lower()
        if not SHA256_RE.match(sha):
            raise RecipeError(
                plugin, f"{where}.sha256", f"must be 64 hex digits, got {sha!r} (or pin a git commit: `git` + `rev`)"
            )
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
    if not src.git:
        # The name becomes a path in the source cache and the mirror: a plain file name only.
        field = f"{where}.file" if src.file else f"{where}.url"
        if not _is_plain_file_name(src.filename):
            raise RecipeError(
                plugin, field, f"the archive's file name {src.filename!r} must be a plain file name "
                "(no '/', '\\', '..' or control characters); set `file` to one"
            )
    return src


def _is_plain_file_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and not any(c in name for c in "/\\")
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    )


def _check_build(plugin: str, build: dict[str, Any], system: str, registry: Registry) -> None:
    """``[build]`` holds the shared keys and the chosen build system's own, nothing else."""
    chosen = registry.get_build_system(system)
    if chosen is None:
        known = ", ".join(sorted(registry.build_systems)) or "none"
        raise RecipeError(plugin, "build.system", f"{system!r} is not a registered build system (known: {known}; "
                          "a plugin adds one with the wasix_register hook)")
    own = chosen.settings
    for key in build:
        if schema.BUILD_COMMON.get(key) is None and own.get(key) is None:
            elsewhere = [s.name for s in registry.build_systems.values() if s.settings.get(key) is not None]
            if elsewhere:
                raise RecipeError(plugin, f"build.{key}", f"is a setting of the {' and '.join(elsewhere)} build system, not of {system!r}")
            raise unknown_key(plugin, "build", key, [*schema.BUILD_COMMON.names(), *own.names()], f"(system {system!r})")
    check_table(plugin, "build", build, schema.BUILD_COMMON, own)


def recipe_from_dict(
    data: dict[str, Any],
    *,
    plugin: str,
    plugin_dir: Path | None = None,
    extra_tables: Iterable[str] = (),
    registry: Registry | None = None,
) -> Recipe:
    """Validate a recipe's TOML data and build a :class:`Recipe`.

    Every key must be declared in :mod:`wasix_backend.schema` or, in ``[build]``, by the
    chosen build system in ``registry`` (default: the registry of the plugins being loaded,
    :func:`wasix_backend.registry.active`); ``extra_tables`` names the top-level tables the
    calling plugin claims for itself (kept verbatim in ``extra``).
    Raises :class:`RecipeError` naming ``plugin``, the offending field and the problem.
    """
    claimed = set(extra_tables)
    for key in data:
        if schema.TOP.get(key) is None and key not in claimed:
            raise unknown_key(plugin, "", key, [*schema.TOP.names(), *claimed],
                              "(a plugin's own table must be claimed: load_recipe(path, extra_tables=[NAME]))")
    check_table(plugin, "", {k: v for k, v in data.items() if k not in claimed}, schema.TOP)
    for name, section in schema.EXTRA_TABLES.items():
        if name in data and name not in claimed:
            check_table(plugin, name, data[name], section)
    known_top = set(schema.TOP.names()) - set(schema.EXTRA_TABLES)
    pkg = _expect(plugin, "package", data.get("package"), dict)
    check_table(plugin, "package", pkg, schema.PACKAGE)
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
    check_table(plugin, "dependencies", deps, schema.DEPENDENCIES)
    build_deps = _parse_deps(plugin, "dependencies.build", deps.get("build", []))
    run_deps = _parse_deps(plugin, "dependencies.run", deps.get("run", []))
    if name in {d.name for d in build_deps + run_deps}:
        raise RecipeError(plugin, "dependencies", f"{name!r} depends on itself")

    build = dict(_expect(plugin, "build", data.get("build", {}), dict))
    system = _expect(plugin, "build.system", build.pop("system", DEFAULT_BUILD_SYSTEM), str)
    if registry is None:
        from .registry import active

        registry = active()
    _check_build(plugin, build, system, registry)

    outputs = _expect(plugin, "outputs", data.get("outputs", {}), dict)
    check_table(plugin, "outputs", outputs, schema.OUTPUTS)
    binaries = _str_list(plugin, "outputs.bin", outputs.get("bin", []))
    if kind == "program" and not binaries:
        raise RecipeError(plugin, "outputs.bin", "a program must name at least one binary")
    commands = dict(_expect(plugin, "outputs.commands", outputs.get("commands", {}), dict))
    for cmd, binary in commands.items():
        if binary not in binaries:
            raise RecipeError(plugin, f"outputs.commands.{cmd}", f"binary {binary!r} is not in outputs.bin")

    sandbox_commands = _str_table(plugin, "outputs.sandbox-commands", outputs.get("sandbox-commands", {}))
    for cmd, binary in sandbox_commands.items():
        if binary not in binaries:
            raise RecipeError(plugin, f"outputs.sandbox-commands.{cmd}", f"binary {binary!r} is not in outputs.bin")
    sandbox_scripts = _str_table(plugin, "outputs.sandbox-scripts", outputs.get("sandbox-scripts", {}))
    for cmd in (*sandbox_commands, *sandbox_scripts):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", cmd):
            raise RecipeError(plugin, "outputs", f"sandbox command name {cmd!r} must be a plain file name")

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
        network=_expect(plugin, "outputs.network", outputs.get("network", False), bool),
        sandbox_commands=sandbox_commands,
        sandbox_scripts=sandbox_scripts,
        extra={k: v for k, v in data.items() if k not in known_top},
        plugin_dir=plugin_dir,
        plugin=plugin,
    )


def load_recipe(path: Path | str, *, plugin: str | None = None, extra_tables: Iterable[str] = ()) -> Recipe:
    """Load ``recipe.toml`` (patches resolve relative to its folder).

    ``extra_tables``: top-level tables this plugin reads itself (any other unknown one is an error).
    """
    path = Path(path)
    plugin = plugin or path.parent.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(plugin, "recipe.toml", f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(plugin, "recipe.toml", f"not valid TOML: {exc}") from None
    return recipe_from_dict(data, plugin=plugin, plugin_dir=path.parent, extra_tables=extra_tables)
