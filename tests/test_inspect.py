"""inspect.py on modules compiled here by zig's clang, and on things that are not modules."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wasix_backend import paths
from wasix_backend.errors import WasixError
from wasix_backend.inspect import format_module_info, inspect_module, verdict_for

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ziglang") is None,
    reason="PyPI ziglang (the offline C compiler) is not installed",
)

WASI_C = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
WASIX_C = """\
#include <stdio.h>
__attribute__((import_module("wasix_32v1"), import_name("proc_id")))
int wasix_proc_id(unsigned *pid);
int main(void) { unsigned pid = 0; wasix_proc_id(&pid); printf("%u\\n", pid); return 0; }
"""
# No libc: a library-style module with an imported, shared memory, as WASIX modules have.
SHARED_C = """\
__attribute__((import_module("wasix_32v1"), import_name("proc_id")))
int wasix_proc_id(unsigned *pid);
static unsigned counter;
__attribute__((export_name("bump"))) unsigned bump(void) {
    unsigned pid = 0;
    wasix_proc_id(&pid);
    return __atomic_add_fetch(&counter, pid + 1, __ATOMIC_SEQ_CST);
}
"""


def zig_cc(tmp: Path, name: str, source: str, *args: str) -> Path:
    src, out = tmp / f"{name}.c", tmp / f"{name}.wasm"
    src.write_text(source)
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(paths.zig_cache_dir())}
    cmd = [sys.executable, "-m", "ziglang", "cc", "-O2", *args, str(src), "-o", str(out)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("wasm")
    return {
        "wasi": zig_cc(tmp, "wasi", WASI_C, "-target", "wasm32-wasi"),
        "wasix": zig_cc(tmp, "wasix", WASIX_C, "-target", "wasm32-wasi"),
        "shared": zig_cc(
            tmp,
            "shared",
            SHARED_C,
            "-target",
            "wasm32-freestanding",
            "-mcpu=generic+atomics+bulk_memory",
            "-nostdlib",
            "-Wl,--no-entry",
            "-Wl,--import-memory",
            "-Wl,--shared-memory",
            "-Wl,--max-memory=16777216",
        ),
    }


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
    cut.write_bytes(modules["wasix"].read_bytes()[:200])
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
