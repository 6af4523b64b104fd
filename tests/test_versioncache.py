"""Tool digests in store keys: a PyPI tool's console script counts by what it runs, not by
the interpreter path on its first line (issue #30: `python -m build` compiled again in each
throw-away build environment, as its cmake and pkg-config scripts named that environment)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from wasix_backend.toolchain.versioncache import tool_digest

CMAKE_SCRIPT = """# -*- coding: utf-8 -*-
import re
import sys
from cmake import cmake
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(cmake())
"""


def _script(path: Path, first_line: str, body: str = CMAKE_SCRIPT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{first_line}\n{body}")
    path.chmod(0o755)
    return path


def test_console_scripts_of_two_environments_have_one_digest(tmp_path: Path) -> None:
    a = _script(tmp_path / "venv-a/bin/cmake", "#!/work/project/.venv/bin/python3")
    b = _script(tmp_path / "build-env-x1y2/bin/cmake", "#!/tmp/build-env-x1y2/bin/python")
    c = _script(tmp_path / "c/bin/cmake", "#!/usr/bin/env python3")
    assert tool_digest(a) == tool_digest(b) == tool_digest(c)


def test_what_the_script_runs_still_counts(tmp_path: Path) -> None:
    a = _script(tmp_path / "a/cmake", "#!/venv/bin/python3")
    b = _script(
        tmp_path / "b/cmake", "#!/venv/bin/python3", CMAKE_SCRIPT.replace("cmake()", "cmake(1)")
    )
    assert tool_digest(a) != tool_digest(b)


def test_other_programs_count_whole(tmp_path: Path) -> None:
    # A shell script's interpreter line is part of the program (another shell, another tool).
    a = _script(tmp_path / "a/tool", "#!/bin/sh", 'exec make "$@"\n')
    b = _script(tmp_path / "b/tool", "#!/bin/bash", 'exec make "$@"\n')
    assert tool_digest(a) != tool_digest(b)
    # Not a script at all: every byte counts, as before.
    elf = tmp_path / "elf"
    elf.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(100))
    assert tool_digest(elf) == hashlib.sha256(elf.read_bytes()).hexdigest()
    assert tool_digest(tmp_path / "missing") == "missing"
