"""A Wasmer package with bash as `sh`: system() and popen() of the real wasix-libc work there.

tests/test_wasix_libc.py shows them failing in a package without a shell (the sandbox has no
/bin/sh); here the program shares a package with the bash recipe's module as command `sh`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from wasix_backend.runtime import Invocation, run_steps

pytestmark = pytest.mark.collection

SHELL_USER = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  printf("system=%d\n", system("echo hi; exit 3") >> 8);
  fflush(stdout);
  FILE *p = popen("echo from popen", "r");
  if (!p) { perror("popen"); return 2; }
  char buf[64] = {0};
  if (!fgets(buf, sizeof buf, p)) { perror("fgets"); return 3; }
  printf("popen read %s", buf);
  return pclose(p);
}
"""


@pytest.fixture(scope="module")
def bash_wasm(provider_env, wasix_sysroot: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> Path:
    from wasix_backend.cli import main

    for key, value in provider_env("wasix").items():
        monkeypatch_module.setenv(key, value)
    out_dir = tmp_path_factory.mktemp("bash")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["build", "bash", "--out", str(out_dir), "--json"]) == 0
    assert json.loads(out.getvalue())
    return out_dir / "bin" / "bash.wasm"


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def shell_user(bash_wasm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wasix_backend.toolchain import driver_bin_dir

    root = tmp_path_factory.mktemp("shell-user")
    (root / "prog.c").write_text(SHELL_USER)
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "prog.c", "-o", "prog.wasm"],
                          cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root / "prog.wasm"


def test_system_and_popen_run_the_packages_sh(shell_user: Path, bash_wasm: Path) -> None:
    (result,) = run_steps({"prog": shell_user, "sh": bash_wasm}, [Invocation("prog")])
    assert (result.exit_code, result.text) == (0, "hi\nsystem=3\npopen read from popen\n")


def test_without_sh_in_the_package_they_fail_cleanly(shell_user: Path) -> None:
    (result,) = run_steps({"prog": shell_user}, [Invocation("prog")])
    assert result.exit_code == 2
    assert result.text.startswith("system=") and "popen" in result.stderr.decode()


def test_the_bundles_wheel_runs_programs_of_each_other(bash_wasm: Path, tmp_path: Path) -> None:
    """The wheel's launcher loads every module of a bundle as one package: its bash runs grep
    and make, make runs sh, find and xargs run coreutils' cat and echo (sandbox commands, not
    console scripts), and what they write lands in the host directory."""
    import sys

    from wasix_backend.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["wheel", "shell-tools", "--out", str(tmp_path / "dist"), "--json"]) == 0
    (wheel,) = (tmp_path / "dist" / "wheels").glob("wasix_shell_tools-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.txt").write_text("apple\nbanana\n")
    (work / "Makefile").write_text("out.txt: in.txt\n\tgrep an in.txt > out.txt\n")
    script = "import sys; sys.argv[0] = 'bash'; from wasix_shell_tools._launcher import main; main()"
    proc = subprocess.run([sys.executable, "-c", script, "-c", "grep -c a in.txt; make -s && grep . out.txt; "
                           "find . -name in.txt -exec cat {} +; echo a b | xargs -n1 echo"], cwd=work,
                          env={**os.environ, "PYTHONPATH": str(target), "WASIX_RUNTIME": "sdk"},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert (proc.returncode, proc.stdout) == (0, "2\nbanana\napple\nbanana\na\nb\n"), proc.stderr
    assert (work / "out.txt").read_text() == "banana\n"
    scripts = {p.name for p in (target / "bin").iterdir()}
    assert {"bash", "find", "xargs"} <= scripts and not scripts & {"cat", "ls", "echo"}  # coreutils' are sandbox-only
