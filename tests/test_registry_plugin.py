"""A third-party build system and output format, from a distribution installed into a fresh venv.

The distribution (outside the repository, found through its ``wasix_backend.plugins`` entry
point) registers a "single C file" build system — compiles ``main.c`` with ``$CC``, settings of
its own — and a ``toy`` output format that writes ``OUT/toy/NAME.txt`` listing the package's
modules and their sha256. A recipe in a ``--plugin-dir`` folder uses both; no file of the
project is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_tarball
from httpserver import serve
from test_third_party_plugin import BACKEND

from wasix_backend.runtime import run

pytestmark = pytest.mark.collection  # a fresh venv with the plugin installed by pip

MAIN_C = '#include <stdio.h>\nint main(void) { printf("single %s\\n", WORD); return 0; }\n'
# The entry-point module: registers the build system (hooks in another module) and the format.
PLUGIN_INIT = '''\
"""wasix-plugin-singlec: a build system and an output format for wasix-backend."""

import hashlib
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.registry import BuildSystem, OutputFormat
from wasix_backend.schema import Field, Section

from . import singlec

SETTINGS = Section("build (single-c)", (
    Field("main", "string", '`"main.c"`', "the C file, relative to the sources"),
    Field("defines", "list of strings", "`[]`", "`-D` definitions"),
))


def write_toy(job):
    lines = [f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in sorted((job.prefix / "bin").glob("*.wasm"))]
    dest = job.out / "toy" / f"{job.recipe.name}.txt"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\\n".join(lines) + "\\n")
    return [dest]


def toy_arguments(parser):
    parser.add_argument("--shout", action="store_true", help="nothing, loudly")


@hookimpl
def wasix_register(registry):
    registry.build_system(BuildSystem("single-c", hooks=singlec, settings=SETTINGS, markers=("main.c",),
                                      scaffold=(("main", "main.c", "the one C file"),), doc="one C file"))
    registry.output(OutputFormat("toy", "a list of the modules and their sha256: OUT/toy/NAME.txt", write_toy, toy_arguments))
'''
# The build system's hooks: called only for recipes with system = "single-c".
SINGLEC = '''\
import shlex
import shutil

from wasix_backend import hookimpl


@hookimpl
def wasix_configure(ctx):
    return True


@hookimpl
def wasix_compile(ctx):
    build = ctx.recipe.build
    flags = [f"-D{d}" for d in build.get("defines", [])]
    ctx.run([*shlex.split(ctx.env["CC"]), *shlex.split(ctx.env.get("CFLAGS", "")), *flags,
             "-o", ctx.build_dir / "program", ctx.source_dir / build.get("main", "main.c")])
    return True


@hookimpl
def wasix_package(ctx):
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.build_dir / "program", ctx.stage / "bin" / f"{ctx.recipe.binaries[0]}.wasm")
    return True
'''


def write_distribution(root: Path) -> Path:
    dist = root / "wasix-plugin-singlec"
    pkg = dist / "wasix_plugin_singlec"
    pkg.mkdir(parents=True)
    (dist / "_build").mkdir()
    (dist / "_build" / "singlec_backend.py").write_text(BACKEND)
    (dist / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = []
        build-backend = "singlec_backend"
        backend-path = ["_build"]

        [project]
        name = "wasix-plugin-singlec"
        version = "0.1.0"
        dependencies = ["wasix-backend"]

        [project.entry-points."wasix_backend.plugins"]
        singlec = "wasix_plugin_singlec"
        """))
    (pkg / "__init__.py").write_text(PLUGIN_INIT)
    (pkg / "singlec.py").write_text(SINGLEC)
    return dist


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory):
    """A fresh venv seeing the engine, with the distribution installed; a recipe folder using it."""
    import site

    root = tmp_path_factory.mktemp("registry_plugin")
    sha = make_tarball(root / "up" / "dot-1.0.tar.gz", "dot-1.0", {"main.c": MAIN_C})
    with serve(root / "up") as srv:
        recipes = root / "recipes" / "dot"
        recipes.mkdir(parents=True)
        (recipes / "recipe.toml").write_text(textwrap.dedent(f"""\
            [package]
            name = "dot"
            version = "1.0"

            [[source]]
            url = "{srv.url_for('dot-1.0.tar.gz')}"
            sha256 = "{sha}"

            [build]
            system = "single-c"
            defines = ['WORD="file"']

            [outputs]
            bin = ["dot"]
            """))
        env_dir = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
        python = env_dir / "bin" / "python"
        purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
        Path(purelib, "_outer_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in outer))
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
             "--disable-pip-version-check", str(write_distribution(root / "elsewhere"))],
            capture_output=True, text=True, timeout=300,
        )
        assert install.returncode == 0, install.stdout + install.stderr
        yield type("Venv", (), {"root": root, "python": python, "recipes": recipes.parent, "purelib": Path(purelib)})


def wasix_build(venv, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WASIX_STORE": str(venv.root / "store")}
    return subprocess.run([str(venv.python), "-m", "wasix_backend", *args], cwd=venv.root, env=env,
                          capture_output=True, text=True, timeout=900)


def test_a_plugins_build_system_and_output_format_build_a_package(venv) -> None:
    helped = wasix_build(venv, "--help")
    assert helped.returncode == 0 and "toy" in helped.stdout, helped.stdout  # a sub-command from the registry
    made = wasix_build(venv, "toy", "dot", "--shout", "--plugin-dir", str(venv.recipes), "--out", "dist", "--json")
    assert made.returncode == 0, made.stderr[-3000:]
    summary = json.loads(made.stdout)
    (listing,) = summary["outputs"]["dot"]
    store = Path(next(p["store"] for p in summary["packages"] if p["name"] == "dot"))
    module = store / "bin" / "dot.wasm"
    assert (venv.root / listing).read_text() == f"dot.wasm {hashlib.sha256(module.read_bytes()).hexdigest()}\n"
    assert run(module, []).text == "single file\n"  # compiled by the plugin's build system, runs under Wasmer


def test_the_build_systems_code_is_part_of_the_store_key(venv) -> None:
    def build() -> dict:
        done = wasix_build(venv, "build", "dot", "--plugin-dir", str(venv.recipes), "--out", "dist", "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        return next(p for p in json.loads(done.stdout)["packages"] if p["name"] == "dot")

    first = build()
    again = build()
    assert again["cached"] and again["store"] == first["store"]
    hooks = venv.purelib / "wasix_plugin_singlec" / "singlec.py"
    hooks.write_text(hooks.read_text() + "\n# a comment: the same code\n")
    assert build()["store"] == first["store"]
    hooks.write_text(hooks.read_text() + "\n\ndef _changed() -> int:\n    return 1\n")
    changed = build()
    assert not changed["cached"] and changed["store"] != first["store"]


def test_a_setting_of_another_build_system_is_refused_naming_it(venv, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    text = (venv.recipes / "dot" / "recipe.toml").read_text()
    (folder / "recipe.toml").write_text(text.replace('name = "dot"', 'name = "bad"').replace("defines =", "configure-args ="))
    listed = wasix_build(venv, "list", "--plugin-dir", str(folder))
    assert "build.configure-args" in listed.stderr and "autotools" in listed.stderr, listed.stderr
