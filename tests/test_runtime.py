"""``wasix_backend.runtime``: the launcher's naming, environment and exit behaviour, data files
outside ``/workspace``, and the SDK kept out of the caller's process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_wasmer_pkg import PREBUILT_TOOL

from wasix_backend import runtime
from wasix_backend.runtime import Invocation, run, run_steps


def test_a_bare_module_is_named_after_its_file(tmp_path: Path) -> None:
    figlet = tmp_path / "figlet.wasm"
    figlet.write_bytes(PREBUILT_TOOL.read_bytes())
    assert run(figlet, ["a"]).text == "hello from figlet [a]\n"
    assert run(figlet.read_bytes(), [], name="banner").text == "hello from banner\n"
    assert run(figlet.read_bytes(), []).text == "hello from main\n"  # bytes alone carry no name


def test_files_outside_workspace_are_the_modules_read_only_data() -> None:
    """A program's data at the path it was built with (/usr/share/…), as a package's [fs]."""
    data = {"/usr/share/tool/font.txt": b"glyphs\n", "/workspace/in.txt": "input\n"}
    assert run(PREBUILT_TOOL, ["cat", "/usr/share/tool/font.txt"], files=data).text == "glyphs\n"
    assert run(PREBUILT_TOOL, ["cat", "/workspace/in.txt"], files=data).text == "input\n"
    steps = run_steps({"tool": PREBUILT_TOOL}, [Invocation("tool", ["cat", "/usr/share/tool/font.txt"])],
                      data={"/usr/share/tool/font.txt": b"glyphs\n"})
    assert [(r.exit_code, r.text) for r in steps] == [(0, "glyphs\n")]


def test_the_sdks_refusal_is_one_exception_and_the_next_run_works(tmp_path: Path) -> None:
    with pytest.raises(runtime.SandboxError, match="unable to load package"):
        run(b"not a module", [])
    assert run(PREBUILT_TOOL, ["exit", "5"]).exit_code == 5


def test_a_worker_that_died_while_idle_is_replaced() -> None:
    assert run(PREBUILT_TOOL, []).exit_code == 0
    for worker in list(runtime._idle):
        worker.proc.kill()
        worker.proc.wait()
    assert run(PREBUILT_TOOL, ["x"]).text == "hello from tool [x]\n"


SCRIPT = """\
import sys
from pathlib import Path
from wasix_backend.runtime import run

for i in range(50):
    result = run(Path(sys.argv[1]), [str(i)])
    assert result.text == f"hello from tool [{i}]\\n", result
print("done")
"""


def test_a_script_running_modules_50_times_always_exits_0(tmp_path: Path) -> None:
    """wasmer-sdk may abort the process it lives in at interpreter exit ("FATAL: exception not
    rethrown", status 134; 2 scripts in 6 did before): it no longer lives in the caller's."""
    script = tmp_path / "many.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(runtime.__file__).parents[1])}
    procs = [subprocess.Popen([sys.executable, str(script), str(PREBUILT_TOOL)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, cwd=tmp_path) for _ in range(6)]  # fmt: skip
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert (proc.returncode, out) == (0, b"done\n"), err.decode(errors="replace")[-2000:]


PROBE_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    printf("%s PWD=%s HOME=%s\n", argv[0], getenv("PWD"), getenv("HOME"));
    fflush(stdout);
    if (argc > 1) __builtin_trap();
    return 0;
}
"""


@pytest.mark.build
def test_the_launchers_environment_and_a_trap_is_status_134(tmp_path: Path) -> None:
    from test_c_programs import build

    probe = build(tmp_path, textwrap.dedent(PROBE_C), "-O2", name="probe")
    assert run(probe, []).text == "probe PWD=/workspace HOME=/workspace\n"
    assert run(probe, [], cwd="/tmp", env={"HOME": "/h"}).text == "probe PWD=/tmp HOME=/h\n"
    crashed = run(probe, ["trap"])
    assert crashed.exit_code == 134
    assert crashed.text.startswith("probe ")  # what it wrote before the trap is kept
    assert crashed.stderr.decode().startswith("probe: the program failed in the WebAssembly runtime: ")
