"""Linking Rust programs against wasix-libc: the pieces that need no compiler.

The real link (a program that starts in a subdirectory and opens relative paths there) is
``tests/test_cargo.py::test_rust_program_linked_against_wasix_libc_works_in_the_directory_it_starts_in``.
"""

from __future__ import annotations

from pathlib import Path

from wasix_backend.rustlink import WasixLibcLink, llvm_major, needs_asyncify, undefined_imports
from wasix_backend.toolchain.providers import ASYNCIFY_IMPORTS


def test_llvm_major_is_read_from_rustc_verbose_version() -> None:
    debian = "rustc 1.63.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.63.0\nLLVM version: 14.0.6\n"
    assert llvm_major(debian) == 14
    assert llvm_major("rustc 1.95.0\nLLVM version: 22.1.2\n") == 22
    assert llvm_major("rustc 1.0.0\n") is None


def test_only_unexpected_env_imports_count_as_undefined() -> None:
    imports = {
        "env": ["memory", "__eqtf2", "__addtf3"],
        "wasi_snapshot_preview1": ["fd_write"],
        "wasix_32v1": ["getcwd"],
    }
    assert undefined_imports(imports) == ["__addtf3", "__eqtf2"]
    assert undefined_imports({"env": ["memory"], "wasix_32v1": ["chdir"]}) == []


def test_rustflags_link_wasix_libc_with_the_c_programs_options(tmp_path: Path) -> None:
    lib = tmp_path / "sys root" / "lib" / "wasm32-wasi"  # a space: each path stays one argument
    link = WasixLibcLink(
        lib_dir=lib,
        builtins=tmp_path / "rt.a",
        mirror=tmp_path / "mirror.a",
        start=tmp_path / "s.o",
    )
    flags = link.rustflags()
    assert flags[:4] == ["-C", "link-self-contained=no", "-L", f"native={lib}"]
    args = [f.removeprefix("-Clink-arg=") for f in flags[4:]]
    assert all(f.startswith("-Clink-arg=") for f in flags[4:])
    assert args[0] == str(lib / "crt1-command.o") and args[1] == str(tmp_path / "s.o")
    for needed in ("--shared-memory", "--import-memory", "--no-check-features", "-zstack-size=8388608",
                   "--export=__wasix_mirror_v1", "--undefined=__wasix_mirror_v1", "-lc", str(tmp_path / "rt.a")):  # fmt: skip
        assert needed in args
    # The mirror archive after the -u that pulls it in; the builtins after the libraries using them.
    assert args.index(str(tmp_path / "mirror.a")) > args.index("--undefined=__wasix_mirror_v1")
    assert args.index(str(tmp_path / "rt.a")) > args.index("-lc")
    without_shim = WasixLibcLink(
        lib_dir=lib, builtins=tmp_path / "rt.a", mirror=tmp_path / "mirror.a"
    ).rustflags()
    assert str(tmp_path / "s.o") not in " ".join(without_shim)


def test_asyncify_only_for_programs_importing_a_call_that_unwinds() -> None:
    plain = {"wasi_snapshot_preview1": ["fd_write"], "wasix_32v1": ["getcwd", "proc_exit2"]}
    assert not needs_asyncify(plain, ASYNCIFY_IMPORTS)
    assert needs_asyncify({**plain, "wasix_32v1": ["getcwd", "proc_fork"]}, ASYNCIFY_IMPORTS)
    assert needs_asyncify({"wasix_32v1": ["stack_checkpoint"]}, ASYNCIFY_IMPORTS)  # setjmp
    assert not needs_asyncify({"env": ["proc_fork"]}, ASYNCIFY_IMPORTS)  # another module's name
