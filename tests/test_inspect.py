"""inspect.py on small modules written here in the WebAssembly text format (no compiler: the
unit tier), and on things that are not modules. Modules compiled for real are inspected in the
build tier (tests/test_less.py, tests/test_wasix_libc.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wasix_backend.errors import WasixError
from wasix_backend.inspect import format_module_info, inspect_module, verdict_for

# What a C program's `puts` comes to: WASI calls, its own memory, a _start.
WASI_WAT = """\
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "hello\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
"""
# The same, also calling one WASIX host function.
WASIX_WAT = """\
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasix_32v1" "proc_id" (func $proc_id (param i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (drop (call $proc_id (i32.const 32)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8)))))
"""
# No libc: a library-style module with an imported, shared memory, as WASIX modules have.
SHARED_WAT = """\
(module
  (import "env" "memory" (memory 1 256 shared))
  (import "wasix_32v1" "proc_id" (func $proc_id (param i32) (result i32)))
  (func (export "bump") (result i32)
    (drop (call $proc_id (i32.const 0)))
    (i32.atomic.rmw.add (i32.const 4) (i32.add (i32.load (i32.const 0)) (i32.const 1)))))
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import wasmtime

    tmp = tmp_path_factory.mktemp("wasm")
    out = {}
    for name, text in {"wasi": WASI_WAT, "wasix": WASIX_WAT, "shared": SHARED_WAT}.items():
        out[name] = tmp / f"{name}.wasm"
        out[name].write_bytes(wasmtime.wat2wasm(text))
    return out


def test_wasi_preview1_module(modules: dict[str, Path]) -> None:
    info = inspect_module(modules["wasi"])
    assert info.verdict == "WASI preview 1"
    assert set(info.imports) == {"wasi_snapshot_preview1"}
    assert "fd_write" in info.imports["wasi_snapshot_preview1"]
    assert ("_start", "func") in info.exports and ("memory", "memory") in info.exports
    assert [m["imported"] for m in info.memories] == [False]
    assert info.memories[0]["shared"] is False and info.memories[0]["min"] >= 1
    assert info.size == modules["wasi"].stat().st_size


def test_wasix_module(modules: dict[str, Path]) -> None:
    info = inspect_module(modules["wasix"])
    assert info.verdict == "WASIX"
    assert info.imports["wasix_32v1"] == ["proc_id"]
    assert ("wasix_32v1", "proc_id", "func") in info.import_kinds
    text = format_module_info(info)
    assert "verdict: WASIX" in text
    assert "wasix_32v1 (1):" in text and "proc_id" in text
    assert "_start (func)" in text
    json.dumps(info.__dict__)  # `wasix-build inspect --json` prints exactly this


def test_shared_imported_memory_loads(modules: dict[str, Path]) -> None:
    info = inspect_module(modules["shared"])
    assert info.verdict == "WASIX"
    assert info.imports["env"] == ["memory"]
    assert ("env", "memory", "memory") in info.import_kinds
    (memory,) = info.memories
    assert memory["imported"] and memory["shared"]
    assert memory["max"] == 16777216 // 65536
    assert info.exports == [("bump", "func")]
    text = format_module_info(info)
    assert "imported env.memory" in text and "shared" in text
    assert "also imports from env" in text


def test_not_modules_give_clear_errors(tmp_path: Path, modules: dict[str, Path]) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(os.urandom(64).replace(b"\0", b"x"))
    with pytest.raises(WasixError, match=r"garbage\.wasm is not a WebAssembly module"):
        inspect_module(garbage)
    cut = tmp_path / "cut.wasm"
    whole = modules["wasix"].read_bytes()
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(WasixError, match=r"cut\.wasm is not a valid WebAssembly module: .*"):
        inspect_module(cut)
    empty = tmp_path / "empty.wasm"
    empty.write_bytes(b"")
    with pytest.raises(WasixError, match="empty file"):
        inspect_module(empty)
    with pytest.raises(WasixError, match="cannot read"):
        inspect_module(tmp_path / "missing.wasm")


def test_verdict_rules() -> None:
    assert verdict_for({"wasi_snapshot_preview1", "wasix_32v1", "env"}) == "WASIX"
    assert verdict_for({"wasix_64v1"}) == "WASIX"
    assert verdict_for({"wasi_unstable"}) == "WASI preview 1"
    assert verdict_for({"env"}) == "neither"
    assert verdict_for(set()) == "neither"
