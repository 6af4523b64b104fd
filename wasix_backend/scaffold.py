"""``wasix-build new``: write a new plugin folder that builds as soon as its source is pinned.

The folder is what the collection's plugins are: ``recipe.toml`` (written with tomlkit,
commented; the one declaration of the recipe), ``plugin.py`` (example hooks, commented out,
importing :mod:`wasix_backend.api`; the module the entry point names), ``patches/``, for a
program ``cases.toml`` (its differential tests, run by ``wasix-build test``) and
``pyproject.toml`` (PEP 517 backend and the ``wasix_backend.plugins`` entry point). With ``from_url`` the archive is downloaded once to
learn its sha256, its version is read from its file name and its build system guessed from the
files at its top.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.version import InvalidVersion, Version

from .errors import WasixError
from .recipe import _NAME_RE, KINDS
from .registry import Registry
from .schema import DEFAULT_BUILD_SYSTEM

#: Archive suffixes, longest first, stripped from a file name to find ``NAME-VERSION``.
_ARCHIVE_SUFFIXES = (".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tgz", ".txz", ".tbz2", ".tbz", ".tar", ".zip", ".crate")
_PLACEHOLDER_SHA = "0" * 64


class ScaffoldError(WasixError):
    """``wasix-build new`` could not write the plugin folder."""


@dataclass(frozen=True)
class SourceInfo:
    """What ``--from-url`` learnt about an archive."""

    url: str
    filename: str
    sha256: str
    version: str | None
    build_system: str | None


# --------------------------------------------------------------------------- archives
def version_from_filename(filename: str, name: str | None = None) -> str | None:
    """The version in an archive name as upstream writes it (``bc-1.07.1.tar.gz`` → ``1.07.1``,
    not PEP 440's normalised ``1.7.1``: it is what the program prints), or None.

    Debian's ``NAME_VERSION.orig.tar.*`` works too; a suffix that PEP 440 cannot read
    (``1.2.13.dfsg``) is cut back to its numeric part. Each output derives its own spelling
    (:mod:`wasix_backend.versions`).
    """
    stem = filename
    for suffix in _ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    stem = stem.removesuffix(".orig")
    if name and stem.lower().startswith(name.lower()) and stem[len(name) : len(name) + 1] in ("-", "_"):
        candidate = stem[len(name) + 1 :]
    else:
        match = re.search(r"[-_]v?(\d[^-_]*)$", stem)
        if not match:
            return None
        candidate = match.group(1)
    candidate = candidate.removeprefix("v")
    try:
        Version(candidate)
        return candidate
    except InvalidVersion:
        numeric = re.match(r"\d+(?:\.\d+)*", candidate)
        return numeric.group(0) if numeric else None


def top_level_names(archive: Path) -> set[str]:
    """Names directly under the archive's top directory (or at its root if it has several)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
        else:
            with tarfile.open(archive, "r:*") as tar:
                names = tar.getnames()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ScaffoldError(f"{archive.name}: not an archive that can be read ({exc})") from None
    parts = [[p for p in n.split("/") if p not in ("", ".")] for n in names]
    parts = [p for p in parts if p]
    tops = {p[0] for p in parts}
    strip = 1 if len(tops) == 1 and any(len(p) > 1 for p in parts) else 0
    return {p[strip] for p in parts if len(p) > strip}


def _registry() -> Registry:
    """Every registered build system: the built-ins and those of installed plugins."""
    from .plugins import load_plugins

    return load_plugins(builtins=False).registry


def guess_build_system(names: set[str], registry: Registry | None = None) -> str | None:
    """The first registered build system one of whose ``markers`` is among ``names``
    (``configure`` → autotools, ``CMakeLists.txt`` → cmake …), or None."""
    return (registry or _registry()).guess_build_system(names)


def inspect_url(url: str, name: str, registry: Registry | None = None) -> SourceInfo:
    """Download ``url`` (pinning it into the source cache) and learn what the recipe needs."""
    from .pinning import pin_url

    print(f"downloading {url} to compute its sha256 …", file=sys.stderr)
    pinned = pin_url(url, what=name)
    return SourceInfo(
        url=url,
        filename=pinned.filename,
        sha256=pinned.sha256,
        version=version_from_filename(pinned.filename, name),
        build_system=guess_build_system(top_level_names(pinned.path), registry),
    )


#: A file of a Debian archive's main source pool (where fetching looks):
#: ``…/pool/main/<dir>/<srcpkg>/<file>``.
_POOL_RE = re.compile(r"/pool/main/(lib[a-z0-9]|[a-z0-9])/([a-z0-9][a-z0-9.+-]+)/([^/?#]+)$")


def debian_pool_source(url: str) -> tuple[str, str] | None:
    """``(srcpkg, file)`` when ``url`` names a file of a Debian source pool, else None: the
    recipe then says ``debian``/``file`` and names no mirror (fetching finds the file through
    this machine's apt configuration, wherever it is built)."""
    from urllib.parse import unquote, urlsplit

    from .debian import pool_dir

    match = _POOL_RE.search(unquote(urlsplit(url).path))
    if not match or pool_dir(match.group(2)) != f"{match.group(1)}/{match.group(2)}":
        return None
    return match.group(2), match.group(3)


# --------------------------------------------------------------------------- documents
def _commented(value: object, comment: str):  # -> tomlkit item
    item = tomlkit.item(value)
    item.comment(comment)
    return item


def recipe_document(
    name: str,
    *,
    kind: str,
    build_system: str,
    version: str,
    url: str,
    sha256: str,
    filename: str = "",
    registry: Registry | None = None,
) -> tomlkit.TOMLDocument:
    """The new ``recipe.toml`` as a tomlkit document (comments included)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"{name}: the recipe. Every field is described in docs/plugins.md of wasix-backend."))
    doc.add(tomlkit.nl())

    pkg = tomlkit.table()
    pkg.add("name", name)
    pkg.add("version", version)
    pkg.add("kind", _commented(kind, "program (bin/NAME.wasm) or library (lib/, include/)"))
    pkg.add("description", f"TODO: what {name} is, in one line")
    pkg.add("license", _commented("", "an SPDX identifier"))
    pkg.add("homepage", "")
    doc.add("package", pkg)

    src = tomlkit.table()
    pool = debian_pool_source(url)
    if pool:  # the Debian archive, found through apt's configuration: no mirror host named
        src.add("debian", pool[0])
        src.add("file", pool[1])
    else:
        src.add("url", url)
    pinned = sha256 != _PLACEHOLDER_SHA
    src.add("sha256", sha256 if pinned else _commented(sha256, "TODO: sha256sum of the archive"))
    if not pool and filename and filename != url.rsplit("/", 1)[-1]:
        src.add("file", filename)
    sources = tomlkit.aot()
    sources.append(src)
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment("Archives: fetched from $WASIX_MIRROR, then `url`, then the Debian source pool"))
    doc.add(tomlkit.comment('when `debian = "SRCPKG"` and `file = "SRCPKG_VERSION.orig.tar.xz"` are given.'))
    doc.add("source", sources)

    deps = tomlkit.table()
    deps.add(tomlkit.comment('Other recipes built first, e.g. ["ncurses>=6.4"]; their include/, lib/ and'))
    deps.add(tomlkit.comment("lib/pkgconfig are visible through CPPFLAGS, LDFLAGS and PKG_CONFIG_LIBDIR."))
    deps.add("build", tomlkit.array())
    doc.add(tomlkit.nl())
    doc.add("dependencies", deps)

    build = tomlkit.table()
    build.add("system", build_system)
    system = (registry or _registry()).get_build_system(build_system)
    for key, value, comment in system.scaffold if system else ():  # the build system's own start
        build.add(key, _commented(tomlkit.array() if value == [] else value, comment) if comment else value)
    doc.add(tomlkit.nl())
    doc.add("build", build)

    outputs = tomlkit.table()
    if kind == "program":
        outputs.add("bin", _commented([name], "installed as bin/NAME.wasm"))
    else:
        outputs.add(tomlkit.comment(f'e.g. lib = ["lib{name}.a"] and include = ["{name}.h"]: checked after the build'))
        outputs.add("lib", tomlkit.array())
        outputs.add("include", tomlkit.array())
    doc.add(tomlkit.nl())
    doc.add("outputs", outputs)

    return doc


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name)


PLUGIN_PY = '''\
"""{name}: a wasix-backend plugin.

Most packages need no Python: recipe.toml beside this file says everything (it is the
plugin's recipe, in a checkout and when installed as a distribution) and the build system does
the work. Uncomment a hook below only for what is special about {name}; every hook gets a
BuildContext (ctx.recipe, ctx.source_dir, ctx.build_dir, ctx.prefix, ctx.stage, ctx.env,
ctx.run(...)). Import from wasix_backend.api only. See docs/plugins.md of wasix-backend.
"""

from __future__ import annotations

from wasix_backend.api import BuildContext, hookimpl  # noqa: F401 (for the hooks below)

# Run code around the default configure step (return the default's result):
#
# @hookimpl(wrapper=True)
# def wasix_configure(ctx: BuildContext):
#     (ctx.source_dir / "config.h.extra").write_text("#define EXTRA 1\\n")
#     return (yield)
#
# Replace the default compile step (returning True means "done, skip the default"):
#
# @hookimpl
# def wasix_compile(ctx: BuildContext) -> bool:
#     ctx.run(["make", f"-j{{ctx.jobs}}", "{name}"])
#     return True
#
# Install something the build system does not:
#
# @hookimpl(wrapper=True)
# def wasix_package(ctx: BuildContext):
#     result = yield
#     (ctx.stage / "share" / "{name}").mkdir(parents=True, exist_ok=True)
#     return result
'''

CASES_TOML = '''\
# Differential tests of {name} (docs/plugins.md, "Differential tests: cases.toml"): each case
# runs natively and under Wasmer with the same files; stdout, stderr and the exit status are
# compared. `wasix-build test {name} --plugin-dir {folder_rel}` builds {name} and runs them.

[defaults]
command = "{name}"
# What to compare with: a Debian binary, any absolute path to a native build of the same
# sources, or "build:BIN" (cargo recipes: this package's sources built for this machine).
# A case whose native program is missing is skipped, saying which.
native = "{native}"
timeout = 60

[[case]]
name = "version"
args = ["--version"]
status = 0
'''


PATCHES_README = """\
Patches for {name}, applied in name order with `patch -p1` before configuring:
name them NNNN-what-it-does.patch, and give each a one-line reason at its top
(`patch` ignores text before the first `---`).
"""


def pyproject_document(name: str) -> tomlkit.TOMLDocument:
    """``pyproject.toml``: the PEP 517 backend and the plugin entry point."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"`pip wheel .` builds {name} to WebAssembly and wraps it in a wheel (wasix-backend's"))
    doc.add(tomlkit.comment("PEP 517 backend); installing the distribution also makes the recipe known to"))
    doc.add(tomlkit.comment("`wasix-build` through the entry point below."))
    bs = tomlkit.table()
    bs.add("requires", ["wasix-backend"])
    bs.add("build-backend", "wasix_backend.pep517")
    doc.add("build-system", bs)

    project = tomlkit.table()
    project.add("name", f"wasix-{name}")
    project.add("dynamic", _commented(["version", "description"], "from recipe.toml"))
    eps = tomlkit.table(is_super_table=True)
    group = tomlkit.table()
    group.add(name, f"wasix_plugin_{_ident(name)}.plugin")
    eps.add("wasix_backend.plugins", group)
    project.add("entry-points", eps)
    doc.add(tomlkit.nl())
    doc.add("project", project)

    tool = tomlkit.table(is_super_table=True)
    wb = tomlkit.table()
    wb.add("recipe", name)
    tool.add("wasix-backend", wb)
    doc.add(tomlkit.nl())
    doc.add("tool", tool)
    return doc


# --------------------------------------------------------------------------- the command
def new_plugin(
    name: str,
    *,
    kind: str = "program",
    build_system: str | None = None,
    directory: Path = Path("plugins"),
    from_url: str | None = None,
) -> Path:
    """Write ``directory/name/`` and return it. Refuses to touch an existing folder.

    ``build_system`` None means: guessed from the archive with ``from_url``, else autotools.
    Raises :class:`ScaffoldError` (a :class:`WasixError`) with what to do.
    """
    if not _NAME_RE.match(name):
        raise ScaffoldError(f"{name!r} is not a valid package name: use lower-case letters, digits, '.', '-' or '_'")
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    registry = _registry()
    startable = [s.name for s in registry.build_systems.values() if s.hooks is not None]
    if build_system is not None and build_system not in startable:
        raise ScaffoldError(f"--build-system {build_system!r}: choose one of {', '.join(startable)}")
    folder = Path(directory) / name
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already; not overwriting it (remove it or pick another --dir)")

    version, url, sha, filename = "1.0", f"https://example.org/{name}-1.0.tar.gz", _PLACEHOLDER_SHA, ""
    if from_url:
        info = inspect_url(from_url, name, registry)
        url, sha, filename = info.url, info.sha256, info.filename
        if info.version:
            version = info.version
        else:
            print(f"note: no version in {info.filename!r}; wrote {version}: correct it in recipe.toml", file=sys.stderr)
        if build_system is None:
            build_system = info.build_system
            if build_system is None:
                markers = ", ".join(m for s in registry.build_systems.values() for m in s.markers[:1])
                print(f"note: none of {markers} at the top of {info.filename}; "
                      f"wrote system = \"{DEFAULT_BUILD_SYSTEM}\": correct it in recipe.toml", file=sys.stderr)
    build_system = build_system or DEFAULT_BUILD_SYSTEM

    files = {
        "recipe.toml": tomlkit.dumps(recipe_document(name, kind=kind, build_system=build_system, version=version,
                                                     url=url, sha256=sha, filename=filename, registry=registry)),
        "plugin.py": PLUGIN_PY.format(name=name),
        "patches/README.md": PATCHES_README.format(name=name),
        "pyproject.toml": tomlkit.dumps(pyproject_document(name)),
    }
    if kind == "program":  # a library has no command to run: its dependents' cases test it
        native = f"build:{name}" if build_system == "cargo" else f"/usr/bin/{name}"
        files["cases.toml"] = CASES_TOML.format(name=name, native=native, folder_rel=f"{Path(directory).name}/{name}")
    # Write everything into a hidden sibling, then rename: never a half-written plugin folder.
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{name}."))
    try:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text) if rel.endswith(".md") else text, encoding="utf-8")
        os.chmod(staging, 0o755)
        if folder.exists():  # created meanwhile (rename would replace an empty folder)
            raise ScaffoldError(f"{folder} exists already; not overwriting it")
        try:
            os.rename(staging, folder)
        except OSError as exc:
            raise ScaffoldError(f"could not create {folder}: {exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder
