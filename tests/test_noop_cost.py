"""What a no-op build must not pay for: asking a tool its version on every start."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasix_backend.toolchain import _tool_version


def test_tool_version_is_asked_once_per_file_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    tool = tmp_path / "wasm-opt"
    tool.write_text(f'#!/bin/sh\necho x >> "{calls}"\necho "wasm-opt version 108"\n')
    tool.chmod(0o755)
    for _ in range(3):  # three "processes": the in-process memo is gone each time
        _tool_version.cache_clear()
        assert _tool_version(tool) == "wasm-opt version 108"
    assert calls.read_text().count("x") == 1
    # Another binary at the same path (new size and mtime) is asked again.
    tool.write_text(f'#!/bin/sh\necho x >> "{calls}"\necho "wasm-opt version 116 (new)"\n')
    _tool_version.cache_clear()
    assert _tool_version(tool) == "wasm-opt version 116 (new)"
    assert calls.read_text().count("x") == 2
    _tool_version.cache_clear()
