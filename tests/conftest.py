"""Shared fixtures: an isolated store per test, and small upstream projects made on the fly.

Caches that are slow to fill and never change results (zig's wasi-libc build, the compat
library, downloaded sources) stay in the user cache across runs; the build store, which is
what the tests exercise, is private to each test.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv("WASIX_STORE", str(path))
    return path


def make_tarball(dest: Path, top: str, files: dict[str, str | bytes]) -> str:
    """Write ``dest`` (.tar.gz) holding ``top/<name>`` for each file; return its sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        for name, content in sorted(files.items()):
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def write_plugin(root: Path, name: str, recipe: str, plugin_py: str | None = None, patches: dict[str, str] | None = None) -> Path:
    """A plugin folder: recipe.toml, optional plugin.py and patches/."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.toml").write_text(textwrap.dedent(recipe))
    if plugin_py is not None:
        (folder / "plugin.py").write_text(textwrap.dedent(plugin_py))
    for pname, text in (patches or {}).items():
        (folder / "patches").mkdir(exist_ok=True)
        (folder / "patches" / pname).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def wb():
    """``wasix-build`` in-process: ``wb("build", "x")`` returns the exit status."""
    from wasix_backend import cli

    return lambda *args: cli.main(list(args))
