"""wasm-opt's passes through binaryen's C API from PyPI (``icpp-binaryen`` + cffi).

The build-tier test links a program that longjmps and forks without the post-link pass, then
runs the driver's own pass arguments through the system's ``wasm-opt`` (where installed) and
through the PyPI runner: both modules must run the same under the real runtime, and the
module without asyncify must not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.runtime import run
from wasix_backend.toolchain import Toolchain, binaryen, driver_bin_dir
from wasix_backend.toolchain.providers import WasixProvider
from wasix_backend.toolchain.settings import parse_settings

pytestmark = pytest.mark.skipif(binaryen.library() is None, reason="icpp-binaryen is not installed")

FORK_AND_LONGJMP = textwrap.dedent("""\
    #include <setjmp.h>
    #include <stdio.h>
    #include <sys/wait.h>
    #include <unistd.h>
    static jmp_buf jb;
    int main(void) {
      if (!setjmp(jb)) { puts("jumping"); longjmp(jb, 1); }
      pid_t pid = fork();
      if (pid == 0) { puts("child"); _exit(7); }
      int status; waitpid(pid, &status, 0);
      printf("child exited %d\\n", WEXITSTATUS(status));
      return 0;
    }
""")


def test_the_command_line_is_read_as_wasm_opt_reads_it() -> None:
    job = binaryen.parse_args(["--enable-threads", "--asyncify", "--pass-arg=asyncify-imports@a.b,c.d", "-O2",
                               "in.wasm", "-o", "out.wasm"])  # fmt: skip
    assert (job.input, job.output, job.features) == ("in.wasm", "out.wasm", ["threads"])
    assert job.steps == [("pass", "asyncify"), ("optimize", 2, 0)]
    assert job.pass_args == {"asyncify-imports": "a.b,c.d"}
    assert binaryen.parse_args(["-Os", "--strip-debug", "m.wasm"]).steps == [
        ("optimize", 2, 1),
        ("pass", "strip-debug"),
    ]


@pytest.mark.parametrize(
    "argv",
    [["--flatten", "m.wasm"], ["--enable-everything-new", "m.wasm"], ["a.wasm", "b.wasm"], ["-o"]],
)
def test_anything_it_cannot_do_exactly_is_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert binaryen.main(argv) == 2
    assert "wasm-opt (PyPI binaryen):" in capsys.readouterr().err


def test_a_file_that_is_no_module_fails_and_writes_nothing(tmp_path: Path) -> None:
    # As a program (binaryen ends the process on unreadable input, so builds never call it in-process).
    (tmp_path / "bad.wasm").write_bytes(b"\0asm\x01\0\0\0\xff\xff")
    done = subprocess.run([str(binaryen.program()), "-O2", str(tmp_path / "bad.wasm"), "-o", str(tmp_path / "out.wasm")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0
    assert not (tmp_path / "out.wasm").exists()


def test_its_identity_is_the_library_not_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = binaryen.program()
    assert program is not None and binaryen.is_program(program)
    version = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "icpp-binaryen 116." in version and "libbinaryen" in version
    tc = Toolchain(provider="wasix", driver_dir=tmp_path, description="d", wasm_opt=program)
    assert binaryen.identity() in tc.identity and str(program) not in tc.identity


def test_binaryen_location_pypi_chooses_it_over_a_system_wasm_opt() -> None:
    settings, _ = parse_settings(["-sBINARYEN_LOCATION=pypi"], {})
    assert WasixProvider(settings).wasm_opt() == binaryen.program()


@pytest.mark.build
def test_asyncify_through_the_c_api_runs_like_wasm_opts(
    tmp_path: Path, wasix_sysroot: Path
) -> None:
    (tmp_path / "p.c").write_text(FORK_AND_LONGJMP)
    env = {
        **os.environ,
        "WASIX_PROVIDER": "wasix",
        "WASIXCC_SYSROOT": str(wasix_sysroot),
        "WASIXCC_RUN_WASM_OPT": "no",
    }
    link = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "p.c", "-o", "raw.wasm"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert link.returncode == 0, link.stderr
    settings, _ = parse_settings([], {"WASIXCC_SYSROOT": str(wasix_sysroot)})
    args = WasixProvider(settings).wasm_opt_args()
    assert args is not None and "--asyncify" in args
    runners = {"pypi": [str(binaryen.program())]}
    if shutil.which("wasm-opt"):
        runners["system"] = [shutil.which("wasm-opt") or ""]
    results = {}
    for name, runner in runners.items():
        out = tmp_path / f"{name}.wasm"
        done = subprocess.run(
            [*runner, *args, str(tmp_path / "raw.wasm"), "-o", str(out)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        result = run(out)
        results[name] = (result.exit_code, result.text)
    assert results["pypi"] == (0, "jumping\nchild\nchild exited 7\n")
    assert len(set(results.values())) == 1, results
    assert run(tmp_path / "raw.wasm").exit_code != 0  # without asyncify it cannot longjmp

    # The driver itself, told to use it, links a program that works.
    env.update(WASIXCC_RUN_WASM_OPT="yes", WASIXCC_BINARYEN_LOCATION="pypi")
    link = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "p.c", "-o", "linked.wasm"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert link.returncode == 0, link.stderr
    assert (run(tmp_path / "linked.wasm").exit_code, run(tmp_path / "linked.wasm").text) == results[
        "pypi"
    ]
