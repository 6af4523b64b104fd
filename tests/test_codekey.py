"""The code part of store keys: exactly the modules that run inside a build (issue 31)."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import pytest

import wasix_backend
from wasix_backend import codekey
from wasix_backend.codekey import (
    NOT_BUILD_CODE,
    build_code,
    build_modules,
    relative_module,
    source_digest,
)

PKG = Path(wasix_backend.__file__).parent
SYSTEMS = ("buildsystems.autotools", "buildsystems.make", "buildsystems.cmake", "buildsystems.cargo",
           "buildsystems.none", "buildsystems.bundle")  # fmt: skip


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    copy = tmp_path / "wasix_backend"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    codekey.clear_cache()
    yield copy
    codekey.clear_cache()


def codes(root: Path) -> dict[str, dict[str, str]]:
    codekey.clear_cache()
    return {system: build_code((system,), root) for system in SYSTEMS}


NEW_FUNCTION = "\n\ndef _new() -> int:\n    return 1\n"


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` by ``new``; an empty ``old`` appends ``new``."""
    text = path.read_text()
    if not old:
        path.write_text(text + new)
        return
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_docstrings_comments_and_formatting_change_no_digest() -> None:
    plain = b"def f(x):\n    return x + 1\n"
    dressed = b'"""Module doc."""\n# a comment\ndef f( x ):\n    """Doc."""\n    return (x +\n            1)  # why\n'
    assert source_digest(plain) == source_digest(dressed)
    assert source_digest(plain) != source_digest(b"def f(x):\n    return x + 2\n")


@pytest.mark.parametrize("module, old, new", [
    ("errors.py", '"""', '"""Reworded. '),  # a docstring
    ("errors.py", "class ", "# a comment\nclass "),
    ("engine.py", "def build(self", "def _unused(self) -> None:\n        pass\n\n    def build(self"),  # the scheduler
    ("cli/build.py", '"build packages;', '"compile packages;'),  # a CLI option's help
    ("summary.py", "", NEW_FUNCTION),
    ("outputs/wheel.py", "", NEW_FUNCTION),
    ("store.py", "", NEW_FUNCTION),
    ("recipe.py", "", NEW_FUNCTION),
])  # fmt: skip
def test_code_around_builds_changes_no_key(pkg: Path, module: str, old: str, new: str) -> None:
    before = codes(pkg)
    edit(pkg / module, old, new)
    assert codes(pkg) == before


def test_the_autotools_build_system_changes_only_its_own_and_makes_keys(pkg: Path) -> None:
    before = codes(pkg)
    edit(pkg / "buildsystems" / "autotools.py", "", NEW_FUNCTION)
    after = codes(pkg)
    changed = {s for s in SYSTEMS if after[s] != before[s]}
    assert changed == {"buildsystems.autotools", "buildsystems.make"}  # make builds on autotools' helpers


@pytest.mark.parametrize("module", ["context.py", "finalize.py", "buildenv.py", "toolchain/providers.py", "extract.py"])
def test_code_inside_every_build_changes_every_key(pkg: Path, module: str) -> None:
    before = codes(pkg)
    edit(pkg / module, "", NEW_FUNCTION)
    after = codes(pkg)
    assert all(after[s] != before[s] for s in SYSTEMS)


def test_a_new_module_imported_by_build_code_is_covered(pkg: Path) -> None:
    (pkg / "buildsystems" / "helper.py").write_text("FLAGS = ['-O2']\n")
    edit(pkg / "buildsystems" / "cmake.py", "from __future__ import annotations\n",
         "from __future__ import annotations\n\nfrom . import helper  # noqa: F401\n")
    codekey.clear_cache()
    assert "buildsystems.helper" in build_modules(("buildsystems.cmake",), pkg)


def test_the_same_code_anywhere_gives_the_same_digests(pkg: Path) -> None:
    # Another clone, or an installed copy that carries the plugins in _data/ (a wheel).
    (pkg / "_data" / "plugins" / "x").mkdir(parents=True)
    (pkg / "_data" / "plugins" / "x" / "plugin.py").write_text("X = 1\n")
    assert codes(pkg) == codes(PKG)


def test_every_module_is_reached_or_declared() -> None:
    """Each module of the package is build code for some build system, or declared not to
    shape builds (with a reason): nothing is forgotten by accident."""
    codekey.clear_cache()
    covered = set().union(*(build_modules((s,)) for s in SYSTEMS))
    stray = [m for m in codekey._module_files(PKG) if m not in covered and not codekey._stopped(m)]
    assert stray == [], f"neither build code nor in NOT_BUILD_CODE: {stray}"
    assert all(reason for reason in NOT_BUILD_CODE.values())


