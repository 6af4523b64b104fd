"""The cmake build system, proven on real zlib from Debian's source pool.

zlib 1.2.13 (Debian 12's source package, ``zlib_1.2.13.dfsg.orig.tar.bz2``) is built by CMake
as a library recipe; a CMake program that finds it with ``find_package(ZLIB)`` compresses and
decompresses a string under Wasmer. Without the dependency the same program must not find
the host's zlib.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.cli import main
from wasix_backend.debian import apt_uris
from wasix_backend.runtime import run

ZLIB_FILE = "zlib_1.2.13.dfsg.orig.tar.bz2"
ZLIB_SHA256 = "71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"

pytestmark = [
    pytest.mark.skipif(not apt_uris(), reason="no apt URIs configured: zlib's source comes from the Debian pool"),
    pytest.mark.build,  # builds zlib
]

ZLIB_RECIPE = f"""\
[package]
name = "zlib"
version = "1.2.13"
kind = "library"
description = "zlib compression library"
license = "Zlib"

[[source]]
debian = "zlib"
file = "{ZLIB_FILE}"
sha256 = "{ZLIB_SHA256}"

[build]
system = "cmake"
cmake-args = ["-Wno-dev"]

[outputs]
lib = ["libz.a"]
include = ["zlib.h", "zconf.h"]
"""

# Debian's repackaged tarball lacks win32/ (named as a source of the shared library), and
# WASIX has no shared libraries: the patch makes the shared target the static libz.
STATIC_PATCH = Path(__file__).parent / "data" / "zlib" / "0001-static-only.patch"

ZDEMO_CMAKE = """\
cmake_minimum_required(VERSION 3.15)
project(zdemo C)
find_package(ZLIB REQUIRED)
add_executable(zdemo zdemo.c)
target_link_libraries(zdemo ZLIB::ZLIB)
install(TARGETS zdemo RUNTIME DESTINATION bin)
"""

ZDEMO_C = r"""
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(int argc, char **argv) {
    const char *text = argc > 1 ? argv[1] : "hello hello hello hello";
    unsigned char packed[256], unpacked[256];
    uLongf packed_len = sizeof packed, unpacked_len = sizeof unpacked - 1;
    if (compress2(packed, &packed_len, (const Bytef *)text, strlen(text), 9) != Z_OK) return 2;
    if (uncompress(unpacked, &unpacked_len, packed, packed_len) != Z_OK) return 3;
    unpacked[unpacked_len] = 0;
    printf("zlib %s: %lu -> %lu -> %lu bytes: %s\n", zlibVersion(), (unsigned long)strlen(text),
           (unsigned long)packed_len, (unsigned long)unpacked_len, unpacked);
    return strcmp(text, (char *)unpacked) != 0;
}
"""


def zdemo_recipe(url: str, sha: str, deps: str) -> str:
    return textwrap.dedent(f"""\
        [package]
        name = "zdemo"
        version = "1.0"
        description = "compresses and decompresses a string with zlib"

        [[source]]
        url = "{url}"
        sha256 = "{sha}"

        [dependencies]
        build = [{deps}]

        [build]
        system = "cmake"

        [outputs]
        bin = ["zdemo"]
        """)


@pytest.fixture
def cmake_project(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch):
    upstream = tmp_path / "upstream"
    sha = make_tarball(upstream / "zdemo-1.0.tar.gz", "zdemo-1.0", {"CMakeLists.txt": ZDEMO_CMAKE, "zdemo.c": ZDEMO_C})
    monkeypatch.chdir(tmp_path)
    plugins = tmp_path / "plugins"
    write_plugin(plugins, "zlib", ZLIB_RECIPE, patches={STATIC_PATCH.name: STATIC_PATCH.read_text()})
    with serve(upstream) as srv:
        yield plugins, srv.url_for("zdemo-1.0.tar.gz"), sha


def build(plugins: Path, capsys: pytest.CaptureFixture[str], *names: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["build", *names, "--plugin-dir", str(plugins), "--json"])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_zlib_built_by_cmake_links_into_a_cmake_program_that_runs_under_wasmer(cmake_project, capsys) -> None:
    plugins, url, sha = cmake_project
    write_plugin(plugins, "zdemo", zdemo_recipe(url, sha, '"zlib>=1.2.13"'))
    status, out, err = build(plugins, capsys, "zdemo")
    assert status == 0, err
    summary = json.loads(out)
    zlib = Path(next(p["store"] for p in summary["packages"] if p["name"] == "zlib"))
    assert (zlib / "lib" / "libz.a").is_file() and (zlib / "include" / "zlib.h").is_file()
    # Installed with DESTDIR: files land in the store entry, but name the final prefix.
    pc = (zlib / "share" / "pkgconfig" / "zlib.pc").read_text()
    assert f"prefix={zlib}" in pc
    result = run(Path("dist/bin/zdemo.wasm"), ["wasix wasix wasix wasix wasix"])
    assert result.exit_code == 0, result.stderr
    assert result.text.startswith("zlib 1.2.13: 29 -> ")
    assert result.text.endswith(" -> 29 bytes: wasix wasix wasix wasix wasix\n")
    packed = int(result.text.split(" -> ")[1])
    assert packed < 29  # it really compressed


def test_without_the_dependency_the_host_zlib_is_not_found(cmake_project, capsys) -> None:
    plugins, url, sha = cmake_project
    write_plugin(plugins, "zdemo", zdemo_recipe(url, sha, ""))
    status, _, err = build(plugins, capsys, "zdemo")
    assert status == 1
    assert "zdemo: configure failed" in err and "configure.log" in err
    assert "Could NOT find ZLIB" in err


def test_missing_cmakelists_is_a_clear_error(cmake_project, capsys, tmp_path: Path) -> None:
    plugins, _, _ = cmake_project
    sha = make_tarball(tmp_path / "upstream" / "nocm-1.0.tar.gz", "nocm-1.0", {"main.c": "int main(void){return 0;}\n"})
    with serve(tmp_path / "upstream") as srv:
        recipe = zdemo_recipe(srv.url_for("nocm-1.0.tar.gz"), sha, "").replace('"zdemo"', '"nocm"')
        write_plugin(plugins, "nocm", recipe)
        status, _, err = build(plugins, capsys, "nocm")
    assert status == 1
    assert "nocm: configure failed" in err and "no CMakeLists.txt" in err
