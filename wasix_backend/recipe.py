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
    strip: int = schema.SourceTable.strip
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
    kind: Kind = schema.PackageTable.kind
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
    network: bool = schema.OutputsTable.network
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


def _parse_deps(plugin: str, fieldname: str, value: list[str]) -> tuple[Dependency, ...]:
    deps = []
    for i, text in enumerate(value):
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise RecipeError(plugin, f"{fieldname}[{i}]", f"not a valid dependency: {exc}") from None
        deps.append(Dependency(canonicalize_name(req.name), str(req.specifier)))
    return tuple(deps)


def _parse_git_source(plugin: str, where: str, given: Iterable[str], table: schema.SourceTable) -> Source:
    url = table.git.strip()
    if not _GIT_URL_RE.match(url):
        raise RecipeError(
            plugin, f"{where}.git", f"{url!r} is not a repository URL (https://, http://, ssh://, git://, file:// or user@host:path)"
        )
    if "rev" not in given:
        raise RecipeError(plugin, f"{where}.rev", "a `git` source needs `rev`, the full commit id it is pinned to")
    rev = table.rev.strip().lower()
    if not _COMMIT_RE.match(rev):
        raise RecipeError(
            plugin,
            f"{where}.rev",
            f"must be a full commit id (40 or 64 hex digits), got {rev!r}: a branch or tag name, or an "
            "abbreviated id, is not a pin; use `git rev-parse NAME^{commit}` to get the commit id",
        )
    for key in ("url", "urls", "file", "debian", "strip"):
        if key in given:
            raise RecipeError(plugin, f"{where}.{key}", "applies to archives, not to a `git` source (the commit is checked out whole)")
    return Source(git=url, rev=rev, subdir=table.subdir)


def _parse_source(plugin: str, i: int, given: Iterable[str], table: schema.SourceTable) -> Source:
    """One checked ``[[source]]`` (``given``: the keys written in it) as a :class:`Source`."""
    where = f"source[{i}]"
    given = set(given)
    is_git = "git" in given or "rev" in given
    if is_git and "sha256" in given:
        raise RecipeError(plugin, where, "give either `sha256` (an archive) or `git` + `rev` (a commit), not both")
    if is_git:
        if "git" not in given:
            raise RecipeError(plugin, f"{where}.git", "`rev` needs `git`, the repository's URL")
        src = _parse_git_source(plugin, where, given, table)
    else:
        sha = table.sha256.lower()
        if not SHA256_RE.match(sha):
            raise RecipeError(
                plugin, f"{where}.sha256", f"must be 64 hex digits, got {sha!r} (or pin a git commit: `git` + `rev`)"
            )
        urls = [table.url] if table.url is not None else []
        src = Source(sha256=sha, urls=(*urls, *table.urls), file=table.file, debian=table.debian,
                     subdir=table.subdir, strip=table.strip)
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


def _check_command_names(plugin: str, outputs: schema.OutputsTable) -> None:
    """Commands name binaries the recipe builds; sandbox commands are plain file names."""
    for table, values in (("commands", outputs.commands), ("sandbox-commands", outputs.sandbox_commands)):
        for cmd, binary in values.items():
            if binary not in outputs.bin:
                raise RecipeError(plugin, f"outputs.{table}.{cmd}", f"binary {binary!r} is not in outputs.bin")
    for cmd in (*outputs.sandbox_commands, *outputs.sandbox_scripts):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", cmd):
            raise RecipeError(plugin, "outputs", f"sandbox command name {cmd!r} must be a plain file name")


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
    top = schema.load(schema.RecipeFile, plugin, "", {k: v for k, v in data.items() if k not in claimed})
    pkg = top.package
    if not _NAME_RE.match(pkg.name):
        raise RecipeError(plugin, "package.name", f"{pkg.name!r} must be lower-case letters, digits, '.', '-' or '_'")
    try:
        Version(pkg.version)
    except InvalidVersion:
        raise RecipeError(plugin, "package.version", f"{pkg.version!r} is not a PEP 440 version") from None

    sources = tuple(_parse_source(plugin, i, data["source"][i], t) for i, t in enumerate(top.source))

    build_deps = _parse_deps(plugin, "dependencies.build", top.dependencies.build)
    run_deps = _parse_deps(plugin, "dependencies.run", top.dependencies.run)
    if pkg.name in {d.name for d in build_deps + run_deps}:
        raise RecipeError(plugin, "dependencies", f"{pkg.name!r} depends on itself")

    # [build] is kept as written (it is part of the store key); only `system` is taken out.
    build = dict(top.build)
    system_field = schema.BUILD_COMMON.get("system")
    assert system_field is not None
    system_field.check(plugin, "build.system", build.get("system", system_field.value))
    system = build.pop("system", system_field.value)
    if registry is None:
        from .registry import active

        registry = active()
    _check_build(plugin, build, system, registry)

    outputs = top.outputs
    if pkg.kind == "program" and not outputs.bin:
        raise RecipeError(plugin, "outputs.bin", "a program must name at least one binary")
    _check_command_names(plugin, outputs)

    patches: list[Path] = []
    patch_names = top.patches if top.patches is not None else pkg.patches
    if patch_names is None and plugin_dir is not None:
        patches = sorted((plugin_dir / "patches").glob("*.patch"))  # default: all, in name order
    base = plugin_dir or Path.cwd()
    for i, rel in enumerate(patch_names or ()):
        path = (base / rel).resolve()
        if not path.is_file():
            raise RecipeError(plugin, f"patches[{i}]", f"no such file: {path}")
        patches.append(path)

    known_top = set(schema.TOP.names()) - set(schema.EXTRA_TABLES)
    return Recipe(
        name=pkg.name,
        version=pkg.version,
        kind=pkg.kind,
        description=pkg.description,
        license=pkg.license,
        homepage=pkg.homepage,
        sources=sources,
        patches=tuple(patches),
        build_deps=build_deps,
        run_deps=run_deps,
        build_system=system,
        build=build,
        binaries=tuple(outputs.bin),
        libraries=tuple(outputs.lib),
        headers=tuple(outputs.include),
        commands=dict(outputs.commands),
        data=dict(outputs.data),
        network=outputs.network,
        sandbox_commands=dict(outputs.sandbox_commands),
        sandbox_scripts=dict(outputs.sandbox_scripts),
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
