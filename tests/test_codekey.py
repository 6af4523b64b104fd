"""The store key's code part covers every module that shapes a build (issue 16, item 9)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import wasix_backend
from wasix_backend.codekey import code_key

PKG = Path(wasix_backend.__file__).parent


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    copy = tmp_path / "wasix_backend"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.mark.parametrize("module", ["context.py", "extract.py", "engine.py", "buildsystems/autotools.py", "toolchain/driver.py"])
def test_a_change_in_build_code_changes_the_key(pkg: Path, module: str) -> None:
    before = code_key(pkg)
    with (pkg / module).open("a") as f:
        f.write("\n# changed\n")
    assert code_key(pkg) != before


def test_a_new_module_is_covered_by_default(pkg: Path) -> None:
    before = code_key(pkg)
    (pkg / "buildsystems" / "meson.py").write_text("SYSTEM = 'meson'\n")
    assert code_key(pkg) != before


@pytest.mark.parametrize("module", ["cli/main.py", "outputs/wheel.py", "summary.py", "inspect.py"])
def test_presentation_and_output_code_does_not_rebuild(pkg: Path, module: str) -> None:
    before = code_key(pkg)
    with (pkg / module).open("a") as f:
        f.write("\n# changed\n")
    assert code_key(pkg) == before
