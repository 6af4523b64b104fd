"""The C toolchain as build phases see it: driver commands, environment, provider identity.

:func:`get_toolchain` resolves the provider (see :mod:`.providers`) and returns a
:class:`Toolchain` whose :meth:`~Toolchain.env` points ``CC``/``CXX``/``AR``… at the
``wasixcc`` programs, so ``./configure``, ``make`` and CMake need nothing else. Those are
shell wrappers resolved from the provider (:mod:`.wrappers`: no Python start-up per compiler
call), which hand anything unusual over to the Python driver (:mod:`.driver`, the reference).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BuildError, FetchError, ToolchainError, WasixError
from ..paths import cache_root
from .driver import TOOLS
from .providers import WasixProvider
from .settings import PROVIDER_VAR, PROVIDERS, RETIRED_PROVIDERS, Settings, parse_settings
from .sysroot import ensure_sysroot, find_sysroot, llvm_problem, no_llvm_reason
from .versioncache import tool_digest as _tool_digest
from .versioncache import tool_version as _tool_version

if TYPE_CHECKING:
    from rich.console import Console

    from ..store import Store

__all__ = ["PROVIDERS", "Toolchain", "choose_provider", "driver_bin_dir", "get_toolchain", "toolchain_status"]

#: Environment variable -> driver program name.
ENV_TOOLS = {
    "CC": "wasixcc",
    "CXX": "wasix++",
    "AR": "wasixar",
    "RANLIB": "wasixranlib",
    "NM": "wasixnm",
    "LD": "wasixld",
}


@dataclass(frozen=True)
class Toolchain:
    """A configured provider and the driver programs that front it."""

    #: ``wasix`` (the one provider; kept as a field for the environment and reports).
    provider: str
    #: Directory of the Python driver's programs (the reference implementation).
    driver_dir: Path
    #: Names and versions of every part; goes into store keys so a new compiler rebuilds.
    description: str
    wasm_opt: Path | None = None
    #: ``--enable-*`` flags wasm-opt needs to read this provider's modules.
    wasm_opt_features: tuple[str, ...] = ()
    #: The GNU triple for ``--host`` (old ``config.sub`` files need refreshing to know it).
    host: str = "wasm32-wasi"
    #: A compiler for programs that run on the build machine (code generators).
    build_cc: str = field(default_factory=lambda: _host_cc())
    #: The provider the wrappers are made from (see :attr:`bin_dir`).
    chosen: WasixProvider | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def bin_dir(self) -> Path:
        """Directory holding ``wasixcc``, ``wasix++``, ``wasixar`` …: resolved wrappers that
        start the compiler directly (made on first use, see :mod:`.wrappers`), else the Python
        driver's programs."""
        if self.chosen is None:
            return self.driver_dir
        from .wrappers import wrapper_bin_dir

        # Baked with the chosen provider's resolved parts (its sysroot may be in a --store
        # other than $WASIX_STORE): the same values every build exports, see env().
        environ = {**os.environ, **self.provider_env}
        return wrapper_bin_dir(self.chosen, self.driver_dir, environ) or self.driver_dir
    #: The provider's resolved parts for the driver (``WASIXCC_SYSROOT`` …).
    provider_env: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def tool(self, name: str) -> Path:
        """Path of a driver program (``wasixcc``, ``wasixar`` …)."""
        return self.bin_dir / name

    def env(self) -> dict[str, str]:
        """Variables that make build systems use this toolchain."""
        env = {var: str(self.tool(prog)) for var, prog in ENV_TOOLS.items()}
        env["CPP"] = f"{self.tool('wasixcc')} -E"
        env.update(self.provider_env)
        env[PROVIDER_VAR] = env["WASIXCC_PROVIDER"] = self.provider
        env["CC_FOR_BUILD"] = env["BUILD_CC"] = self.build_cc
        # Release flags; replace the host's own (they are for another machine). No -g: the
        # DWARF would dominate the module's size, and old wasm-opt releases cannot read it.
        env["CFLAGS"] = env["CXXFLAGS"] = "-O2"
        env["LDFLAGS"] = ""
        return env

    def configure_env(self) -> dict[str, str]:
        """:meth:`env` for ``./configure``: no wasm-opt on its many throw-away links."""
        return {**self.env(), "WASIXCC_RUN_WASM_OPT": "no"}

    @property
    def identity(self) -> str:
        """What the store keys of C builds depend on: provider and versions of its parts
        (wasm-opt included: the engine runs it on every program when it is there), and the
        build machine's tools builds run (system or PyPI: another make is another build)."""
        return f"{self._identity()}; host [{_host_tools_identity(self.build_cc)}]"

    def _identity(self) -> str:
        if self.wasm_opt is None:
            return f"{self.description}; wasm-opt none"
        from . import binaryen

        if binaryen.is_program(self.wasm_opt):  # the script names this machine's Python: not that
            lib = binaryen.library()
            if lib is not None:
                from ..fastpath import watch

                watch(lib)
            return f"{self.description}; wasm-opt {binaryen.identity()}"
        return f"{self.description}; wasm-opt {_tool_version(self.wasm_opt)} {_tool_digest(self.wasm_opt)[:16]}"

    def describe(self) -> dict[str, object]:
        """For ``wasix-build toolchain status``."""
        return {
            "provider": self.provider,
            "parts": self.description,
            "driver": str(self.tool("wasixcc")),
            "wasm-opt": str(self.wasm_opt) if self.wasm_opt else "not found (modules are not size-optimised)",
            "host triple": self.host,
            "build compiler": self.build_cc,
        }

    @property
    def key(self) -> str:
        """A short hash of :attr:`description` for store keys."""
        return hashlib.sha256(self.description.encode()).hexdigest()[:16]


