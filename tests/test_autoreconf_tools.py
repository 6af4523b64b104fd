"""Regenerating configure names the missing tool (libtoolize only for libtool projects)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wasix_backend.buildsystems.autotools import autoreconf_missing


def _tools(tmp_path: Path, *names: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        real = shutil.which(name)
        if real is None:
            pytest.skip(reason=f"{name} is not installed here (apt-get install autoconf automake libtool)")
        os.symlink(real, bin_dir / name)
    return str(bin_dir)


def test_libtool_project_needs_libtoolize(tmp_path: Path) -> None:
    (tmp_path / "configure.ac").write_text("AC_INIT([x], [1])\nLT_INIT\nAC_OUTPUT\n")
    path = _tools(tmp_path, "autoreconf", "autoconf", "automake")
    assert autoreconf_missing(tmp_path, path) == "libtoolize"
    os.symlink(shutil.which("libtoolize") or "/nonexistent", Path(path) / "libtoolize")
    assert autoreconf_missing(tmp_path, path) is None or shutil.which("libtoolize") is None


def test_plain_project_does_not_need_libtoolize(tmp_path: Path) -> None:
    (tmp_path / "configure.ac").write_text("AC_INIT([x], [1])\nAC_OUTPUT\n")
    assert autoreconf_missing(tmp_path, _tools(tmp_path, "autoreconf", "autoconf", "automake")) is None
    assert autoreconf_missing(tmp_path, str(tmp_path / "empty")) == "autoreconf"
