"""A plugin published as its own distribution, installed into a fresh virtual environment.

The distribution lives outside the repository, declares the ``wasix_backend.plugins`` entry
point, ships ``recipe.toml`` and ``patches/`` as package data and implements a hook. Installed
with pip into a new venv (``--system-site-packages`` so the engine and its dependencies are
importable without downloads), it is found through its entry point, built and run.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_tarball
from httpserver import serve

from wasix_backend.runtime import run

pytestmark = pytest.mark.collection  # a fresh venv with the plugin installed by pip

GREETER_C = r"""
#include <stdio.h>
#include "word.h"
int main(int argc, char **argv) { printf("%s, %s!\n", GREETING, argc > 1 ? argv[1] : "world"); return 0; }
"""
GREETER_MK = "greeter: greeter.c\n\t$(CC) $(CFLAGS) -o greeter greeter.c\n"
WORD_H = '#define GREETING "Hello"\n'
# Shipped in the distribution's patches/: proves package data reaches the build.
PATCH = """\
Greet in Portuguese (shipped as package data with the plugin).
--- a/word.h
+++ b/word.h
@@ -1 +1 @@
-#define GREETING "Hello"
+#define GREETING "Ola"
"""
# The plugin module: recipes() from the packaged recipe.toml, and a hook around configure.
PLUGIN_INIT = '''\
"""wasix-plugin-greeter: a third-party wasix-backend plugin."""

from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).resolve().parent


@hookimpl
def wasix_recipes():
    return [load_recipe(HERE / "recipe.toml", plugin="greeter")]


@hookimpl(wrapper=True)
def wasix_configure(ctx):
    # Something only Python can do: leave a note the test can find in the install tree.
    result = yield
    (ctx.build_dir / "note.txt").write_text(f"configured by {__name__} for {ctx.recipe.name}")
    return result


@hookimpl(wrapper=True)
def wasix_package(ctx):
    result = yield
    (ctx.stage / "share").mkdir(parents=True, exist_ok=True)
    (ctx.stage / "share" / "note.txt").write_text((ctx.build_dir / "note.txt").read_text())
    return result
'''
# A dependency-free PEP 517 backend kept inside the distribution (``backend-path``), so pip
# installs it offline: neither `wheel` nor a newer setuptools is needed to make the wheel.
BACKEND = '''\
import base64, hashlib, io, tomllib, zipfile
from pathlib import Path


def _project():
    return tomllib.loads(Path("pyproject.toml").read_text())["project"]


def _files():
    name = _project()["name"]
    package = name.replace("-", "_")
    dist_info = f"{package}-{_project()['version']}.dist-info"
    files = {}
    for path in sorted(Path(package).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.as_posix()] = path.read_bytes()
    meta = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {_project()['version']}\\n"
    eps = "".join(
        f"[{group}]\\n" + "".join(f"{k} = {v}\\n" for k, v in entries.items())
        for group, entries in _project().get("entry-points", {}).items()
    )
    files[f"{dist_info}/METADATA"] = meta.encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files[f"{dist_info}/entry_points.txt"] = eps.encode()
    return dist_info, files


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist_info, files = _files()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = dist_info.replace(".dist-info", "-py3-none-any.whl")
    with zipfile.ZipFile(Path(wheel_directory) / wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel
'''


def write_distribution(root: Path, url: str, sha: str) -> Path:
    dist = root / "wasix-plugin-greeter"
    pkg = dist / "wasix_plugin_greeter"
    (pkg / "patches").mkdir(parents=True)
    (dist / "_build").mkdir()
    (dist / "_build" / "greeter_backend.py").write_text(BACKEND)
    (dist / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = []
        build-backend = "greeter_backend"
        backend-path = ["_build"]

        [project]
        name = "wasix-plugin-greeter"
        version = "0.3.0"
        dependencies = ["wasix-backend"]

        [project.entry-points."wasix_backend.plugins"]
        greeter = "wasix_plugin_greeter"
        """))
    (pkg / "__init__.py").write_text(PLUGIN_INIT)
    (pkg / "patches" / "0001-portuguese.patch").write_text(PATCH)
    (pkg / "recipe.toml").write_text(textwrap.dedent(f"""\
        [package]
        name = "greeter"
        version = "1.0"
        description = "greets"

        [[source]]
        url = "{url}"
        sha256 = "{sha}"

        [build]
        system = "make"

        [outputs]
        bin = ["greeter"]
        """))
    return dist


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory):
    """A fresh venv that sees the engine (system site-packages) and has the plugin installed."""
    root = tmp_path_factory.mktemp("third_party")
    up = root / "upstream"
    sha = make_tarball(up / "greeter-1.0.tar.gz", "greeter-1.0",
                       {"greeter.c": GREETER_C, "word.h": WORD_H, "Makefile": GREETER_MK})
    with serve(up) as srv:
        dist = write_distribution(root / "elsewhere", srv.url_for("greeter-1.0.tar.gz"), sha)
        env_dir = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
        python = env_dir / "bin" / "python"
        # When the tests themselves run in a virtual environment (nox), "system" site-packages
        # are the base interpreter's: also let the new venv see this environment's packages
        # (the engine, its dependencies, pip), .pth files included.
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
        Path(purelib, "_outer_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in outer))
        # pip (visible through those site-packages) installs into the venv.
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
             "--disable-pip-version-check", str(dist)],
            capture_output=True, text=True, timeout=300,
        )
        assert install.returncode == 0, install.stdout + install.stderr
        yield type("Venv", (), {"root": root, "python": python, "server": srv})


def wasix_build(venv, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WASIX_STORE": str(venv.root / "store")}
    return subprocess.run([str(venv.python), "-m", "wasix_backend", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_plugin_is_found_through_its_entry_point(venv) -> None:
    listed = wasix_build(venv, "list", "--json", cwd=venv.root)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["greeter"]["origin"] == "entry point (wasix-plugin-greeter==0.3.0)"
    assert rows["greeter"]["plugin"] == "greeter"
    # The interpreter outside the venv does not see it: it really is the installed distribution.
    outside = subprocess.run([sys.executable, "-m", "wasix_backend", "list", "--json"], capture_output=True, text=True)
    assert "greeter" not in {r["name"] for r in json.loads(outside.stdout)}


def test_the_installed_plugin_builds_with_its_hooks_and_patches_and_runs_under_wasmer(venv, tmp_path: Path) -> None:
    built = wasix_build(venv, "build", "greeter", "--json", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    store_entry = Path(summary["packages"][0]["store"])
    assert (store_entry / "share" / "note.txt").read_text() == "configured by wasix_plugin_greeter for greeter"
    result = run(tmp_path / "dist" / "bin" / "greeter.wasm", ["plugins"])
    assert (result.exit_code, result.text) == (0, "Ola, plugins!\n")