@pytest.mark.build
def test_what_runs_inside_a_real_build_is_in_its_key(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record every module of this package whose code runs during the phases of real builds
    (make and autotools, the wasix provider) and check each is in the key or declared."""
    from conftest import make_tarball, write_plugin
    from httpserver import serve

    from wasix_backend.cli import main
    from wasix_backend.engine import Engine

    ran: dict[str, set[str]] = {}
    current: list[str] = []

    def profiler(frame, event, arg):
        if event == "call" and current:
            mod = relative_module(frame.f_globals.get("__name__", ""))
            if mod is not None:
                ran.setdefault(current[0], set()).add(mod)

    original = Engine._run_phases

    def traced(self, recipe, key, deps, jobs):
        current[:] = [recipe.build_system]
        threading.setprofile(profiler)
        sys.setprofile(profiler)
        try:
            return original(self, recipe, key, deps, jobs)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
            current.clear()

    monkeypatch.setattr(Engine, "_run_phases", traced)
    monkeypatch.chdir(tmp_path)
    upstream = tmp_path / "upstream"
    configure = ("#!/bin/sh\nfor a; do case $a in --prefix=*) p=${a#--prefix=};; esac; done\n"
                 "printf 'hi:\\n\\t$(CC) $(CFLAGS) -o hi hi.c\\ninstall:\\n\\tmkdir -p $(DESTDIR)%s/bin\\n"
                 "\\tcp hi $(DESTDIR)%s/bin/hi\\n' \"$p\" \"$p\" > Makefile\n")
    files = {"hi.c": "int main(void){return 0;}\n"}
    shas = {
        "mk": make_tarball(upstream / "mk-1.0.tar.gz", "mk-1.0", {**files, "Makefile": "hi: hi.c\n\t$(CC) $(CFLAGS) -o hi hi.c\n"}),
        "at": make_tarball(upstream / "at-1.0.tar.gz", "at-1.0", {**files, "configure.sh": configure}),
    }
    with serve(upstream) as srv:
        plugins = tmp_path / "plugins"
        for name, system, extra in (("mk", "make", ""), ("at", "autotools", 'configure-script = "configure.sh"\nin-tree = true\n')):
            write_plugin(plugins, name, (
                f'[package]\nname = "{name}"\nversion = "1.0"\ndescription = "t"\nlicense = "MIT"\n\n'
                f'[[source]]\nurl = "{srv.url_for(f"{name}-1.0.tar.gz")}"\nsha256 = "{shas[name]}"\n\n'
                f'[build]\nsystem = "{system}"\n{extra}\n[outputs]\nbin = ["hi"]\n'))
        status = main(["--plugin-dir", str(plugins), "build", "mk", "at", "-j", "1"])  # one at a time: each call is one build's
    assert set(ran) == {"make", "autotools"} and "context" in ran["make"], ran  # the recording works
    for system, modules in ran.items():
        key = set(build_modules((f"buildsystems.{system}",)))
        missing = sorted(m for m in modules if m not in key and not codekey._stopped(m))
        assert missing == [], f"{system}: ran inside the build but not in its key: {missing}"
    assert status == 0


KEYS_SCRIPT = """
import json, sys
from rich.console import Console
from wasix_backend.engine import Engine
from wasix_backend.paths import store_dir
from wasix_backend.plugins import load_plugins
from wasix_backend.store import Store
from wasix_backend.toolchain import get_toolchain
import wasix_backend
loaded = load_plugins([], entry_points=False)
store = Store(store_dir())
engine = Engine(loaded, store, get_toolchain(None, store=store), console=Console(stderr=True))
_, keys, problems = engine.plan(sorted(loaded.recipes))
print(json.dumps({"from": wasix_backend.__file__, "keys": keys, "problems": sorted(problems)}))
"""


def _keys(python: str, path: list[str], cwd: Path) -> dict:
    import json
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run([python, "-c", KEYS_SCRIPT], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _copy_of_the_checkout(dest: Path) -> Path:
    """The checkout's files (not its caches, venvs or outputs) at ``dest``."""
    shutil.copytree(PKG.parent, dest, ignore=shutil.ignore_patterns(".git", ".venv", ".nox", "dist", "__pycache__", "build"))
    return dest


@pytest.mark.build
def test_an_editable_install_a_wheel_and_another_clone_compute_the_same_keys(tmp_path: Path, wasix_sysroot: Path) -> None:
    """The same commit gives the same key for every package, however it is installed."""
    import subprocess
    import zipfile

    here = _keys(sys.executable, [], tmp_path)
    assert here["from"].startswith(str(PKG)) and len(here["keys"]) >= 25
    # A wheel of the tool, unpacked (the plugins then live in wasix_backend/_data/plugins).
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "wasix_backend", "self-wheel", str(wheels)], check=True, capture_output=True)
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(next(wheels.glob("wasix_backend-*.whl"))).extractall(unpacked)
    assert (unpacked / "wasix_backend" / "_data" / "plugins" / "nano" / "recipe.toml").is_file()
    from_wheel = _keys(sys.executable, [str(unpacked)], tmp_path)
    assert from_wheel["from"].startswith(str(unpacked))
    assert from_wheel["keys"] == here["keys"]
    # Another clone of the same files, in another folder.
    clone = _copy_of_the_checkout(tmp_path / "elsewhere" / "clone")
    from_clone = _keys(sys.executable, [str(clone)], tmp_path)
    assert from_clone["from"].startswith(str(clone))
    assert from_clone["keys"] == here["keys"]


