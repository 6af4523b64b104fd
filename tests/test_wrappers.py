"""The resolved shell wrappers against the Python driver, the reference: for the same command
lines in the same environment, the same files (byte for byte), output and exit status."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wasix_backend.toolchain import driver_bin_dir, get_toolchain
from wasix_backend.toolchain.providers import WasixProvider
from wasix_backend.toolchain.settings import parse_settings
from wasix_backend.toolchain.wrappers import render, write_scripts

pytestmark = pytest.mark.build  # the wrappers and the driver each run the real compiler, and are compared

SOURCES = {
    "hdr.h": "#define GREETING \"hello\"\nint twice(int);\n",
    "lib.c": '#include "hdr.h"\nint twice(int x) { return 2 * x; }\n',
    "ok.c": textwrap.dedent(
        """
        #include <stdio.h>
        #include "hdr.h"
        #ifndef EXTRA
        #define EXTRA 0
        #endif
        int main(int argc, char **argv) { printf("%s %d\\n", GREETING, twice(argc) + EXTRA); return 0; }
        """
    ),
    "bad.c": "int main(void) { return missing; }\n",
    "undef.c": "int nowhere(void);\nint main(void) { return nowhere(); }\n",
    "m.cc": "#include <string>\nint main() { std::string s(\"c++\"); return (int)s.size() - 3; }\n",
}


@dataclass
class Case:
    """Steps run one after the other in a fresh copy of SOURCES."""

    steps: list[tuple[str, list[str]]]
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    #: The wrappers are to hand this over to the Python driver.
    python: bool = False

    @property
    def id(self) -> str:
        text = " ; ".join(f"{tool} {' '.join(args)}" for tool, args in self.steps)
        extra = " ".join(f"{k}={v}" for k, v in self.env.items())
        return f"{extra} {text}".strip()


def _c(*args: str, tool: str = "wasixcc", **kw: object) -> Case:
    return Case([(tool, list(args))], **kw)  # type: ignore[arg-type]


CASES = [
    _c("-c", "lib.c", "-o", "lib.o"),
    _c("-c", "lib.c"),
    _c("-O2", "ok.c", "lib.c", "-o", "ok.wasm"),
    _c("ok.c", "lib.c"),  # no -o: a.out; no -O: the provider's default level
    _c("-Os", "-c", "ok.c", "-ook.o"),
    _c("-Og", "ok.c", "lib.c", "-o", "g.wasm"),
    _c("-E", "ok.c"),
    _c("-E", "-DGREETING=x", "-", stdin=b"GREETING __wasm__\n"),
    _c("-M", "ok.c"),
    _c("-MM", "ok.c"),
    _c("-MD", "-MF", "deps.d", "-c", "ok.c", "-o", "ok.o"),
    _c("-x", "c", "-c", "-", "-o", "stdin.o", stdin=b"int from_stdin;\n"),
    _c("--version"),
    _c("-dumpmachine"),
    _c("-print-prog-name=ld"),
    _c("-print-search-dirs"),
    _c("-S", "lib.c", "-o", "lib.s"),
    _c("m.cc", "-o", "m.wasm", tool="wasix++"),
    _c("-c", "m.cc", tool="wasixcc++"),
    # errors: the compiler's or linker's own status and message
    _c("-c", "bad.c"),
    _c("undef.c", "-o", "undef.wasm"),
    _c("-c", "missing.c"),
    _c("ok.c", "lib.c", "-o"),
    # archives and symbols
    Case([("wasixcc", ["-c", "lib.c"]), ("wasixar", ["rcs", "libl.a", "lib.o"]), ("wasixranlib", ["libl.a"]),
          ("wasixnm", ["libl.a"]), ("wasixar", ["t", "libl.a"]), ("wasixcc", ["ok.c", "-L.", "-ll", "-o", "p.wasm"])]),
    _c("missing.a", tool="wasixnm"),
    _c("x", "nothing.a", tool="wasixar"),
    _c("--version", tool="wasixld"),
    # configure's setting, and the Python driver's cases (settings the wrappers leave to it)
    _c("ok.c", "lib.c", "-o", "n.wasm", env={"WASIXCC_RUN_WASM_OPT": "no"}),
    _c("ok.c", "lib.c", "-o", "n.wasm", env={"WASIXCC_RUN_WASM_OPT": "Off"}),
    _c("-sCOMPILER_FLAGS=-DEXTRA=40", "ok.c", "lib.c", "-o", "s.wasm", python=True),
    _c("ok.c", "lib.c", "-o", "e.wasm", env={"WASIXCC_COMPILER_FLAGS": "-DEXTRA=2"}, python=True),
    _c("-sNOPE=1", "-c", "ok.c", python=True),
    _c("-c", "ok.c", env={"WASIXCC_RUN_WASM_OPT": "maybe"}, python=True),
    _c("-c", "ok.c", env={"WASIXCC_PROVIDER": "gcc"}, python=True),
    _c("-fsyntax-only", "ok.c"),
]
#: With binaryen's wasm-opt: the optimised link.
WASM_OPT_CASES = [_c("-O2", "ok.c", "lib.c", "-o", "opt.wasm", env={"WASIXCC_RUN_WASM_OPT": "yes"})]


#: clang names its temporary objects at random (``/tmp/undef-010b9e.o``) in link errors.
_TEMP_OBJECT = re.compile(rb"/tmp/[\w.]+-[0-9a-f]{6}\.o")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _run_case(case: Case, bin_dir: Path, work: Path, env: Mapping[str, str]) -> tuple[list[object], dict[str, bytes]]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name, text in SOURCES.items():
        (work / name).write_text(text)
    results: list[object] = []
    for tool, args in case.steps:
        proc = subprocess.run([str(bin_dir / tool), *args], cwd=work, env={**env, **case.env}, input=case.stdin or b"",
                              capture_output=True, timeout=600)  # fmt: skip
        results.append((tool, args, proc.returncode, proc.stdout, _TEMP_OBJECT.sub(b"TEMP.o", proc.stderr)))
    return results, _snapshot(work)


def _wrappers(env: Mapping[str, str], tmp: Path) -> Path:
    """Wrappers whose hand-over to the Python driver leaves a note in ``$WRAPPERS_TEST_LOG``."""
    recorder = tmp / "recorder"
    recorder.mkdir()
    for name in ("wasixcc", "wasix++", "wasixcc++", "wasixar", "wasixnm", "wasixranlib", "wasixld"):
        (recorder / name).write_text(f'#!/bin/sh\necho {name} >> "$WRAPPERS_TEST_LOG"\nexec {driver_bin_dir() / name} "$@"\n')
        (recorder / name).chmod(0o755)
    settings, _ = parse_settings([], env)
    return write_scripts(render(WasixProvider(settings), env, recorder), tmp / "wrappers")


def _compare(case: Case, env: Mapping[str, str], tmp: Path) -> None:
    log = tmp / "handed-over"
    env = {**env, "WRAPPERS_TEST_LOG": str(log)}
    # The same directory for both, so paths in messages and outputs are the same.
    got = _run_case(case, _wrappers(env, tmp), tmp / "w", env)
    assert log.exists() == case.python, f"{case.id}: {'not ' if case.python else ''}handed over to the Python driver"
    want = _run_case(case, driver_bin_dir(), tmp / "w", env)
    assert got[0] == want[0], f"{case.id}: statuses or output differ"
    assert got[1].keys() == want[1].keys(), f"{case.id}: different files written"
    for name in want[1]:
        assert got[1][name] == want[1][name], f"{case.id}: {name} differs"


@pytest.fixture
def wasix_env(wasix_sysroot: Path) -> dict[str, str]:
    # The sysroot the engine built from wasix-libc's pinned source (the fixture skips, saying
    # why, only where no suitable clang is installed).
    return {**os.environ, "WASIX_PROVIDER": "wasix", "WASIXCC_SYSROOT": str(wasix_sysroot)}


def test_toolchain_env_points_at_shell_wrappers(wasix_env: dict[str, str]) -> None:
    tc = get_toolchain()
    assert tc.bin_dir != driver_bin_dir(), "the provider's commands should be baked into wrappers"
    for var in ("CC", "CXX", "AR", "RANLIB", "NM", "LD"):
        path = Path(tc.env()[var])
        assert path.parent == tc.bin_dir and path.read_text().startswith("#!/bin/sh\n"), var
    assert tc.driver_dir == driver_bin_dir()


def test_wrappers_start_no_python_unless_settings_need_it(wasix_env: dict[str, str], tmp_path: Path) -> None:
    """With the Python driver made unreachable, compiles still work; a ``-s`` setting or a
    changed ``WASIXCC_*`` variable is handed over to it (and so fails here)."""
    settings, _ = parse_settings([], wasix_env)
    scripts = render(WasixProvider(settings), wasix_env, tmp_path / "no-python-driver")
    bin_dir = write_scripts(scripts, tmp_path / "wrappers")
    (tmp_path / "ok.c").write_text(SOURCES["ok.c"].replace('#include "hdr.h"', '#define GREETING "hi"\nint twice(int x) { return x; }'))

    def cc(*args: str, **env: str) -> int:
        return subprocess.run([str(bin_dir / "wasixcc"), *args], cwd=tmp_path, env={**wasix_env, **env}, capture_output=True).returncode

    assert cc("-O2", "ok.c", "-o", "ok.wasm") == 0
    assert (tmp_path / "ok.wasm").read_bytes()[:4] == b"\0asm"
    assert cc("-c", "ok.c", WASIXCC_RUN_WASM_OPT="no") == 0
    assert cc("-sCOMPILER_FLAGS=-DX", "-c", "ok.c") == 127
    assert cc("-c", "ok.c", WASIXCC_COMPILER_FLAGS="-DX") == 127
    assert cc("-c", "ok.c", WASIXCC_PROVIDER="auto") == 0  # the same provider
    assert cc("-c", "ok.c", WASIXCC_PROVIDER="gcc") == 127


@pytest.mark.parametrize("case", CASES + WASM_OPT_CASES, ids=lambda c: c.id)
def test_wasix_wrappers_match_the_python_driver(case: Case, tmp_path: Path, wasix_env: dict[str, str]) -> None:
    settings, _ = parse_settings([], wasix_env)
    assert WasixProvider(settings).problem() is None
    _compare(case, wasix_env, tmp_path)


def test_wasix_wrappers_take_the_engines_build_environment(tmp_path: Path, wasix_sysroot: Path) -> None:
    """Builds run with the provider's resolved parts exported (``WASIXCC_SYSROOT`` …, see
    Toolchain.env): the wrappers made without them must still compile, not hand every
    configure probe to the Python driver (unreachable here, so a hand-over fails)."""
    env = {**os.environ, "WASIX_PROVIDER": "wasix", "WASIXCC_PROVIDER": "wasix"}
    env.pop("WASIXCC_SYSROOT", None)
    settings, _ = parse_settings([], {**env, "WASIXCC_SYSROOT": str(wasix_sysroot)})
    provider = WasixProvider(settings)
    scripts = render(provider, env, tmp_path / "no-python-driver")
    bin_dir = write_scripts(scripts, tmp_path / "wrappers-plain")
    build_env = {**env, **provider.env()}
    assert build_env.get("WASIXCC_SYSROOT") == str(wasix_sysroot)
    (tmp_path / "ok.c").write_text("int main(void) { return 0; }\n")

    def cc(*args: str, **extra: str) -> int:
        return subprocess.run([str(bin_dir / "wasixcc"), *args], cwd=tmp_path, env={**build_env, **extra},
                              capture_output=True).returncode  # fmt: skip

    assert cc("-O2", "ok.c", "-o", "ok.wasm", WASIXCC_RUN_WASM_OPT="no") == 0
    assert cc("-c", "ok.c") == 0
    # Another sysroot is another toolchain: the reference driver decides.
    assert cc("-c", "ok.c", WASIXCC_SYSROOT=str(tmp_path)) == 127


def test_wasix_toolchain_in_another_store_runs_clang_directly(tmp_path: Path, wasix_sysroot: Path) -> None:
    """``--store DIR`` puts the sysroot there: the toolchain's wrappers bake that sysroot,
    so the build's own environment starts clang, not the Python driver."""
    from wasix_backend.store import Store

    store = tmp_path / "store"
    store.mkdir()
    shutil.copytree(wasix_sysroot, store / wasix_sysroot.name, copy_function=os.link, symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASIXCC_")}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        tc = get_toolchain("wasix", store=Store(store))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    build_env = {**env, **tc.env()}
    assert build_env["WASIXCC_SYSROOT"].startswith(str(store))
    (tmp_path / "ok.c").write_text("int main(void) { return 0; }\n")
    trace = subprocess.run(["sh", "-x", str(tc.bin_dir / "wasixcc"), "-c", "ok.c"], cwd=tmp_path, env=build_env,
                           capture_output=True, text=True)  # fmt: skip
    assert trace.returncode == 0, trace.stderr
    execs = [line for line in trace.stderr.splitlines() if line.startswith("+ exec ")]
    assert execs and "clang" in execs[-1] and str(tc.driver_dir) not in execs[-1], execs
