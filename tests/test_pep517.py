"""The PEP 517 backend with the real front-ends: pip wheel, python -m build, pip install sdist."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import provider_problem

from wasix_backend.paths import builtin_plugins_dir

pytestmark = pytest.mark.collection
NANO = builtin_plugins_dir() / "nano"


@pytest.fixture
def shared_env(built_nano: dict, provider_env) -> dict[str, str]:
    """nano built once per provider (the front-ends then find it in the store, as a user's
    rebuild would), and the variables that select that provider and store."""
    return provider_env(built_nano["provider"])


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_pip_wheel_of_the_plugin_folder_is_the_wheel_wasix_build_makes(shared_env: dict[str, str], tmp_path: Path) -> None:
    env = shared_env
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "pip"), str(NANO)], env)
    _run([sys.executable, "-m", "wasix_backend", "wheel", "nano", "--out", str(tmp_path / "cli")], env)
    name = "wasix_nano-7.2-py3-none-any.whl"
    assert (tmp_path / "pip" / name).read_bytes() == (tmp_path / "cli" / "wheels" / name).read_bytes()


def test_build_makes_an_sdist_that_compiles_from_source_elsewhere(tmp_path: Path) -> None:
    # Its own empty cache: the default provider (auto) builds everything it needs there,
    # the wasix-libc sysroot included when a suitable clang is installed.
    out = tmp_path / "out"
    _run([sys.executable, "-m", "build", "--sdist", "-o", str(out), str(NANO)], {"WASIX_STORE": str(tmp_path / "store")})
    sdist = out / "wasix_nano-7.2.tar.gz"
    import tarfile

    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert "wasix_nano-7.2/recipe.toml" in names and "wasix_nano-7.2/patches/0001-lf-is-enter.patch" in names
    assert "wasix_nano-7.2/sources/nano_7.2.orig.tar.xz" in names and "wasix_nano-7.2/sources/ncurses_6.4.orig.tar.gz" in names
    assert "wasix_nano-7.2/_backend/wasix_backend/pep517.py" in names
    # The default (wasix) provider's C library: its recipe and its pinned source.
    assert "wasix_nano-7.2/_backend/wasix_backend/_data/plugins/wasix-libc/recipe.toml" in names
    assert "wasix_nano-7.2/sources/wasix-libc-4048aab4bc1273868fe84c6d4d179f1e114b95bf.bundle" in names

    # "Another machine": a fresh virtual environment, an empty cache and store, no checkout.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    elsewhere = {"WASIX_CACHE": str(tmp_path / "cache"), "WASIX_STORE": "", "PYTHONPATH": "", "WASIXCC_SYSROOT": "",
                 "WASIX_PROVIDER": "", "WASIXCC_PROVIDER": "", "WASIX_MIRROR": ""}
    _run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(sdist)], elsewhere, cwd=tmp_path)
    proc = _run([str(env_dir / "bin" / "nano"), "--version"], elsewhere, cwd=tmp_path)
    assert "GNU nano, version 7.2" in proc.stdout
    built = list((tmp_path / "cache" / "store").glob("*-nano-7.2/bin/nano.wasm"))
    assert built, "the sdist did not compile nano into the fresh store"
    if provider_problem("wasix") is None:  # auto picked wasix and built its sysroot there
        assert list((tmp_path / "cache" / "store").glob("*-wasix-libc-*/lib/wasm32-wasi/libc.a"))
