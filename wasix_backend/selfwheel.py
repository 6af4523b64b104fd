"""``wasix-build self-wheel DIR``: write wasix-backend's own wheel, for plugin builds before it is on an index.

A plugin folder's ``pyproject.toml`` says ``requires = ["wasix-backend"]``; under build
isolation pip installs that from an index. Until the tool is published there, point pip at
this wheel: ``pip wheel --find-links DIR plugins/NAME``.

From a checkout (or an editable install of one) the wheel is built from the project with pip,
exactly as a release would be; from an installed wheel, the installed files are packed again
(console scripts are re-created from ``entry_points.txt`` by whoever installs it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from .errors import WasixError

DIST = "wasix-backend"
#: Written by installers, not part of a wheel.
_INSTALLER_FILES = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _checkout() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == DIST else None


def _from_checkout(root: Path, dest: Path) -> Path:
    with tempfile.TemporaryDirectory(dir=dest, prefix=".self-wheel-") as tmp:
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp, str(root)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise WasixError(f"self-wheel: `pip wheel {root}` failed:\n{proc.stderr.strip()[-2000:]}")
        (built,) = Path(tmp).glob("wasix_backend-*.whl")
        return built.replace(dest / built.name)


def _from_installed(dest: Path) -> Path:
    from .fsutil import atomic_write_bytes
    from .outputs.wheel import _zip

    dist = metadata.distribution(DIST)
    direct = dist.read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):
        raise WasixError("self-wheel: wasix-backend is an editable install whose checkout is gone; reinstall it")
    files: dict[str, bytes] = {}
    dist_info = ""
    for entry in dist.files or []:
        rel = entry.as_posix()
        if rel.startswith("..") or "__pycache__" in entry.parts:  # scripts, data outside site-packages
            continue
        if entry.parent.name.endswith(".dist-info"):
            dist_info = entry.parent.name
            if entry.name in _INSTALLER_FILES:
                continue
        files[rel] = Path(entry.locate()).read_bytes()
    if not dist_info:
        raise WasixError("self-wheel: the installed wasix-backend has no file list (RECORD); reinstall it with pip")
    name = f"{dist_info.removesuffix('.dist-info')}-py3-none-any.whl"
    return atomic_write_bytes(dest / name, _zip(files, f"{dist_info}/RECORD"))


def write_self_wheel(dest: Path) -> Path:
    """Write ``wasix_backend-VERSION-py3-none-any.whl`` into ``dest`` and return its path."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = _checkout()
    return _from_checkout(root, dest) if root else _from_installed(dest)
