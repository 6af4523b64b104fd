"""The direction of imports ([tool.importlinter] in pyproject.toml, run by `nox -s lint`): kept
by today's code, and broken by an import that goes the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts, on the package found first in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")], cwd=package_parent,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_package_keeps_its_contracts() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_an_import_against_the_layers_breaks_them(tmp_path: Path) -> None:
    # errors is the bottom layer: an import of the engine there, even inside a function, is upward.
    shutil.copytree(ROOT / "wasix_backend", tmp_path / "wasix_backend", ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / "wasix_backend" / "errors.py").open("a") as f:
        f.write("\n\ndef _upward():\n    from .engine import Engine\n\n    return Engine\n")
    proc = _lint(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "wasix_backend.errors is not allowed to import wasix_backend.engine" in proc.stdout
    assert "2 kept, 1 broken" in proc.stdout