#: Host programs whose versions shape C builds (code generators' compiler aside).
HOST_TOOLS = ("make", "cmake", "pkg-config")


def _host_tools_identity(build_cc: str) -> str:
    """Version and sha256 of the build compiler and of each of :data:`HOST_TOOLS` builds find."""
    from ..buildenv import host_which

    parts = []
    for name, found in [("cc", host_which(build_cc)), *((t, host_which(t)) for t in HOST_TOOLS)]:
        if found is None:
            parts.append(f"{name}=none")
            continue
        version = (_tool_version(Path(found)).splitlines() or ["?"])[0]
        parts.append(f"{name}={version} {_tool_digest(Path(found))[:12]}")
    return "; ".join(parts)


def _host_cc() -> str:
    """The build machine's C compiler, where builds look for host tools; else ``zig cc``
    (PyPI's ziglang), else ``cc`` (the build then names what to install)."""
    from ..buildenv import host_which
    from .zigllvm import available, host_cc

    found = host_which("cc") or host_which("gcc")
    if found:
        return found
    return str(host_cc()) if available() else "cc"


def _write_shims(directory: Path) -> None:
    # Console scripts are missing (a checkout that was never pip-installed, or a PEP 517 build
    # environment that imports this package through backend-path): write small launchers that
    # run this interpreter on the driver module, with this package importable.
    directory.mkdir(parents=True, exist_ok=True)
    package_root = Path(__file__).resolve().parents[2]
    for name, tool in TOOLS.items():
        path = directory / name
        text = (
            f'#!/bin/sh\nPYTHONPATH="{package_root}${{PYTHONPATH:+:$PYTHONPATH}}" '
            f'exec "{sys.executable}" -m wasix_backend.toolchain.driver {tool} "$@"\n'
        )
        if path.is_file() and path.read_text() == text:
            continue
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)


def driver_bin_dir() -> Path:
    """The directory of the ``wasixcc`` programs: the console scripts, else generated shims."""
    scripts = Path(sys.executable).parent
    if all((scripts / name).is_file() for name in TOOLS):
        return scripts
    # One shim directory per interpreter and package location, so environments don't fight.
    where = f"{sys.executable}\0{Path(__file__).resolve().parent}"
    shims = cache_root() / "bin" / hashlib.sha256(where.encode()).hexdigest()[:12]
    _write_shims(shims)
    return shims


def get_toolchain(
    provider: str | None = None,
    *,
    settings: Settings | None = None,
    store: Store | None = None,
    console: Console | None = None,
) -> Toolchain:
    """The toolchain to build with.

    ``provider`` is ``wasix`` or ``auto`` (the same; default: ``$WASIX_PROVIDER``, alias
    ``$WASIXCC_PROVIDER``): clang and wasm-ld from a suitable system LLVM, else ziglang's from
    PyPI, and the wasix-libc sysroot, built into ``store`` on first use. Raises
    :class:`~wasix_backend.errors.ToolchainError` when it cannot work here, saying what is
    missing.
    """
    if settings is None:
        settings, _ = parse_settings([], os.environ)
    if provider is not None:
        settings.provider = _provider_name(provider)
    chosen = choose_provider(settings, store=store, console=console)
    chosen.require()
    return Toolchain(
        provider=chosen.name,
        driver_dir=driver_bin_dir(),
        description=chosen.describe(),
        wasm_opt=chosen.wasm_opt(),
        wasm_opt_features=tuple(chosen.wasm_opt_features()),
        chosen=chosen,
        provider_env=chosen.env(),
    )


