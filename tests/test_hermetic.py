"""Builds see only what their key names; keys explain themselves; rebuilds can be checked (issue 31)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.cli import main

HI_C = '#include <stdio.h>\n#include "hi.h"\nint main(void){\n#ifdef X\nputs("X");\n#endif\nputs(WORD); return 0; }\n'
HI_MK = "hi: hi.c\n\t$(CC) $(CPPFLAGS) $(CFLAGS) -o hi hi.c $(LDFLAGS) $(LIBS)\n"
STAMP_MK = 'hi: hi.c\n\t$(CC) $(CPPFLAGS) $(CFLAGS) -DSTAMP="\\"$$(date +%s%N)\\"" -o hi hi.c\n'


def recipe(name: str, url: str, sha: str) -> str:
    return (f'[package]\nname = "{name}"\nversion = "1.0"\ndescription = "t"\nlicense = "MIT"\n\n'
            f'[[source]]\nurl = "{url}"\nsha256 = "{sha}"\n\n[build]\nsystem = "make"\n\n[outputs]\nbin = ["hi"]\n')  # fmt: skip


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``hi`` (prints a word from its header) and ``stamp`` (embeds the time it was built)."""
    monkeypatch.chdir(tmp_path)
    upstream = tmp_path / "upstream"
    header = {"hi.h": '#define WORD "hi"\n'}
    shas = {
        "hi": make_tarball(upstream / "hi-1.0.tar.gz", "hi-1.0", {"hi.c": HI_C, "Makefile": HI_MK, **header}),
        "stamp": make_tarball(upstream / "stamp-1.0.tar.gz", "stamp-1.0", {
            "hi.c": '#include <stdio.h>\nint main(void){ puts(STAMP); return 0; }\n', "Makefile": STAMP_MK}),
    }
    with serve(upstream) as srv:
        root = tmp_path / "plugins"
        for name in shas:
            write_plugin(root, name, recipe(name, srv.url_for(f"{name}-1.0.tar.gz"), shas[name]),
                         patches={"0001-word.patch": PATCH} if name == "hi" else None)
        yield root


PATCH = """\
--- a/hi.h
+++ b/hi.h
@@ -1 +1 @@
-#define WORD "hi"
+#define WORD "hello"
"""


def build(plugins: Path, store: Path, *args: str) -> int:
    return main(["--plugin-dir", str(plugins), "build", *args, "--store", str(store), "--out", str(store.parent / "dist")])


@pytest.mark.build
def test_the_users_environment_does_not_reach_a_build(plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build(plugins, tmp_path / "clean", "hi") == 0
    clean = (tmp_path / "dist" / "bin" / "hi.wasm").read_bytes()
    poison = tmp_path / "poison"
    poison.mkdir()
    (poison / "hi.h").write_text('#error "a header from CPATH was used"\n')
    (poison / "stdio.h").write_text('#error "a header from C_INCLUDE_PATH was used"\n')
    for var, value in {"CPPFLAGS": "-DX", "CPATH": str(poison), "C_INCLUDE_PATH": str(poison), "LIBS": "-lnothing",
                       "CCC_OVERRIDE_OPTIONS": "+-DX", "MAKEFLAGS": "--no-such-option", "CFLAGS": "-DX -O0"}.items():
        monkeypatch.setenv(var, value)
    assert build(plugins, tmp_path / "dirty", "hi") == 0
    assert (tmp_path / "dist" / "bin" / "hi.wasm").read_bytes() == clean


@pytest.mark.build
def test_build_check_passes_a_reproducible_package_and_names_what_differs(plugins: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    assert build(plugins, store, "hi", "--check") == 0
    assert "hi: the rebuild matches" in capsys.readouterr().err
    assert build(plugins, store, "stamp") == 0
    entry = next(store.glob("*-stamp-1.0"))
    before = (entry / "bin" / "hi.wasm").read_bytes()
    assert build(plugins, store, "stamp", "--check") == 1
    err = capsys.readouterr().err
    assert "stamp: not reproducible" in err and "bin/hi.wasm: differs" in err
    assert (entry / "bin" / "hi.wasm").read_bytes() == before  # reported, never replaced
    assert not list(store.glob("check-*"))  # the scratch store is gone


@pytest.mark.build
def test_show_key_says_which_input_changed(plugins: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    show = ["--plugin-dir", str(plugins), "show", "hi", "--key", "--json", "--store", str(store)]
    assert build(plugins, store, "hi") == 0
    capsys.readouterr()
    assert main(show) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "up to date"
    patch = plugins / "hi" / "patches" / "0001-word.patch"
    patch.write_text(PATCH.replace('"hello"', '"howdy"'))
    description = plugins / "hi" / "recipe.toml"
    description.write_text(description.read_text().replace('description = "t"', 'description = "reworded"'))
    assert main(show) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "rebuilds"
    assert report["changed"] == [report["changed"][0]] and report["changed"][0].startswith("patches: 0001-word.patch changed")
    # Built, then the patch taken back: the older entry is this key's, though not the newest.
    assert build(plugins, store, "hi") == 0
    patch.write_text(PATCH)
    capsys.readouterr()
    assert main(show) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "up to date", report


@pytest.mark.build
def test_an_entry_whose_recorded_inputs_do_not_give_its_key_is_rebuilt(plugins: Path, tmp_path: Path, capsys) -> None:
    store = tmp_path / "store"
    assert build(plugins, store, "hi") == 0
    entry = next(store.glob("*-hi-1.0"))
    record = json.loads((entry / ".wasix-build.json").read_text())
    record["key_inputs"]["toolchain"] = "something else"
    (entry / ".wasix-build.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert build(plugins, store, "hi") == 0
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "recorded key inputs hash to" in err and "rebuilding" in err
    assert "hi 1.0 built" in err


def test_replacing_a_tool_of_the_toolchain_changes_the_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from wasix_backend.toolchain.sysroot import system_llvm

    real = system_llvm()
    if real is None:
        pytest.skip(reason="no system LLVM >= 19 (apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32)")
    llvm = tmp_path / "llvm"
    (llvm / "bin").mkdir(parents=True)
    (llvm / "lib").symlink_to(real / "lib")
    for tool in (real / "bin").iterdir():
        (llvm / "bin" / tool.name).symlink_to(tool)

    def sysroot_key() -> str:
        capsys.readouterr()
        assert main(["show", "wasix-libc", "--key", "--json", "--store", str(tmp_path / "store")]) == 0
        return json.loads(capsys.readouterr().out)["key"]

    monkeypatch.setenv("WASIXCC_LLVM_LOCATION", str(llvm))
    before = sysroot_key()
    (llvm / "bin" / "wasm-ld").unlink()
    (llvm / "bin" / "wasm-ld").write_text(f'#!/bin/sh\nexec {real}/bin/wasm-ld --no-gc-sections "$@"\n')
    os.chmod(llvm / "bin" / "wasm-ld", 0o755)
    assert sysroot_key() != before
