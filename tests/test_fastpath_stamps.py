"""The no-op stamp itself, without a build (issue 37, item 17): a file edited while the
command runs leaves no stamp, and a watched store record stands for its entry's files."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from wasix_backend import fastpath


@pytest.fixture(autouse=True)
def _private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WASIX_NO_FAST_PATH", raising=False)
    monkeypatch.setattr(fastpath, "_watched", set())
    monkeypatch.setattr("sys.stdout", io.StringIO())
    monkeypatch.setattr("sys.stderr", io.StringIO())


def _old(path: Path) -> None:
    """Make ``path`` look written long before the command (as a file at rest is)."""
    past = time.time() - 3600
    os.utime(path, (past, past))


def _run(argv: list[str], inputs: list[Path], during=None, produced=()) -> None:  # type: ignore[no-untyped-def]
    with fastpath.recording(argv) as status:
        print("cached")
        fastpath.offer(inputs, produced=produced) if produced else fastpath.offer(inputs)
        if during is not None:
            during()
        status[0] = 0


def test_an_input_edited_while_the_command_runs_leaves_no_stamp(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("old")
    _old(recipe)
    time.sleep(0.2)

    def edit() -> None:  # the user's editor saves, after the command read the file
        recipe.write_text("new")

    _run(["build", "x"], [recipe], during=edit)
    assert fastpath.replay(["build", "x"]) is None
    time.sleep(0.2)
    _run(["build", "x"], [recipe])  # nothing edited during this one (the edit is 0.2 s old)
    assert fastpath.replay(["build", "x"]) == 0


def test_outputs_the_command_writes_do_not_count_as_edits(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "x.wasm"
    out.parent.mkdir()

    def write() -> None:
        out.write_bytes(b"\0asm")

    _run(["build", "y"], [], during=write, produced=[out])
    assert fastpath.replay(["build", "y"]) == 0


def test_a_watched_record_stands_for_its_entrys_files(tmp_path: Path) -> None:
    """A sysroot in the store is named by its record; a header edited in it must end the
    replay, as the normal path (which re-hashes the entry) and ``verify`` notice."""
    entry = tmp_path / "store" / ("a" * 32 + "-wasix-libc-1")
    (entry / "include").mkdir(parents=True)
    header = entry / "include" / "stdio.h"
    header.write_text("int printf(const char *, ...);\n")
    (entry / ".wasix-build.json").write_text(json.dumps({"files": {}}))
    for p in (header, entry / ".wasix-build.json", entry / "include", entry):
        _old(p)
    time.sleep(0.2)  # (utime sets the ctime: a file at rest)
    from wasix_backend.toolchain.providers import _sysroot_identity

    assert _sysroot_identity(entry) == f"store {entry.name}"  # what the toolchain watches: the record
    _run(["build", "z"], [])
    assert fastpath.replay(["build", "z"]) == 0
    header.write_text("int printf(const char *, ...); /* tampered */\n")
    assert fastpath.replay(["build", "z"]) is None
