"""Missing means skipped wherever it is found: a program, CMake or crates this machine lacks
are a MissingRequirement (the package is skipped) whose remedy is the exact install command,
whether planning finds them missing or a phase does; --strict makes the skip a failure.

Fast: nothing is compiled (the skips happen before any compiler runs).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import make_tarball, package_recipe, write_plugin
from httpserver import serve

from wasix_backend import cargo_vendor, hosttools
from wasix_backend.buildsystems import autotools, cmake
from wasix_backend.cargo_vendor import LockedCrate
from wasix_backend.cli import main
from wasix_backend.context import BuildContext
from wasix_backend.errors import MissingRequirement
from wasix_backend.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


def tools_without(farm: Path, hidden: set[str]) -> Path:
    """``farm``: links to every program on ``$PATH`` (first one wins) but ``hidden``."""
    farm.mkdir(parents=True)
    for folder in os.environ["PATH"].split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for tool in sorted(Path(folder).iterdir()):
            if tool.name not in hidden and not os.path.lexists(farm / tool.name):
                (farm / tool.name).symlink_to(tool)
    return farm


def test_debian_install_names_the_packages_once() -> None:
    assert hosttools.debian_install(["autoreconf", "autoconf", "libtoolize"]) == (
        "on Debian/Ubuntu `apt-get install autoconf libtool`"
    )
    assert hosttools.debian_install(["tclsh", "frobnicate"]) == (
        "on Debian/Ubuntu `apt-get install tcl`; install frobnicate"
    )


def test_a_recipes_host_tool_missing_at_planning_skips_it_and_strict_fails_it(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = tmp_path / "upstream"
    monkeypatch.delenv("WASIX_MIRROR", raising=False)
    monkeypatch.setenv("PATH", str(tools_without(tmp_path / "tools", {"tclsh"})))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    sha = make_tarball(upstream / "tcly-1.0.tar.gz", "tcly-1.0", {"Makefile": "all:\n\ttclsh gen.tcl\n"})
    with serve(upstream) as srv:
        recipe = package_recipe("tcly", srv.url_for("tcly-1.0.tar.gz"), sha, build_extra='host-tools = ["tclsh"]')
        write_plugin(tmp_path / "plugins", "tcly", recipe)
        args = ["--plugin-dir", str(tmp_path / "plugins"), "build", "tcly",
                "--out", str(tmp_path / "dist"), "--json"]  # fmt: skip
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(args)
        row = json.loads(out.getvalue())["packages"][0]
        assert (code, row["status"], row["reason"]) == (0, "skipped", "tclsh not installed")
        assert row["how"] == "on Debian/Ubuntu `apt-get install tcl`"
        with redirect_stdout(io.StringIO()):
            assert main([*args, "--strict"]) == 1


def _context(tmp_path: Path, recipe_dir: str, path: str) -> BuildContext:
    recipe = load_recipe(REPO / "plugins" / recipe_dir / "recipe.toml", plugin=recipe_dir)
    (tmp_path / "src").mkdir(exist_ok=True)
    return BuildContext(
        recipe=recipe, source_dir=tmp_path / "src", build_dir=tmp_path / "src", prefix=tmp_path / "prefix",
        destdir=tmp_path / "dest", deps={}, env={"PATH": path}, toolchain=None,  # type: ignore[arg-type]
        jobs=1, log=logging.getLogger("test-missing-tools"), phase="compile",
    )  # fmt: skip


def test_a_known_program_not_found_by_a_phase_is_a_skip_an_unknown_one_a_failure(tmp_path: Path) -> None:
    ctx = _context(tmp_path, "sqlite3", str(tmp_path / "empty"))
    with pytest.raises(MissingRequirement) as info:
        ctx.run(["make", "-j2"])
    assert info.value.how == "on Debian/Ubuntu `apt-get install make`"
    assert "sqlite3: its compile phase needs make, which is not on PATH" in str(info.value)
    with pytest.raises(Exception) as info2:
        ctx.run(["no-such-program-anywhere"])  # a typo in a recipe stays a failure
    assert not isinstance(info2.value, MissingRequirement)


def test_no_compiler_for_the_build_machine_is_a_skip_naming_gcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _context(tmp_path, "sqlite3", str(tmp_path / "empty"))
    ctx.toolchain = SimpleNamespace(build_cc="cc", host="wasm32-wasi")  # type: ignore[assignment]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    with pytest.raises(MissingRequirement) as info:
        ctx.expand("BUILD_CC={build_cc}")
    assert info.value.how == "on Debian/Ubuntu `apt-get install gcc`"


def test_autoreconf_names_every_missing_program_and_its_packages(tmp_path: Path) -> None:
    (tmp_path / "configure.ac").write_text("AC_INIT([x], [1])\nAM_GNU_GETTEXT_VERSION([0.19])\nLT_INIT\nAC_OUTPUT\n")
    assert autotools.autoreconf_tools(tmp_path) == ["autoreconf", "autoconf", "automake", "libtoolize", "autopoint"]
    with pytest.raises(MissingRequirement) as info:
        hosttools.require("jq", autotools.autoreconf_tools(tmp_path), str(tmp_path / "empty"), why="regenerating configure (autoreconf)")
    assert info.value.how == "on Debian/Ubuntu `apt-get install autoconf automake libtool autopoint`"
    assert info.value.reason == "autoreconf, autoconf, automake, libtoolize and autopoint not installed"


def _cmake_ctx(spec: str | None = None) -> SimpleNamespace:
    build = {"cmake-version": spec} if spec else {}
    return SimpleNamespace(recipe=SimpleNamespace(name="oniguruma", build=build), env=dict(os.environ))


def test_cmake_comes_with_wasix_backend() -> None:
    """PyPI's cmake is a dependency: the CMake found is the one in this Python's environment."""
    import cmake as cmake_module

    found = cmake.find_cmake(_cmake_ctx())  # type: ignore[arg-type]
    assert Path(found.cmake_path).parent == Path(cmake_module.CMAKE_BIN_DIR)
    # oniguruma asks for CMake 3.1 in its CMakeLists.txt, which CMake 4 refuses.
    assert found.version.major == 3


def test_no_suitable_cmake_is_a_skip_naming_pip_and_apt() -> None:
    with pytest.raises(MissingRequirement) as info:
        cmake.find_cmake(_cmake_ctx(">=99"))  # type: ignore[arg-type]
    assert info.value.reason == "no CMake >=99 installed"
    assert info.value.how == (
        f"`{sys.executable} -m pip install 'cmake>=99,<4'`, or on Debian/Ubuntu `apt-get install cmake`"
    )


@pytest.fixture
def fake_apt_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``apt-cache`` that knows the crate versions whose name holds ``debian``."""
    bin_dir = tmp_path / "apt-bin"
    bin_dir.mkdir()
    script = bin_dir / "apt-cache"
    script.write_text(
        '#!/bin/sh\nshift\nfor p in "$@"; do case "$p" in *debian*)\n'
        '  printf "Package: %s\\nVersions: \\n\\nReverse Depends: \\nDependencies: \\nProvides: \\n'
        'Reverse Provides: \\nlibrust-x-dev 1.0-1 (= 1.0-1)\\n" "$p";; esac; done\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools


def test_crates_debian_has_are_named_as_their_packages(fake_apt_cache) -> None:
    crates = [
        LockedCrate("in_debian", "1.2.3", "registry+x", None),
        LockedCrate("elsewhere", "0.1.0", "registry+x", None),
    ]
    assert cargo_vendor.debian_package_name(crates[0]) == "librust-in-debian-1.2.3-dev"
    err = cargo_vendor.CratesUnavailable(crates, "not available offline")
    assert isinstance(err, MissingRequirement)
    assert err.how == (
        "on Debian/Ubuntu `apt-get install librust-in-debian-1.2.3-dev`; "
        "put elsewhere-0.1.0.crate into $WASIX_MIRROR, or set WASIX_CRATES_DL to your crate "
        "registry's download URL template"
    )


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="no apt-cache here (not Debian)")
@pytest.mark.parametrize("plugin", ["ripgrep", "sd"])
def test_the_debian_rust_packages_crates_are_all_debian_packages(plugin: str) -> None:
    """What ripgrep's and sd's Cargo.lock pin is what Debian 12 packages (README.md lists them)."""
    lock = cargo_vendor.read_lock(REPO / "plugins" / plugin / "Cargo.lock")
    known = cargo_vendor.debian_packages(lock.crates)
    if not known:
        pytest.skip(reason="apt's package lists are empty here (apt-get update)")
    assert sorted(c.key for c in lock.crates if c.key not in known) == []
