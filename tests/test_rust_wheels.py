"""Installed Rust wheels work in the directory they are started in, with no ``$PWD`` patch.

ripgrep and sd are linked against wasix-libc (see :mod:`wasix_backend.rustlink`), so they
carry the launcher's mirror step as C programs do: the host's working directory is copied in,
the program starts in it at its real path, relative paths (``../g.txt`` included) name the
host's files, and edits are written back; ``isatty()`` answers for the host's streams. The
packages come from the session's collection builds.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import venv_with_wheels
from test_collection import collection_modules  # noqa: F401  (the session's builds)

pytestmark = pytest.mark.collection

PACKAGES = ("sd", "ripgrep")


@pytest.fixture(scope="module")
def bin_dir(
    collection_modules: Callable[[str], dict[str, Path]],  # noqa: F811
    provider_env,
    tmp_path_factory,
    runtime_wheelhouse,
) -> Path:
    """A fresh venv with both wheels (made from the session's builds) installed by pip."""
    for name in PACKAGES:
        collection_modules(name)
    return venv_with_wheels(
        tmp_path_factory.mktemp("rust-wheels"),
        list(PACKAGES),
        provider_env("wasix"),
        runtime_wheelhouse,
    )


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(cwd),
        "WASIX_RUNTIME": "sdk",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_sd_edits_files_named_relative_to_where_it_starts(bin_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("hello world\n")
    (tmp_path / "a" / "g.txt").write_text("top hello\n")
    res = _run(bin_dir, tmp_path / "a" / "b", "sd", "hello", "bye", "f.txt", "../g.txt")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "a" / "b" / "f.txt").read_text() == "bye world\n"
    assert (tmp_path / "a" / "g.txt").read_text() == "top bye\n"
    missing = _run(bin_dir, tmp_path / "a", "sd", "x", "y", "nosuch.txt")
    assert "Error processing nosuch.txt: No such file or directory" in missing.stderr


def test_ripgrep_searches_the_directory_it_starts_in(bin_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "w" / "d").mkdir(parents=True)
    (tmp_path / "w" / "one.txt").write_text("needle one\n")
    (tmp_path / "w" / "d" / "two.txt").write_text("hay\nneedle two\n")
    (tmp_path / "elsewhere.txt").write_text("needle outside\n")
    # No path: rg lists and searches its working directory (nothing names it on the command line).
    files = _run(bin_dir, tmp_path / "w", "rg", "--files", "--sort", "path")
    assert files.returncode == 0, files.stderr
    assert files.stdout.splitlines() == ["d/two.txt", "one.txt"]
    found = _run(
        bin_dir,
        tmp_path / "w" / "d",
        "rg",
        "--color=never",
        "-n",
        "--sort",
        "path",
        "needle",
        "two.txt",
        "../one.txt",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == [
        "two.txt:2:needle two",
        "../one.txt:1:needle one",
    ]  # --sort: in the given order


def test_ripgrep_writes_no_colours_into_a_pipe(bin_dir: Path, tmp_path: Path) -> None:
    """rg's default ``--color=auto`` colours nothing written into a pipe, as natively."""
    (tmp_path / "in.txt").write_text("a needle here\n")
    res = _run(bin_dir, tmp_path, "rg", "needle", "in.txt")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "a needle here\n"
