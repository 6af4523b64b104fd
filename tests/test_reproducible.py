"""One store key, one module: an out-of-tree autotools build names no staging directory.

``assert()`` and ``__FILE__`` put the compiler's source path into the module. configure is
called by a relative path, so that path is relative too, and two stores (two staging
directories with their process ids in the name) build byte-identical modules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import package_recipe, write_plugin
from test_confcache import _tarball  # configure marked executable

from wasix_backend.cli import main
from wasix_backend.runtime import run

pytestmark = [
    pytest.mark.skipif(shutil.which("autoconf") is None, reason="autoconf is not installed (apt-get install autoconf)"),
    pytest.mark.build,  # two cold configure-and-build runs: half a minute, beyond the fast session's budget
]

CONFIGURE_AC = """\
AC_INIT([where], [1.0])
AC_CONFIG_SRCDIR([where.c])
AC_PROG_CC
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""
# A VPATH Makefile, as automake writes: the source is found through $(srcdir).
MAKEFILE_IN = """\
srcdir = @srcdir@
VPATH = @srcdir@
CC = @CC@
CFLAGS = @CFLAGS@
prefix = @prefix@
where: where.c
\t$(CC) $(CFLAGS) -o where $(srcdir)/where.c
install: where
\tmkdir -p $(DESTDIR)$(prefix)/bin && cp where $(DESTDIR)$(prefix)/bin/where
"""
WHERE_C = """\
#include <assert.h>
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argv;
    assert(argc > 0);
    printf("%s\\n", __FILE__);
    return 0;
}
"""


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reproducible")
    gen = root / "gen"
    gen.mkdir()
    for name, text in {"configure.ac": CONFIGURE_AC, "Makefile.in": MAKEFILE_IN, "where.c": WHERE_C}.items():
        (gen / name).write_text(text)
    subprocess.run(["autoconf"], cwd=gen, check=True, capture_output=True)
    tarball = root / "up" / "where-1.0.tar.gz"
    sha = _tarball(tarball, "where-1.0", {p.name: p.read_text() for p in gen.iterdir() if p.is_file()})
    write_plugin(root / "plugins", "where", package_recipe("where", tarball.as_uri(), sha, system="autotools"))
    return root / "plugins"


def _build(plugins: Path, store: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    status = main(["--plugin-dir", str(plugins), "build", "where", "--store", str(store), "--out", str(out), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 0, summary
    return summary


def test_two_stores_build_the_same_bytes(plugins: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _build(plugins, tmp_path / "store-a", tmp_path / "out-a", capsys)
    second = _build(plugins, tmp_path / "store-b", tmp_path / "out-b", capsys)
    assert [p["status"] for p in first["packages"] + second["packages"]] == ["built", "built"]
    a = (tmp_path / "out-a" / "bin" / "where.wasm").read_bytes()
    b = (tmp_path / "out-b" / "bin" / "where.wasm").read_bytes()
    assert str(tmp_path).encode() not in a
    assert a == b
    shown = run(tmp_path / "out-a" / "bin" / "where.wasm").text.strip()
    assert shown.endswith("where.c") and not shown.startswith("/"), shown