def choose_provider(
    settings: Settings,
    *,
    store: Store | None = None,
    console: Console | None = None,
    driver: bool = False,
    build: bool = True,
) -> WasixProvider:
    """The one provider chooser: the wasix provider for ``settings``, its wasix-libc sysroot
    built into ``store`` first when it is not there, with a progress line on stderr — for
    ``wasix-build build`` and ``shell`` and for a single ``wasixcc`` call (``driver``) alike.

    ``build=False`` is for reports (``wasix-build toolchain status``): nothing is built and
    nothing printed; a sysroot that is not built yet is the provider's :meth:`problem`.
    Builds never reach this in the driver: their environment names the sysroot
    (:meth:`Toolchain.env`). Raises :class:`~wasix_backend.errors.ToolchainError` when no
    compiler can be found, naming what to install, and when the wasix-libc sources cannot
    be had, saying where to get them.
    """
    wasix = WasixProvider(settings)
    problem = auto_problem(wasix)
    if problem:
        raise ToolchainError(f"wasixcc: no compiler for WASIX: {problem}")
    if not _needs_built_sysroot(wasix):
        return wasix
    if not build:
        found = _find_sysroot(store)
        if found is not None:
            settings.sysroot = str(found)
            return WasixProvider(settings)
        return wasix
    try:
        settings.sysroot = str(ensure_sysroot(store, console if not driver else None))
    except (FetchError, BuildError) as exc:
        if isinstance(exc, BuildError) and exc.phase != "fetch":
            raise
        raise ToolchainError(
            f"wasixcc: the wasix-libc sources are not available ({str(exc).splitlines()[0]}).\n"
            f"{SYSROOT_SOURCES_HINT}"
        ) from exc
    return WasixProvider(settings)


#: What to do when wasix-libc's sources cannot be fetched (there is no other C library).
SYSROOT_SOURCES_HINT = (
    "The wasix provider needs them once, to build its sysroot: point WASIX_MIRROR at a folder "
    "holding a wasix-libc git bundle (or a mirror of the sources), set WASIXCC_SYSROOT to a "
    "built wasix-libc sysroot, or install the prebuilt one (wasix-build toolchain install)."
)


def toolchain_status(provider: str | None = None, *, store: Store | None = None) -> dict[str, object]:
    """What ``wasix-build toolchain status`` reports: the provider a build would use and its
    parts, or what it lacks. Builds nothing (no sysroot, no compatibility library) and
    prints nothing; ``wasix-build toolchain build`` is what builds."""
    settings, _ = parse_settings([], os.environ)
    if provider is not None:
        settings.provider = _provider_name(provider)
    wasix = WasixProvider(settings)
    no_compiler = auto_problem(wasix)
    chosen = wasix if no_compiler else choose_provider(settings, store=store, build=False)
    wasm_opt = chosen.wasm_opt()
    info: dict[str, object] = {
        "provider": chosen.name,
        "parts": chosen.describe(),
        "driver": str(driver_bin_dir() / "wasixcc"),
        "wasm-opt": str(wasm_opt) if wasm_opt else "not found (modules are not size-optimised)",
    }
    problem = chosen.problem()
    if no_compiler:
        info["state"] = f"not usable: {no_compiler}"
    elif chosen.sysroot is None and chosen.llvm is not None:
        info["state"] = "the wasix-libc sysroot is not built yet"
        info["next step"] = ("`wasix-build toolchain build` builds it (a few minutes, once); "
                             "so do the first `wasix-build build`, `wasix-build shell` and `wasixcc`")  # fmt: skip
    elif problem:
        info["state"] = f"not usable: {problem}"
    else:
        info["state"] = "ready"
    return info


def _provider_name(provider: str) -> str:
    """``provider`` as given to ``--provider`` (or PEP 517's ``-C provider=``), checked."""
    if provider in RETIRED_PROVIDERS:
        raise ToolchainError(f"toolchain provider {provider!r}: {RETIRED_PROVIDERS[provider]}")
    if provider not in PROVIDERS:
        raise ToolchainError(f"unknown toolchain provider {provider!r} (known: {', '.join(PROVIDERS)})")
    return provider


def auto_problem(wasix: WasixProvider) -> str | None:
    """Why the wasix provider has no compiler here (naming what to install), or ``None``.
    A sysroot not built yet is no reason: it is built."""
    problem = no_llvm_reason() if wasix.llvm is None else None
    if wasix.settings.llvm_location and problem is None:
        problem = llvm_problem(wasix.llvm or Path(wasix.settings.llvm_location))
    return problem


def _find_sysroot(store: Store | None) -> Path | None:
    from ..paths import store_dir
    from ..store import Store

    try:
        return find_sysroot(store or Store(store_dir()))
    except WasixError:
        return None


def _needs_built_sysroot(wasix: WasixProvider) -> bool:
    s = wasix.settings
    if s.sysroot or s.sysroot_flavour != "sysroot" or wasix.llvm is None:
        return False
    from .providers import _installed_component

    return _installed_component("sysroot") is None
