"""The ``cmake`` build system: CMake found and set up through scikit-build-core.

scikit-build-core already knows how to find a usable CMake (a ``cmake`` wheel, the one on
``PATH``, ``$CMAKE_EXECUTABLE``), how to find Ninja and how to write an initial cache; we use
those parts and run the three commands ourselves through :meth:`BuildContext.run`, so their
output goes to the phase logs and failures name the package like every other build system.
CMake comes with wasix-backend itself (PyPI's ``cmake`` is one of its dependencies), so it is
found first; when no suitable CMake is there after all, the package is *skipped* (a
:class:`~wasix_backend.errors.MissingRequirement` naming the install commands), not failed.

configure
    writes ``<build_dir>/wasix-toolchain.cmake`` (system ``WASI``, compilers from the
    toolchain's ``CC``/``CXX``/``AR``/``RANLIB``, ``.wasm`` executables, static libraries
    only, ``find_*`` confined to the dependencies' install trees through
    ``CMAKE_FIND_ROOT_PATH``) and runs ``cmake -S <source_dir> -B <build_dir>`` with
    ``CMAKE_INSTALL_PREFIX=<prefix>`` (Ninja when available, else Unix Makefiles).
compile
    ``cmake --build <build_dir> -j<jobs> [--target …]``.
package
    ``cmake --install <build_dir> --prefix <prefix>`` with ``DESTDIR=<destdir>``, so files
    land in ``ctx.stage`` while every path CMake wrote into them names the final prefix.

Recipe ``[build]`` keys: ``cmake-args`` (list, passed to the configure step),
``targets`` (list; default: all), ``build-type`` (default ``Release``), ``source-subdir``
(where ``CMakeLists.txt`` is, relative to the sources), ``env`` (table, applied by the
engine to every phase), ``cmake-version`` (a specifier such as ``">=3.20"``).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .. import hookimpl
from ..context import BuildContext
from ..errors import MissingRequirement
from ..recipe import Recipe
from ..registry import BuildSystem, Registry
from ..schema import Field, Section

SYSTEM = "cmake"
TOOLCHAIN_FILE = "wasix-toolchain.cmake"
#: CMake older than this lacks ``cmake --install`` and multi-target ``--build``.
MIN_CMAKE = ">=3.15"

# CMake has no WASI platform before 3.31 (and its later one allows shared libraries, which
# our toolchains cannot link). This module, found first through CMAKE_MODULE_PATH, says what
# the target is: POSIX-like paths and names, static libraries only, ``.wasm`` programs.
_PLATFORM = """\
# Written by wasix-backend: the WASIX target as CMake sees it.
include(Platform/UnixPaths)
set(WASI 1)
set(WASIX 1)
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_STATIC_LIBRARY_PREFIX "lib")
set(CMAKE_STATIC_LIBRARY_SUFFIX ".a")
set(CMAKE_FIND_LIBRARY_PREFIXES "lib")
set(CMAKE_FIND_LIBRARY_SUFFIXES ".a")
"""


SETTINGS = Section("build (cmake)", (
    Field("cmake-args", "list of strings", "`[]`", "arguments of the configure step (placeholders filled in)"),
    Field("targets", "list of strings", "all", "targets to build"),
    Field("build-type", "string", '`"Release"`', "`CMAKE_BUILD_TYPE`"),
    Field("source-subdir", "string", '`""`', "where `CMakeLists.txt` is, relative to the sources"),
    Field("cmake-version", "string", '`">=3.15"`', "a version specifier for the CMake to use"),
))  # fmt: skip


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem(
        SYSTEM, hooks=sys.modules[__name__], settings=SETTINGS, identity=identity, markers=("CMakeLists.txt",),
        scaffold=(("cmake-args", [], 'e.g. ["-DBUILD_TESTING=OFF"]'),),
        doc="CMake with a WASIX toolchain file",
    ))  # fmt: skip


def identity(recipe: Recipe, c_toolchain: str) -> str:
    """The C toolchain and the version of the CMake a build of ``recipe`` would find (CMake
    writes the build's rules: another version may build differently)."""
    from scikit_build_core.cmake import CMake
    from scikit_build_core.errors import CMakeNotFoundError

    from ..buildenv import host_path

    try:
        spec = SpecifierSet(str(recipe.build.get("cmake-version", MIN_CMAKE)))
        found = CMake.default_search(version=spec, env={"PATH": host_path()})
    except (InvalidSpecifier, CMakeNotFoundError):  # the build says so, as a skip or an error
        return f"{c_toolchain}; cmake none"
    return f"{c_toolchain}; cmake {found.version}"


def _cmake_str(value: str | os.PathLike[str]) -> str:
    """A CMake bracket argument: no escaping problems with spaces, quotes or ``;``."""
    text = os.fspath(value).replace("\\", "/")
    return f"[==[{text}]==]"


def _tool(ctx: BuildContext, var: str) -> tuple[str, list[str]]:
    """A tool variable split into the program and any leading arguments (``CC="x -y"``)."""
    words = shlex.split(ctx.env.get(var, ""))
    return (words[0], words[1:]) if words else ("", [])


def toolchain_file(ctx: BuildContext, directory: Path) -> Path:
    """Write the CMake toolchain file (and its platform module) into ``directory``."""
    platform_dir = directory / "wasix-cmake"
    (platform_dir / "Platform").mkdir(parents=True, exist_ok=True)
    (platform_dir / "Platform" / "WASI.cmake").write_text(_PLATFORM)
    lines = [
        "# Written by wasix-backend for " + ctx.recipe.name + ": cross-compiling to WASIX.",
        "set(CMAKE_SYSTEM_NAME WASI)",
        "set(CMAKE_SYSTEM_VERSION 1)",
        "set(CMAKE_SYSTEM_PROCESSOR wasm32)",
        f"list(PREPEND CMAKE_MODULE_PATH {_cmake_str(platform_dir)})",
    ]
    for lang, var in (("C", "CC"), ("CXX", "CXX")):
        prog, args = _tool(ctx, var)
        if not prog:
            continue
        lines.append(f"set(CMAKE_{lang}_COMPILER {_cmake_str(prog)})")
        if args:
            lines.append(f"set(CMAKE_{lang}_FLAGS_INIT {_cmake_str(' '.join(args))})")
    for var in ("AR", "RANLIB", "NM"):
        prog, _ = _tool(ctx, var)
        if prog:
            lines.append(f'set(CMAKE_{var} {_cmake_str(prog)} CACHE FILEPATH "")')
    # An empty root is always among them: with no root at all, CMake would search the host.
    empty_root = platform_dir / "empty-root"
    empty_root.mkdir(exist_ok=True)
    roots = ";".join([*(str(p) for p in ctx.deps.values()), str(empty_root)])
    lines += [
        # Dependencies' install trees are the only place headers, libraries and CMake
        # packages are looked for: a host library can never stand in for a missing one.
        f"set(CMAKE_FIND_ROOT_PATH {_cmake_str(roots)})",
        "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)",
        "set(CMAKE_EXECUTABLE_SUFFIX .wasm)",
        # CMake 3.31 and later carry an (empty) WASI platform module of their own, which they
        # prefer to ours (policy CMP0017): say here what ours says, or find_package() looks
        # in no prefix at all (no CMAKE_SYSTEM_PREFIX_PATH) and for no library suffix.
        "set(WASI 1)",
        "set(WASIX 1)",
        "set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)",
        "set(CMAKE_SYSTEM_PREFIX_PATH / /usr /usr/local)",
        "set(CMAKE_STATIC_LIBRARY_PREFIX lib)",
        "set(CMAKE_STATIC_LIBRARY_SUFFIX .a)",
        "set(CMAKE_FIND_LIBRARY_PREFIXES lib)",
        "set(CMAKE_FIND_LIBRARY_SUFFIXES .a)",
    ]
    path = directory / TOOLCHAIN_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def find_cmake(ctx: BuildContext):  # -> scikit_build_core.cmake.CMake
    """The best CMake here, found by scikit-build-core (``$CMAKE_EXECUTABLE`` wins)."""
    from scikit_build_core.cmake import CMake
    from scikit_build_core.errors import CMakeNotFoundError

    spec = str(ctx.recipe.build.get("cmake-version", MIN_CMAKE))
    try:
        version = SpecifierSet(spec)
    except InvalidSpecifier:
        raise ctx.fail(f"[build] cmake-version: {spec!r} is not a version specifier") from None
    try:
        return CMake.default_search(version=version, env=ctx.env)
    except CMakeNotFoundError as exc:
        raise MissingRequirement(
            f"{ctx.recipe.name}: no CMake {spec} found ({exc})",
            how=cmake_how(spec),
            reason=f"no CMake {spec} installed",
        ) from None


def cmake_how(spec: str = MIN_CMAKE) -> str:
    """The commands that install a CMake matching ``spec``: into this Python's environment
    (as the dependency wasix-backend declares), or Debian's (12 has 3.25)."""
    wanted = spec if "<" in spec else f"{spec},<4"
    return f"`{sys.executable} -m pip install 'cmake{wanted}'`, or on Debian/Ubuntu `apt-get install cmake`"


def _generator(ctx: BuildContext, cmake_args: list[str]) -> list[str]:
    """``-G`` arguments: the recipe's or ``$CMAKE_GENERATOR`` if given, else Ninja, else Make."""
    if any(a.startswith("-G") for a in cmake_args) or ctx.env.get("CMAKE_GENERATOR"):
        return []
    from scikit_build_core.program_search import best_program, get_ninja_programs

    ninja = best_program(get_ninja_programs(), version=SpecifierSet(">=1.5"))
    if ninja is not None:
        return ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM:FILEPATH={ninja.path}"]
    return ["-G", "Unix Makefiles"]


def _cmake_env(ctx: BuildContext) -> dict[str, str]:
    # CMake reads CFLAGS/CXXFLAGS/LDFLAGS on the first configure but never CPPFLAGS, which is
    # where the engine puts the dependencies' include directories: fold it in.
    cppflags = ctx.env.get("CPPFLAGS", "")
    env = {}
    for var in ("CFLAGS", "CXXFLAGS"):
        env[var] = f"{cppflags} {ctx.env.get(var, '')}".strip()
    return env


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool | None:
    from scikit_build_core.cmake import CMaker

    build = ctx.recipe.build
    source = ctx.source_dir / str(build.get("source-subdir", ""))
    if not (source / "CMakeLists.txt").is_file():
        raise ctx.fail(f"no CMakeLists.txt in {source}: is `build.system` right (or set [build] source-subdir)?")
    if ctx.build_dir == ctx.source_dir:
        raise ctx.fail("CMake builds out of tree: remove `in-tree = true` from [build]")
    cmake = find_cmake(ctx)
    build_type = str(build.get("build-type", "Release"))
    cmaker = CMaker(cmake, source_dir=source, build_dir=ctx.build_dir, build_type=build_type)
    # The initial cache (`-C`): scikit-build-core writes it with correct quoting and types.
    cmaker.init_cache({
        "CMAKE_INSTALL_PREFIX": ctx.prefix,
        "CMAKE_INSTALL_LIBDIR": "lib",
        "BUILD_SHARED_LIBS": False,
        "CMAKE_BUILD_TYPE": build_type,
    })
    args = [ctx.expand(str(a)) for a in build.get("cmake-args", [])]  # placeholders, as autotools
    tc = toolchain_file(ctx, ctx.build_dir)
    ctx.state["cmake"] = cmake.cmake_path
    ctx.log.info("CMake %s at %s; toolchain file %s", cmake.version, cmake.cmake_path, tc)
    ctx.run(
        [
            cmake.cmake_path,
            "-S", source,
            "-B", ctx.build_dir,
            f"-DCMAKE_TOOLCHAIN_FILE:FILEPATH={tc}",
            f"-C{cmaker.init_cache_file}",
            *_generator(ctx, args),
            *args,
        ],
        env=_cmake_env(ctx),
    )
    return True


def _cmake_path(ctx: BuildContext) -> Path:
    path = ctx.state.get("cmake")
    return path if isinstance(path, Path) else find_cmake(ctx).cmake_path


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool | None:
    targets = [str(t) for t in ctx.recipe.build.get("targets", [])]
    args: list[str | os.PathLike[str]] = [_cmake_path(ctx), "--build", ctx.build_dir, "--parallel", str(ctx.jobs)]
    if targets:
        args += ["--target", *targets]
    ctx.run(args, env=_cmake_env(ctx))
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool | None:
    ctx.run(
        [_cmake_path(ctx), "--install", ctx.build_dir, "--prefix", ctx.prefix],
        env={"DESTDIR": str(ctx.destdir)},
    )
    return True
