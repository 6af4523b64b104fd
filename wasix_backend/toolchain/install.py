"""Installing the pinned upstream WASIX toolchain (LLVM, sysroots, binaryen, wasixcc).

Each component lands in ``<dest>/<name>-<version>/``. The archive is downloaded and
verified (:func:`wasix_backend.fetch.download`), unpacked into a staging directory
(:func:`wasix_backend.extract.extract`), checked to look like what it should be, given a
marker file, and only then renamed into place. So a component directory either carries
the marker and is complete, or does not exist; leftovers of an interrupted run (partial
downloads, staging directories) are removed by the next run, which then finishes the job.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..errors import FetchError, ToolchainError
from .pins import Asset, Component, default_pins_path, host_platform, load_pins

MARKER = ".wasix-installed"
#: What a usable toolchain needs; the other components are optional.
REQUIRED = ("llvm", "sysroot", "binaryen")
#: Sysroot component -> flavour key of :attr:`InstalledToolchain.sysroots`.
SYSROOT_FLAVOURS = {"sysroot": "plain", "sysroot-eh": "eh", "sysroot-ehpic": "ehpic"}
#: Names upstream's multicall driver answers to (linked to ``wasixccenv`` on install).


@dataclass(frozen=True)
class InstalledToolchain:
    """Where the installed components are.

    ``llvm`` has ``bin/clang`` and ``bin/wasm-ld``; ``sysroots`` maps ``plain``/``eh``/``ehpic``
    to sysroot directories (``include/``, ``lib/``); ``binaryen`` has ``bin/wasm-opt``;
    ``wasixcc`` is upstream's driver (``bin/wasixcc``) when installed.
    """

    llvm: Path
    sysroots: dict[str, Path]
    binaryen: Path
    wasixcc: Path | None


def _dest(dest: Path | None) -> Path:
    return Path(dest) if dest is not None else paths.toolchain_dir()


def _read_marker(directory: Path) -> dict[str, str] | None:
    try:
        data = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_complete(component: Component, dest: Path, asset: Asset | None) -> bool:
    """Installed from exactly this pin: the marker exists and names the pinned hash."""
    if asset is None:
        return False
    marker = _read_marker(dest / component.dirname)
    return marker is not None and marker.get("sha256") == asset.sha256


def _sysroot_root(directory: Path) -> Path:
    # Upstream's sysroot archives keep the C library in a sysroot/ folder.
    return directory / "sysroot" if (directory / "sysroot").is_dir() else directory


def _expected(name: str, tree: Path) -> list[str]:
    """Files that must exist for ``name`` to be usable (relative to the component root)."""
    if name == "llvm":
        return ["bin/clang", "bin/wasm-ld"]
    if name == "binaryen":
        return ["bin/wasm-opt"]
    if name == "wasixcc":
        return ["wasixccenv"]
    if name in SYSROOT_FLAVOURS:
        root = _sysroot_root(tree)
        return [str((root / "include").relative_to(tree)), str((root / "lib").relative_to(tree))]
    return []


def _make_executable(path: Path) -> None:
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _finish_tree(name: str, tree: Path) -> None:
    """Small fix-ups upstream's own installer does: executable bits, driver links."""
    bindir = tree / "bin"
    if name in {"llvm", "binaryen"} and bindir.is_dir():
        for entry in bindir.iterdir():
            if entry.is_file() and not entry.is_symlink():
                _make_executable(entry)
    if name == "wasixcc" and (tree / "wasixccenv").is_file():
        _make_executable(tree / "wasixccenv")
        bindir.mkdir(exist_ok=True)
        from .driver import TOOLS

        for tool in TOOLS:  # the driver picks its role from argv[0]
            link = bindir / tool
            if not link.exists():
                link.symlink_to(Path("..") / "wasixccenv")


def _select(
    components: list[str] | None, pins: dict[str, Component], pins_path: Path
) -> list[Component]:
    names = list(components) if components else list(pins)
    unknown = [n for n in names if n not in pins]
    if unknown:
        raise ToolchainError(
            f"unknown toolchain component {unknown[0]!r} (pinned in {pins_path}: {', '.join(pins)})"
        )
    return [pins[n] for n in dict.fromkeys(names)]


def _asset_or_fail(component: Component, host: str, pins_path: Path) -> Asset:
    asset = component.asset_for(host)
    what = f"toolchain {component.name} {component.version}"
    if asset is None:
        raise ToolchainError(
            f"{what}: no archive pinned for this host ({host}; pinned: {', '.join(component.assets)}) in "
            f"{pins_path}. Point WASIXCC_LLVM_LOCATION / WASIXCC_SYSROOT / WASIXCC_BINARYEN_LOCATION at "
            "local copies, or WASIXCC_LLVM_LOCATION=zig for ziglang's clang from PyPI (the sysroot is then built from source)."
        )
    if not asset.pinned:
        raise ToolchainError(
            f"{what}: no pinned hash for {host} in {pins_path}; refusing to install {asset.url} unverified. "
            "Download it yourself, check it, and put its sha256 into the pins file."
        )
    return asset


