"""The PyPI-only route to the real libc: ziglang's clang as the wasix provider's LLVM.

``WASIXCC_LLVM_LOCATION=zig`` arranges ziglang's clang, wasm-ld and a zig-built wasm32
compiler-rt as an LLVM installation; the engine builds wasix-libc with it, and programs linked
against that sysroot fork and longjmp under Wasmer. No system clang is used (the LLVM path is
checked to be the zig one).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_binaryen_cffi import FORK_AND_LONGJMP  # the same program, asyncified by the other runner

from wasix_backend.runtime import run
from wasix_backend.toolchain import driver_bin_dir
from wasix_backend.toolchain.sysroot import llvm_identity, llvm_problem

pytest.importorskip("ziglang", reason="the zig LLVM is made from the ziglang package")
pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def zig_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from wasix_backend.store import Store
    from wasix_backend.toolchain.sysroot import ensure_sysroot

    root = tmp_path_factory.mktemp("zig-llvm")
    mp = pytest.MonkeyPatch()
    mp.setenv("WASIX_TOOLCHAIN_DIR", str(root / "toolchain"))
    mp.setenv("WASIXCC_LLVM_LOCATION", "zig")
    try:
        sysroot = ensure_sysroot(Store(root / "store"))
    finally:
        mp.undo()
    return {"WASIX_TOOLCHAIN_DIR": str(root / "toolchain"), "WASIXCC_LLVM_LOCATION": "zig",
            "WASIX_PROVIDER": "wasix", "WASIXCC_SYSROOT": str(sysroot), "WASIX_STORE": str(root / "store")}  # fmt: skip


def test_the_zig_llvm_is_a_complete_llvm_for_wasix(zig_env: dict[str, str]) -> None:
    (root,) = Path(zig_env["WASIX_TOOLCHAIN_DIR"]).glob("zig-llvm-*")
    assert llvm_problem(root) is None
    assert "clang version" in llvm_identity(root)
    # The sysroot was compiled by it, not by a system clang.
    log = next(Path(zig_env["WASIX_STORE"]).glob("logs/wasix-libc-*/compile.log")).read_text()
    assert f"CC={root}/bin/clang" in log


def test_a_program_on_the_zig_built_libc_forks_and_longjmps(tmp_path: Path, zig_env: dict[str, str]) -> None:
    (tmp_path / "p.c").write_text(FORK_AND_LONGJMP)
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "p.c", "-o", "p.wasm"], cwd=tmp_path,
                          env={**os.environ, **zig_env}, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = run(tmp_path / "p.wasm")
    assert (result.exit_code, result.text) == (0, "jumping\nchild\nchild exited 7\n")


#: C++ from the C library's headers alone (the sysroot has no libc++), as configure's C++
#: checks and C++ sources that use no C++ library are.
CXX_PROGRAM = """\
#include <stdio.h>
struct Greeter { const char *who; void hi() const { printf("hi %s\\n", who); } };
int main() { Greeter{"c++"}.hi(); return 0; }
"""


def test_cxx_goes_through_the_zig_llvm(tmp_path: Path, zig_env: dict[str, str]) -> None:
    """``wasix++`` with ziglang's clang: preprocessing (configure's C++ preprocessor check,
    which gettext's libasprintf makes), compiling and linking a program that runs."""
    (tmp_path / "p.cc").write_text(CXX_PROGRAM)
    cxx = str(driver_bin_dir() / "wasix++")
    env = {**os.environ, **zig_env}
    pre = subprocess.run([cxx, "-E", "p.cc"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert pre.returncode == 0 and "struct Greeter" in pre.stdout, pre.stderr
    proc = subprocess.run([cxx, "-O2", "-nostdlib++", "p.cc", "-o", "p.wasm"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (run(tmp_path / "p.wasm").text) == "hi c++\n"