@pytest.mark.build
def test_editing_autotools_changes_the_keys_of_its_packages_and_their_dependents_only(tmp_path: Path, wasix_sysroot: Path) -> None:
    from wasix_backend.graph import closure
    from wasix_backend.plugins import load_plugins

    clone = _copy_of_the_checkout(tmp_path / "clone")
    before = _keys(sys.executable, [str(clone)], tmp_path)["keys"]
    edit(clone / "wasix_backend" / "errors.py", "", NEW_FUNCTION)  # and a clean-up elsewhere: nothing
    edit(clone / "wasix_backend" / "engine.py", '"""The engine:', '"""The scheduler:')
    assert _keys(sys.executable, [str(clone)], tmp_path)["keys"] == before
    edit(clone / "wasix_backend" / "buildsystems" / "autotools.py", "", NEW_FUNCTION)
    after = _keys(sys.executable, [str(clone)], tmp_path)["keys"]
    recipes = load_plugins([], entry_points=False).recipes
    direct = {n for n, r in recipes.items() if r.build_system in ("autotools", "make")}
    expected = {n for n in before if direct & set(closure(recipes, [n]))}
    assert {n for n in before if after.get(n) != before[n]} == expected
    assert "nano" in expected and "jq" in expected and "oniguruma" not in expected  # cmake


@pytest.mark.build
def test_a_patch_changes_its_package_and_its_dependents_only(tmp_path: Path, wasix_sysroot: Path) -> None:
    from wasix_backend.graph import closure
    from wasix_backend.plugins import load_plugins

    clone = _copy_of_the_checkout(tmp_path / "clone")
    before = _keys(sys.executable, [str(clone)], tmp_path)["keys"]
    patch = sorted((clone / "plugins" / "ncurses" / "patches").glob("*.patch"))[0]
    patch.write_text(patch.read_text().replace("\n", "\n", 1) + "-- \n")  # a trailer patch(1) ignores
    after = _keys(sys.executable, [str(clone)], tmp_path)["keys"]
    recipes = load_plugins([], entry_points=False).recipes
    # What a key names: build dependencies, and run dependencies only for a bundle, which
    # copies them (tar runs bash, which links ncurses: tar's key stays).
    def key_side(r):
        return r.deps if r.build_system == "bundle" else r.build_deps

    expected = {n for n in before if "ncurses" in closure(recipes, [n], key_side)}
    assert {n for n in before if after.get(n) != before[n]} == expected
    assert {"ncurses", "nano"} <= expected and "grep" not in expected


def test_results_are_remembered_per_file_until_it_changes(pkg: Path, tmp_path: Path, monkeypatch) -> None:
    """Parsing every module costs about a second per command, so each file's digest is kept
    across processes, keyed on its size and time: proven here by a forged entry being used
    while the file is unchanged, and dropped once it changes."""
    import json
    import os

    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    target = pkg / "buildsystems" / "cmake.py"
    past = target.stat().st_mtime_ns - 10**10  # older than the racy window: rememberable
    os.utime(target, ns=(past, past))
    codekey.clear_cache()
    real = build_code(("buildsystems.cmake",), pkg)["buildsystems.cmake"]
    memo = next((tmp_path / "cache" / "codekey").glob("py*.json"))
    entries = json.loads(memo.read_text())
    entries[str(target)][2] = "forged"
    memo.write_text(json.dumps(entries))
    codekey.clear_cache()
    assert build_code(("buildsystems.cmake",), pkg)["buildsystems.cmake"] == "forged"
    os.utime(target, ns=(past + 1, past + 1))
    codekey.clear_cache()
    assert build_code(("buildsystems.cmake",), pkg)["buildsystems.cmake"] == real
