"""A plugin folder from `new` is a distribution: one layout, no caches in it, buildable before the tool is on an index."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import make_tarball
from httpserver import serve

from wasix_backend.cli import main
from wasix_backend.scaffold import pyproject_document

HELLO_C = '#include <stdio.h>\nint main(void) { puts("hello 1.0"); return 0; }\n'
HELLO_MK = "hello: hello.c\n\t$(CC) $(CFLAGS) -o hello hello.c\n"
CACHES = [".pytest_cache/v/cache/nodeids", "__pycache__/plugin.cpython-311.pyc", ".ruff_cache/0.5/x",
          "tests/__pycache__/t.pyc", "build/lib/junk", "wasix_hello.egg-info/PKG-INFO", "plugin.py~"]


@pytest.fixture
def plugin(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_tarball(tmp_path / "up" / "hello-1.0.tar.gz", "hello-1.0", {"hello.c": HELLO_C, "Makefile": HELLO_MK})
    with serve(tmp_path / "up") as srv:
        assert main(["new", "hello", "--from-url", srv.url_for("hello-1.0.tar.gz")]) == 0
    folder = tmp_path / "plugins" / "hello"
    for rel in CACHES:  # what running its tests, ruff and an editor leave behind
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("cache")
    return folder


def _check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "wasix_hello/bin/hello.wasm" in names
    assert {"wasix_plugin_hello/recipe.toml", "wasix_plugin_hello/plugin.py", "wasix_plugin_hello/patches/README.md"} <= set(names)
    leaked = [n for n in names if any(part in n for part in (".pytest_cache", "__pycache__", ".ruff_cache", "build/", "egg-info", "~", "/tests/"))]
    assert not leaked, leaked


@pytest.mark.build
def test_the_wheel_of_a_new_plugin_carries_no_caches(plugin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wasix_backend import pep517

    monkeypatch.chdir(plugin)
    _check_wheel(plugin.parent / pep517.build_wheel(str(plugin.parent)))
    sdist = plugin.parent / pep517.build_sdist(str(plugin.parent))
    import tarfile

    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert "wasix_hello-1.0/recipe.toml" in names
    assert not [n for n in names if any(c in n for c in (".pytest_cache", "__pycache__", ".ruff_cache", "egg-info"))]


def test_the_documented_layout_is_the_generated_one() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    section = docs[docs.index("## Publishing a plugin"):]
    block = section[section.index("```toml\n") + 8:]
    assert tomllib.loads(block[:block.index("```")]) == tomllib.loads(pyproject_document("hello").as_string())


@pytest.mark.collection
def test_pip_wheel_under_build_isolation_with_the_tools_own_wheel(plugin: Path, tmp_path: Path) -> None:
    """`pip wheel plugins/NAME` needs wasix-backend from an index: `self-wheel` writes one to find."""
    assert main(["self-wheel", str(tmp_path / "links")]) == 0
    (wheel,) = (tmp_path / "links").glob("wasix_backend-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert "wasix_backend/pep517.py" in zf.namelist()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--find-links", str(tmp_path / "links"), "-w", str(tmp_path / "out"), str(plugin)],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _check_wheel(tmp_path / "out" / "wasix_hello-1.0-py3-none-any.whl")


@pytest.mark.build
def test_config_settings_pick_the_store_and_jobs_and_unknown_ones_are_refused(plugin: Path, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`pip wheel -C store=DIR -C jobs=1` is `wasix-build --store DIR -j1`."""
    from wasix_backend import pep517
    from wasix_backend.errors import WasixError

    monkeypatch.chdir(plugin)
    chosen = tmp_path / "chosen-store"
    wheel = pep517.build_wheel(str(tmp_path / "w"), config_settings={"store": str(chosen), "jobs": "1"})
    _check_wheel(tmp_path / "w" / wheel)
    assert [e for e in chosen.iterdir() if e.name.endswith("-hello-1.0")], list(chosen.iterdir())
    with pytest.raises(WasixError, match="'colour' not understood"):
        pep517.build_wheel(str(tmp_path / "w"), config_settings={"colour": "blue"})
    with pytest.raises(WasixError, match="'jobs': a number of parallel jobs from 1 to 1024"):
        pep517.build_wheel(str(tmp_path / "w"), config_settings={"jobs": "many"})
