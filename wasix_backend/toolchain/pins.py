"""The pinned upstream WASIX toolchain: ``toolchain/pins.toml`` read into plain objects.

Each component (LLVM, a sysroot flavour, binaryen, wasixcc) has a version and one archive
per host platform, every archive pinned by URL and sha256.
"""

from __future__ import annotations

import platform
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ToolchainError
from ..fsutil import SHA256_RE
from ..paths import project_toolchain_dir

PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64", "any")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Asset:
    """One downloadable archive: where it is, its sha256 ("" = not pinned), components to strip."""

    url: str
    sha256: str
    strip: int

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]

    @property
    def pinned(self) -> bool:
        return bool(SHA256_RE.match(self.sha256))


@dataclass(frozen=True)
class Component:
    """A toolchain part at one version, with its archive for each host platform (or ``any``)."""

    name: str
    version: str
    assets: dict[str, Asset] = field(hash=False)

    def asset_for(self, host: str | None = None) -> Asset | None:
        """The archive for ``host`` (default: this machine), else the ``any`` one, else None."""
        host = host or host_platform()
        return self.assets.get(host) or self.assets.get("any")

    @property
    def dirname(self) -> str:
        """The install folder's name: ``<name>-<version>``."""
        return f"{self.name}-{self.version}"


def default_pins_path() -> Path:
    return project_toolchain_dir() / "pins.toml"


def host_platform() -> str:
    """This machine as pins name it: ``linux-x86_64``, ``linux-aarch64``, ``macos-x86_64``, ``macos-arm64``."""
    # sys.platform is "linux" or "darwin" ("linux2" on very old Pythons).
    system = {"darwin": "macos"}.get(sys.platform, sys.platform.removesuffix("2"))
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if system == "macos" and machine == "aarch64":
        machine = "arm64"  # upstream's macOS archives and Apple both say arm64
    return f"{system}-{machine}"


def _fail(path: Path, where: str, problem: str) -> ToolchainError:
    return ToolchainError(f"toolchain pins {path}: [{where}] {problem}")


def _asset(path: Path, where: str, table: Any) -> Asset:
    if not isinstance(table, dict):
        raise _fail(path, where, "must be a table with url, sha256 and strip")
    unknown = sorted(set(table) - {"url", "sha256", "strip"})
    if unknown:
        raise _fail(path, where, f"unknown key {unknown[0]!r} (known: url, sha256, strip)")
    url, sha, strip = table.get("url"), table.get("sha256", ""), table.get("strip", 0)
    if not isinstance(url, str) or "://" not in url:
        raise _fail(path, where, f"url must be a URL, got {url!r}")
    if not isinstance(sha, str) or (sha and not SHA256_RE.match(sha.lower())):
        raise _fail(path, where, f'sha256 must be 64 hex digits or "" (not pinned), got {sha!r}')
    if not isinstance(strip, int) or isinstance(strip, bool) or strip < 0:
        raise _fail(path, where, f"strip must be an integer >= 0, got {strip!r}")
    return Asset(url=url, sha256=sha.lower(), strip=strip)


def load_pins(path: Path | None = None) -> dict[str, Component]:
    """Read and validate the pins file (default: the project's ``toolchain/pins.toml``).

    Raises :class:`ToolchainError` naming the file and the offending table.
    """
    path = Path(path) if path is not None else default_pins_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolchainError(f"toolchain pins: no such file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolchainError(f"toolchain pins: cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ToolchainError(f"toolchain pins: {path} is not valid TOML: {exc}") from None
    components: dict[str, Component] = {}
    for name, table in data.items():
        if not _NAME_RE.match(name) or not isinstance(table, dict):
            raise _fail(path, name, "each top-level entry must be a component table")
        version = table.get("version")
        if not isinstance(version, str) or not version or "/" in version:
            raise _fail(path, name, f"version must be a non-empty string, got {version!r}")
        assets = table.get("assets")
        if not isinstance(assets, dict) or not assets:
            raise _fail(path, name, "needs at least one [NAME.assets.PLATFORM] table")
        unknown = sorted(set(table) - {"version", "assets"})
        if unknown:
            raise _fail(path, name, f"unknown key {unknown[0]!r} (known: version, assets)")
        parsed: dict[str, Asset] = {}
        for plat, asset in assets.items():
            if plat not in PLATFORMS:
                raise _fail(
                    path,
                    f"{name}.assets.{plat}",
                    f"unknown platform (known: {', '.join(PLATFORMS)})",
                )
            parsed[plat] = _asset(path, f"{name}.assets.{plat}", asset)
        components[name] = Component(name=name, version=version, assets=parsed)
    return components
