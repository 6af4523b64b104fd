"""What the launcher's sandbox holds: the program's package and the installed packages whose
commands it runs.

Copied into every wheel as ``wasix_NAME/_sandboxdeps.py`` beside the launcher; standard library
only, Python 3.9+. A wheel's ``_commands.json`` names the wheels of its ``[dependencies] run``
under ``run-deps`` (distribution -> import name; pip installed them through ``Requires-Dist``).
Their modules and data join the program's in one in-memory Wasmer package, so ``exec``,
``posix_spawn``, ``system()`` and ``popen()`` find ``gzip`` or ``sh`` by name and as
``/bin/NAME``, as in the Wasmer package with its ``[dependencies]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

#: The data tree of a wheel, by guest path (``launcher.DATA_DIR``).
DATA_DIR = "data"


class Member:
    """One installed package of the sandbox: its folder and ``_commands.json``."""

    def __init__(self, folder: Path, meta: dict) -> None:
        self.folder = folder
        self.meta = meta

    def commands(self) -> dict[str, Path]:
        """Every command it shows in a sandbox (its console scripts' and the sandbox-only)."""
        both = {**dict(self.meta.get("sandbox-commands", {})), **dict(self.meta["commands"])}
        return {cmd: self.folder / rel for cmd, rel in both.items()}


def installed(import_name: str) -> Path | None:
    """The folder of an installed wheel's package (``wasix_gzip``), without importing it."""
    import importlib.util  # only for a wheel with run dependencies

    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / "_commands.json").is_file() else None


def members(meta: dict, here: Path) -> tuple[list[Member], list[str]]:
    """The program's package, then its runtime dependencies, nearest first (each once, cycles
    allowed); and the distributions that are not installed."""
    found = [Member(here, meta)]
    missing: list[str] = []
    seen = {here.resolve()}
    queue = [meta]
    while queue:
        for dist, import_name in sorted(dict(queue.pop(0).get("run-deps", {})).items()):
            folder = installed(import_name)
            if folder is None:
                if dist not in missing:
                    missing.append(dist)
                continue
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            sub = json.loads((folder / "_commands.json").read_text(encoding="utf-8"))
            found.append(Member(folder, sub))
            queue.append(sub)
    return found, missing


def data_files(root: Path) -> dict[str, bytes]:
    """A wheel's data files by guest path (``root/usr/share/x`` is ``/usr/share/x``)."""
    files: dict[str, bytes] = {}
    if not root.is_dir():
        return files
    for top, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(top, name)
            files["/" + path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def sandbox(meta: dict, here: Path, command: str, wasm: bytes) -> tuple[dict[str, bytes], dict[str, bytes], list[str]]:
    """``(modules by command, data files by guest path, missing distributions)`` for running
    ``command`` (whose module is ``wasm``): the program's package first, so its names win."""
    found, missing = members(meta, here)
    own = found[0].commands()
    if len(found) == 1 and len(set(own.values())) <= 1 and not meta.get("sandbox-commands"):  # one module, nothing it runs
        modules = {command: wasm}
    else:
        blobs: dict[Path, bytes] = {own[command]: wasm}
        modules = {}
        for member in found:
            for cmd, path in member.commands().items():
                if cmd not in modules:
                    modules[cmd] = blobs[path] if path in blobs else blobs.setdefault(path, path.read_bytes())
    data: dict[str, bytes] = {}
    for member in found:
        if member.meta.get("data"):
            for guest, content in data_files(member.folder / DATA_DIR).items():
                data.setdefault(guest, content)
    return modules, data, missing


def missing_message(program: str, missing: list[str]) -> str:
    """The warning for runtime dependencies that are not installed (their commands will not be
    found: ``sh: not found``, status 127, as without them natively)."""
    names = ", ".join(missing)
    return (f"{program}: warning: {names} (the commands it runs) {'is' if len(missing) == 1 else 'are'} not installed; "
            f"pip install {' '.join(missing)}")  # fmt: skip
