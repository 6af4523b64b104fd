"""``wasixcc`` as a user calls it from ``PATH``: the console script hands over to the wrappers it
remembered for this environment, without the Python driver's start-up, and makes the same files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wasix_backend.driver_entry import HANDED_OVER
from wasix_backend.toolchain import driver_bin_dir

pytestmark = pytest.mark.build  # the real compiler, through the installed console script

SOURCE = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'


@pytest.fixture
def user_env(tmp_path: Path, wasix_sysroot: Path) -> dict[str, str]:
    """A user's environment: the store holding the sysroot, an empty cache (no wrappers, no
    memo), nothing else of this project's set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WASIX", "_WASIX"))}
    env.update(WASIX_STORE=str(wasix_sysroot.parent), WASIX_CACHE=str(tmp_path / "cache"), WASIX_PROVIDER="wasix")
    (tmp_path / "hello.c").write_text(SOURCE)
    return env


def wasixcc(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The console script, with Python reporting each import on stderr."""
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), *args], cwd=tmp_path, capture_output=True, text=True,
                          env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def python_driver_ran(proc: subprocess.CompletedProcess[str]) -> bool:
    return "wasix_backend.toolchain.driver" in proc.stderr


def memos(env: dict[str, str]) -> list[dict]:
    return [json.loads(p.read_text()) for p in (Path(env["WASIX_CACHE"]) / "wrappers" / "by-env").glob("*.json")]


def test_the_second_call_runs_the_remembered_wrapper_and_makes_the_same_module(tmp_path: Path, user_env) -> None:
    first = wasixcc(tmp_path, user_env, "-O2", "hello.c", "-o", "first.wasm")
    assert [m["wrappers"] for m in memos(user_env)] and (tmp_path / "first.wasm").is_file()
    second = wasixcc(tmp_path, user_env, "-O2", "hello.c", "-o", "second.wasm")
    assert not python_driver_ran(second), "the console script should have handed over before loading the driver"
    assert "wasix_backend.toolchain.driver" in first.stderr  # the first call resolved the wrappers
    # The reference: the Python driver itself (what a wrapper hands a call back to).
    wasixcc(tmp_path, {**user_env, HANDED_OVER: "1"}, "-O2", "hello.c", "-o", "driver.wasm")
    assert (tmp_path / "second.wasm").read_bytes() == (tmp_path / "driver.wasm").read_bytes()
    assert (tmp_path / "first.wasm").read_bytes() == (tmp_path / "driver.wasm").read_bytes()


def test_settings_on_the_command_line_take_the_python_driver(tmp_path: Path, user_env) -> None:
    wasixcc(tmp_path, user_env, "-c", "hello.c")
    proc = wasixcc(tmp_path, user_env, "-sCOMPILER_FLAGS=-DX", "-c", "hello.c")
    assert python_driver_ran(proc)


def test_another_setting_is_another_memo_and_a_removed_wrapper_is_made_again(tmp_path: Path, user_env) -> None:
    wasixcc(tmp_path, user_env, "-c", "hello.c")
    wasixcc(tmp_path, {**user_env, "WASIXCC_RUN_WASM_OPT": "no"}, "hello.c", "-o", "plain.wasm")
    found = memos(user_env)
    assert len(found) == 2, found
    for wrappers in {m["wrappers"] for m in found}:  # e.g. a wiped cache took them
        shutil.rmtree(wrappers)
    proc = wasixcc(tmp_path, user_env, "-c", "hello.c", "-o", "again.o")
    assert python_driver_ran(proc) and (tmp_path / "again.o").is_file()
    assert not python_driver_ran(wasixcc(tmp_path, user_env, "-c", "hello.c", "-o", "fast.o"))
