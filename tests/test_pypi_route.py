"""Nothing but Python: the README's build command where the system has no C toolchain.

In a fresh clone with a fresh HOME, ``PATH`` holds none of the system's gcc/cc, make, clang
(or any LLVM tool), wasm-opt, cmake, patch or git, and ``WASIXCC_LLVM_LOCATION=zig`` tells
the tool not to look for a system LLVM. Everything comes from PyPI: ziglang's clang and
wasm-ld (wasix-libc is built with them), ``zig cc`` for the build machine's generators,
binaryen's C API through cffi for asyncify and ``-Os``, GNU Make, CMake and pkg-config
wheels; patches are applied and the wasix-libc bundle is read in Python. The packages that
need what PyPI does not have (autoreconf, tclsh) are skipped, saying what to install.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from test_frontdoor import _fresh_clone_and_home, _newcomer_env, setup_commands, summary_tables
from test_skips import tools_without_rust

from wasix_backend.runtime import run

#: The system's toolchain, by name: none of it may be on the newcomer's PATH.
SYSTEM_TOOLCHAIN = re.compile(
    r"(gcc|g\+\+|cc|c\+\+|c89|c99|cpp|make|gmake|cmake|ctest|cpack|patch|git|ld|as|ar|nm|ranlib|"
    r"pkg-config|pkgconf|autoreconf|autoconf|automake|aclocal|libtoolize|tclsh|ed)([-.].*)?"
    r"|(clang|llvm|lld|wasm|binaryen|x86_64-linux-gnu|aarch64-linux-gnu).*|git-.*"
)
#: Built from PyPI's tools alone: C with autotools (ncurses, nano, grep, ncurses-progs; bc,
#: whose build runs a native fbc and no `ed`) and a CMake library (oniguruma, jq's regex library).
BUILT = {"ncurses", "nano", "grep", "ncurses-progs", "bc", "oniguruma"}
#: Skipped for want of a system tool PyPI does not have.
SKIPPED = {"jq": "autoconf", "sqlite3": "tcl"}


def _without_toolchain(farm: Path) -> Path:
    tools = tools_without_rust(farm, ["/usr/local/bin", "/usr/bin", "/bin"])
    for link in tools.iterdir():
        if SYSTEM_TOOLCHAIN.fullmatch(link.name):
            link.unlink()
    return tools


@pytest.mark.collection
def test_the_readme_build_command_needs_nothing_but_python(tmp_path: Path) -> None:
    clone, home = _fresh_clone_and_home(tmp_path)
    tools = _without_toolchain(tmp_path / "tools")
    for tool in (
        "gcc",
        "cc",
        "make",
        "clang",
        "clang-19",
        "wasm-opt",
        "cmake",
        "patch",
        "git",
        "wasm-ld",
        "ed",
    ):
        assert not (tools / tool).exists(), tool
    assert (tools / "python3").resolve() == Path("/usr/bin/python3").resolve()
    env = _newcomer_env(home, tools, WASIX_HOST_PATH=str(tools), WASIXCC_LLVM_LOCATION="zig")

    names = sorted({"nano", "grep", "ncurses-progs", "bc", *SKIPPED})
    # The README's command as it stands, naming the packages (`nox -s build -- NAME…`).
    command = f"{setup_commands()['build']} -- {' '.join(names)}"
    done = subprocess.run(
        ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=3600
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    build = summary_tables(output)[0]
    assert {n for n, s in build.items() if s == "built"} >= BUILT, output[-6000:]
    assert {n for n, s in build.items() if s == "skipped"} == set(SKIPPED), output[-6000:]
    hints = dict(re.findall(r"^to build ([^:]+): (.*)$", output, re.M))
    for name, package in SKIPPED.items():
        assert package in hints[name], hints

    # Every part named in the store key, and the right ones: zig's LLVM and PyPI's binaryen.
    store = home / ".cache" / "wasix-backend" / "store"
    record = json.loads(next(store.glob("*-nano-7.2/.wasix-build.json")).read_text())
    identity = record["key_inputs"]["toolchain"]
    for part in ("clang version 22", "ziglang ", "icpp-binaryen 116", "libbinaryen.so sha256", "make=GNU Make 4.4",
                 "cmake=cmake version", "pkg-config="):  # fmt: skip
        assert part in identity, (part, identity)
    assert "/usr/bin" not in identity
    logs = store / "logs"
    assert "in Python; no GNU patch on PATH" in next(logs.glob("nano-*/patch.log")).read_text()
    assert (
        "binaryen-c/" in next(logs.glob("nano-*/finalize.log")).read_text()
    )  # the size pass: PyPI's

    # The differential cases of what was built, and nano itself, under the real runtime.
    wb = clone / ".nox" / "build" / "bin" / "wasix-build"
    cases = subprocess.run([str(wb), "test", "grep", "ncurses-progs", "bc"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=1800)  # fmt: skip
    said = cases.stdout + cases.stderr
    assert cases.returncode == 0, said[-6000:]
    assert re.search(r"^\d+ pass\b", said, re.M) and not re.search(r"\b\d+ (fail|xpass)\b", said), (
        said[-6000:]
    )
    nano = run(clone / "dist" / "bin" / "nano.wasm", ["--version"])
    assert nano.exit_code == 0 and "GNU nano, version 7.2" in nano.text
