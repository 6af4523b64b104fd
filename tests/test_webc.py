""".webc containers written in Python: the real Wasmer runtime loads and runs them."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest
from test_wasmer_pkg import PREBUILT_TOOL  # the shared C test program (tests/ is on sys.path)

from wasix_backend import fsutil
from wasix_backend.errors import WasixError
from wasix_backend.outputs import webc
from wasix_backend.outputs.wasmer_pkg import write_wasmer_package
from wasix_backend.outputs.webc import read_webc, write_webc
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.runtime import run


@pytest.fixture(scope="session")
def tool_wasm() -> Path:
    return PREBUILT_TOOL


@pytest.fixture
def package(tmp_path: Path, tool_wasm: Path) -> Path:
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    for name in ("hello", "tool"):
        (prefix / "bin" / f"{name}.wasm").write_bytes(tool_wasm.read_bytes())
    (prefix / "share/hello/sub").mkdir(parents=True)
    (prefix / "share/hello/msg.txt").write_text("greetings data\n")
    (prefix / "share/hello/sub/deep.txt").write_text("deep\n")
    recipe = recipe_from_dict(
        {"package": {"name": "hello", "version": "1.2", "license": "MIT"},
         "outputs": {"bin": ["hello", "tool"], "commands": {"hello": "hello", "hi": "tool"},
                     "data": {"/usr/share/hello": "share/hello"}}},
        plugin="t",
    )
    return write_wasmer_package(recipe, prefix, tmp_path / "dist")


def test_runtime_loads_and_runs_every_command(tmp_path, package):
    dest = write_webc(package, tmp_path / "dist" / "hello-1.2.webc")
    blob = dest.read_bytes()
    assert blob[:8] == b"\0webc003"
    for cmd, module in (("hello", "hello"), ("hi", "tool")):
        res = run(blob, ["a"], command=cmd)
        assert (res.exit_code, res.text) == (0, f"hello from {cmd} [a]\n"), module
    assert run(blob, ["exit", "9"], command="hi").exit_code == 9
    assert run(blob, []).text == "hello from hello\n"  # entrypoint
    # data volume, nested directories included
    assert run(blob, ["cat", "/usr/share/hello/msg.txt"]).text == "greetings data\n"
    assert run(blob, ["cat", "/usr/share/hello/sub/deep.txt"], command="hi").text == "deep\n"


def test_deterministic(tmp_path, package):
    a = write_webc(package, tmp_path / "a.webc").read_bytes()
    b = write_webc(package, tmp_path / "b.webc").read_bytes()
    assert a == b
    os.utime(package / "bin" / "tool.wasm", (1, 1))  # timestamps do not leak in
    assert write_webc(package, tmp_path / "c.webc").read_bytes() == a


def test_read_back(tmp_path, package, tool_wasm):
    parsed = read_webc(write_webc(package, tmp_path / "x.webc"))
    m = parsed["manifest"]
    assert m["package"]["wapm"] == {"name": "wasmer/hello", "version": "1.2.0",
                                    "description": "hello 1.2 compiled to WebAssembly (WASIX).",
                                    "license": "MIT"}
    assert m["entrypoint"] == "hello"
    assert set(m["commands"]) == {"hello", "hi"}
    assert m["commands"]["hi"]["annotations"]["atom"] == {"name": "tool"}
    assert parsed["atoms"] == {"hello": tool_wasm.read_bytes(), "tool": tool_wasm.read_bytes()}
    sig = m["atoms"]["tool"]["signature"]
    import base64

    assert sig == "sha256:" + base64.b64encode(hashlib.sha256(tool_wasm.read_bytes()).digest()).decode()
    assert parsed["volumes"] == {"/share/hello": {"msg.txt": b"greetings data\n", "sub": {"deep.txt": b"deep\n"}}}
    # the index points at each section exactly
    blob = (tmp_path / "x.webc").read_bytes()
    span = parsed["index"]["manifest"]["span"]
    assert blob[span["start"]] == webc.TAG_MANIFEST
    (length,) = struct.unpack_from("<Q", blob, span["start"] + 33)
    assert span["len"] == 41 + length


def test_corruption_is_detected(tmp_path, package):
    blob = bytearray(write_webc(package, tmp_path / "x.webc").read_bytes())
    blob[-3] ^= 0xFF  # inside the data volume
    with pytest.raises(WasixError, match="mismatch"):
        read_webc(bytes(blob))


def test_failed_write_leaves_the_old_file(tmp_path, package, monkeypatch):
    dest = write_webc(package, tmp_path / "out" / "hello.webc")
    before = dest.read_bytes()
    (package / "bin" / "tool.wasm").write_bytes(b"\0asm\1\0\0\0")

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(fsutil.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_webc(package, dest)
    assert dest.read_bytes() == before
    assert [p.name for p in dest.parent.iterdir()] == ["hello.webc"]  # no temp file left


def test_missing_package_is_a_clear_error(tmp_path):
    with pytest.raises(WasixError, match=r"no wasmer\.toml"):
        write_webc(tmp_path / "nothing", tmp_path / "x.webc")
    assert not (tmp_path / "x.webc").exists()
