"""Upstream's version string stays the recipe's; every output derives its own from it, consistently."""

from __future__ import annotations

import json
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.cli import main
from wasix_backend.outputs.webc import read_webc
from wasix_backend.runtime import run
from wasix_backend.versions import pep440, semver, webc_filename

PROG_C = '#include <stdio.h>\nint main(void) { puts(NAME " " VERSION); return 0; }\n'


def _makefile(name: str, version: str) -> str:
    return f"{name}: prog.c\n\t$(CC) $(CFLAGS) -DNAME='\"{name}\"' -DVERSION='\"{version}\"' -o {name} prog.c\n"


@pytest.mark.parametrize(
    ("version", "py", "sem"),
    [("1.07.1", "1.7.1", "1.7.1"), ("590", "590", "590.0.0"), ("7.2", "7.2", "7.2.0"),
     ("2.0rc1", "2.0rc1", "2.0.0-rc.1"), ("1.2.3.4", "1.2.3.4", "1.2.3+4")],
)
def test_each_format_derives_its_version(version: str, py: str, sem: str) -> None:
    assert (pep440(version), semver(version)) == (py, sem)


@pytest.mark.build
def test_bc_and_less_versions_are_consistent_across_every_output(tmp_path: Path, store: Path, monkeypatch, capsys) -> None:
    """bc-like 1.07.1 and less-like 590, scaffolded from their archives and built into every format."""
    monkeypatch.chdir(tmp_path)
    cases = {"bclike": ("1.07.1", "1.7.1", "1.7.1"), "lesslike": ("590", "590", "590.0.0")}
    for name, (upstream, _, _) in cases.items():
        make_tarball(tmp_path / "up" / f"{name}-{upstream}.tar.gz", f"{name}-{upstream}",
                     {"prog.c": PROG_C, "Makefile": _makefile(name, upstream)})
    out = tmp_path / "dist"
    with serve(tmp_path / "up") as srv:
        for name, (upstream, _, _) in cases.items():
            assert main(["new", name, "--from-url", srv.url_for(f"{name}-{upstream}.tar.gz")]) == 0
            recipe = tomllib.loads((tmp_path / "plugins" / name / "recipe.toml").read_text())
            assert recipe["package"]["version"] == upstream  # kept as upstream writes it
        for cmd in ("wasmer", "wheel"):
            assert main(["--plugin-dir", "plugins", cmd, *cases, "--out", str(out)]) == 0
    assert main(["index", "--out", str(out)]) == 0
    for name, (upstream, py, sem) in cases.items():
        # The program still prints upstream's version: the recipe did not rewrite it.
        assert run(out / "pkg" / name / "bin" / f"{name}.wasm").text == f"{name} {upstream}\n"
        assert tomllib.loads((out / "pkg" / name / "wasmer.toml").read_text())["package"]["version"] == sem
        webc = out / webc_filename(name, upstream)
        assert webc.name == f"{name}-{sem}.webc" and read_webc(webc)["manifest"]["package"]["wapm"]["version"] == sem
        wheel = out / "wheels" / f"wasix_{name}-{py}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as zf:
            assert f"Version: {py}\n" in zf.read(f"wasix_{name}-{py}.dist-info/METADATA").decode()
            meta = json.loads(zf.read(f"wasix_{name}/_commands.json"))
        assert (meta["version"], meta["upstream-version"]) == (py, upstream)
        assert (out / "simple" / f"wasix-{name}" / wheel.name).is_file()


def test_the_pep517_backend_names_the_same_version(tmp_path: Path, monkeypatch) -> None:
    from wasix_backend import pep517

    folder = write_plugin(tmp_path, "bclike", textwrap.dedent("""\
        [package]
        name = "bclike"
        version = "1.07.1"
        [[source]]
        url = "http://127.0.0.1:9/bclike-1.07.1.tar.gz"
        sha256 = "{}"
        [build]
        system = "make"
        [outputs]
        bin = ["bclike"]
        """).format("0" * 64))
    (folder / "pyproject.toml").write_text('[tool.wasix-backend]\nrecipe = "bclike"\n')
    monkeypatch.chdir(folder)
    assert pep517.prepare_metadata_for_build_wheel(str(tmp_path / "meta")) == "wasix_bclike-1.7.1.dist-info"