def _clean_leftovers(dest: Path, component: Component, downloads: Path, asset: Asset) -> None:
    """Remove what an interrupted run left: staging dirs, partial downloads."""
    for partial in dest.glob(f".{component.dirname}.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
    for part in downloads.glob(f".{asset.sha256}-{asset.filename}.*.part"):
        part.unlink(missing_ok=True)


def _download(asset: Asset, archive: Path, what: str, progress: bool) -> None:
    from ..fetch import download  # here: provider selection reads status() on every build
    """Fetch ``asset``: a copy in ``$WASIX_MIRROR`` first (machines without the network), then its URL."""
    mirror = paths.mirror_dir()
    local = mirror / asset.filename if mirror is not None else None
    tried = []
    if local is not None and local.is_file():
        try:
            download(local.as_uri(), archive, asset.sha256, what=what, progress=False)
            return
        except FetchError as exc:
            tried.append(f"{local}: {exc}")
    try:
        download(asset.url, archive, asset.sha256, what=what, progress=progress)
    except FetchError as exc:
        where = (
            f"$WASIX_MIRROR ({mirror})"
            if mirror is not None
            else "a directory named by $WASIX_MIRROR"
        )
        tried.append(str(exc))
        raise FetchError(
            "\n".join(tried) + f"\nTo install without this network, put {asset.filename} (sha256 "
            f"{asset.sha256}) in {where} and run the install again."
        ) from None


def _install_one(component: Component, asset: Asset, dest: Path, host: str, progress: bool) -> Path:
    from filelock import FileLock

    from ..extract import extract
    what = f"toolchain {component.name} {component.version}"
    target = dest / component.dirname
    downloads = dest / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest / f".{component.dirname}.lock")):
        if _is_complete(component, dest, asset):
            return target
        _clean_leftovers(dest, component, downloads, asset)
        archive = downloads / f"{asset.sha256}-{asset.filename}"
        # Only download() writes this name, after verifying the hash: its presence is proof.
        if not (archive.is_file() and archive.stat().st_size > 0):
            _download(asset, archive, what, progress)
        staging = Path(tempfile.mkdtemp(dir=dest, prefix=f".{component.dirname}.partial-"))
        try:
            tree = staging / "tree"
            try:
                extract(archive, tree, strip=asset.strip, what=what)
            except FetchError:
                archive.unlink(missing_ok=True)  # fetch it afresh next time
                raise
            _finish_tree(component.name, tree)
            missing = [p for p in _expected(component.name, tree) if not (tree / p).exists()]
            if missing:
                raise ToolchainError(
                    f"{what}: {asset.filename} does not look like {component.name} after unpacking "
                    f"(strip={asset.strip}): missing {', '.join(missing)}; check the pin in the pins file"
                )
            marker = {
                "name": component.name,
                "version": component.version,
                "url": asset.url,
                "sha256": asset.sha256,
                "platform": host,
            }
            (tree / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
            # A target without our marker, or from another pin, is never trusted.
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.rename(tree, target)  # the whole component appears at once
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        archive.unlink(missing_ok=True)  # installed; the archive is not needed any more
        return target


def install(
    components: list[str] | None = None,
    *,
    pins: Path | None = None,
    dest: Path | None = None,
    progress: bool = True,
) -> InstalledToolchain | None:
    """Download, verify and unpack ``components`` (default: every pinned one) into ``dest``.

    ``dest`` defaults to :func:`wasix_backend.paths.toolchain_dir`. Complete components are
    skipped, so re-running finishes an interrupted install. Every requested component is
    checked for a pinned archive and hash for this host before anything is downloaded.
    Returns the toolchain when LLVM, the plain sysroot and binaryen are all installed
    (None if the requested subset leaves one of them missing).
    """
    pins_path = Path(pins) if pins is not None else default_pins_path()
    pinned = load_pins(pins_path)
    dest = _dest(dest)
    host = host_platform()
    chosen = _select(components, pinned, pins_path)
    plan = [(c, _asset_or_fail(c, host, pins_path)) for c in chosen]
    dest.mkdir(parents=True, exist_ok=True)
    for component, asset in plan:
        _install_one(component, asset, dest, host, progress)
    return installed_toolchain(dest, pins_path)


def installed_toolchain(
    dest: Path | None = None, pins: Path | None = None
) -> InstalledToolchain | None:
    """The installed toolchain, or None unless LLVM, the plain sysroot and binaryen are complete."""
    pinned = load_pins(pins)
    dest = _dest(dest)
    host = host_platform()

    def done(name: str) -> Path | None:
        component = pinned.get(name)
        if component is None or not _is_complete(component, dest, component.asset_for(host)):
            return None
        return dest / component.dirname

    llvm, plain, binaryen = done("llvm"), done("sysroot"), done("binaryen")
    if llvm is None or plain is None or binaryen is None:
        return None
    sysroots = {}
    for name, flavour in SYSROOT_FLAVOURS.items():
        directory = done(name)
        if directory is not None:
            sysroots[flavour] = _sysroot_root(directory)
    wasixcc = done("wasixcc")
    return InstalledToolchain(
        llvm=llvm,
        sysroots=sysroots,
        binaryen=binaryen,
        wasixcc=wasixcc / "bin" / "wasixcc" if wasixcc is not None else None,
    )


def status(dest: Path | None = None, pins: Path | None = None) -> list[dict]:
    """Per pinned component: name, version, installed, path, and this host's url/sha256."""
    pinned = load_pins(pins)
    dest = _dest(dest)
    host = host_platform()
    rows = []
    for component in pinned.values():
        asset = component.asset_for(host)
        rows.append(
            {
                "name": component.name,
                "version": component.version,
                "installed": _is_complete(component, dest, asset),
                "path": str(dest / component.dirname),
                "platform": host,
                "url": asset.url if asset else None,
                "sha256": asset.sha256 if asset else None,
                "pinned": bool(asset and asset.pinned),
                "required": component.name in REQUIRED,
            }
        )
    return rows
