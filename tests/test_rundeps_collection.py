"""Programs find the programs they run (issue 39), with the collection's real packages.

From wheels installed into a fresh venv (Debian's python3, ``pip install`` with no index): tar
compresses and extracts through gzip and xz, gawk's ``system()`` and ``print | cmd`` run a
shell and its ``cmd | getline`` reads one, ``find -exec echo``, ``xargs`` without a command,
make recipes calling echo and grep, and a git ``!`` alias: each compared with the native
program on the same files. Then the same through ``wasix-build wasmer`` package directories
under wasmer-sdk (``runtime.run`` loads the dependency packages written beside them).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import venv_with_wheels

from wasix_backend.cli import main
from wasix_backend.runtime import GUEST_CWD, run

pytestmark = pytest.mark.collection

PROGRAMS = ["tar", "gawk", "findutils", "make", "git"]
FILES = {"d/a.txt": "alpha\nbeta\n", "d/e/b.txt": "gamma\n"}
MAKEFILE = "all: out.txt\n\techo plain\n\t@grep -c a out.txt\n\t@echo \"lines: $$(grep -c . out.txt)\"\nout.txt: d/a.txt\n\tgrep a d/a.txt > $@\n"
GIT_HOME = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x"}  # fmt: skip

#: (name, command, args, stdin, files compared afterwards): one after another in one directory.
SCRIPT: list[tuple[str, str, list[str], bytes | None, list[str]]] = [
    ("tar -czf", "tar", ["--sort=name", "-czf", "x.tgz", "d"], None, []),
    ("tar -xzf", "tar", ["--one-top-level=z", "-xzvf", "x.tgz"], None, ["z/d/a.txt", "z/d/e/b.txt"]),
    ("tar -cJf", "tar", ["--sort=name", "-cJf", "x.tar.xz", "d"], None, []),
    ("tar -xJf", "tar", ["--one-top-level=j", "-xJvf", "x.tar.xz"], None, ["j/d/a.txt", "j/d/e/b.txt"]),
    ("gawk system()", "gawk", ['BEGIN { r = system("echo from-sh; exit 3"); print "status", r }'], None, []),
    ("gawk | cmd", "gawk", ['BEGIN { print "x" | "read l; echo got $l"; close("read l; echo got $l"); print "after" }'], None, []),
    ("gawk cmd | getline", "gawk", ['BEGIN { while (("echo a; echo b" | getline l) > 0) print "got", l; print close("echo a; echo b") }'],
     None, []),
    ("find -exec echo", "find", ["d/e", "-name", "*.txt", "-exec", "echo", "{}", ";"], None, []),
    ("xargs", "xargs", [], b"one two\nthree\n", []),
    ("make", "make", ["-s"], None, ["out.txt"]),
    ("git init", "git", ["init", "-q", "repo"], None, []),
    ("git ! alias", "git", ["-C", "repo", "-c", "alias.hi=!echo hi from sh; exit 2", "hi"], None, []),
]


def _tree(root: Path) -> None:
    for rel, text in {**FILES, "Makefile": MAKEFILE}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C", "HOME": "/nonexistent", **GIT_HOME}


def _results(where: Path, command_path) -> list[tuple[str, int, bytes, dict[str, bytes | None]]]:
    out = []
    for name, command, args, stdin, compared in SCRIPT:
        done = subprocess.run([command_path(command), *args], cwd=where, input=stdin or b"", capture_output=True,
                              env=_env(), timeout=300)  # fmt: skip
        files = {f: (where / f).read_bytes() if (where / f).is_file() else None for f in compared}
        out.append((name, done.returncode, done.stdout, files))
    return out


@pytest.fixture(scope="module")
def wheels_bin(tmp_path_factory, provider_env, runtime_wheelhouse) -> Path:
    # wasix-build wheel writes the wheels of the packages these run too (gzip, xz-utils, bash …).
    return venv_with_wheels(tmp_path_factory.mktemp("rundeps-wheels"), PROGRAMS, provider_env("wasix"), runtime_wheelhouse)


def test_installed_wheels_run_the_programs_of_their_dependencies_as_natively(wheels_bin: Path, tmp_path: Path) -> None:
    native, wasix = tmp_path / "native", tmp_path / "wasix"
    _tree(native)
    _tree(wasix)
    expected = _results(native, lambda c: shutil.which(c) or c)
    got = _results(wasix, lambda c: str(wheels_bin / c))
    for want, have in zip(expected, got, strict=True):
        assert have == want, f"{want[0]}: wheel {have[1:]!r} != native {want[1:]!r}"
    assert b"from-sh" in expected[4][2] and b"hi from sh" in expected[-1][2]  # the cases did run a shell


def test_a_failed_compression_leaves_no_empty_archive(wheels_bin: Path, tmp_path: Path) -> None:
    _tree(tmp_path)
    done = subprocess.run([str(wheels_bin / "tar"), "-I", "no-such-compressor", "-cf", "x.tar.zz", "d"], cwd=tmp_path,
                          capture_output=True, env=_env(), timeout=300)  # fmt: skip
    assert done.returncode != 0 and b"no-such-compressor" in done.stderr
    assert not (tmp_path / "x.tar.zz").exists()


def test_wasmer_packages_bring_their_dependencies_under_wasmer_sdk(provider_env, tmp_path: Path) -> None:
    mp = pytest.MonkeyPatch()
    for key, value in provider_env("wasix").items():
        mp.setenv(key, value)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["wasmer", *PROGRAMS, "--out", str(tmp_path / "dist"), "--no-webc"]) == 0
    finally:
        mp.undo()
    pkgs = tmp_path / "dist" / "pkg"
    assert {"gzip", "xz-utils", "bzip2", "bash", "grep"} <= {p.name for p in pkgs.iterdir()}
    native = tmp_path / "native"
    _tree(native)
    expected = {name: (status, out) for name, status, out, _ in _results(native, lambda c: shutil.which(c) or c)}
    files = {f"{GUEST_CWD}/{rel}": text for rel, text in {**FILES, "Makefile": MAKEFILE}.items()}
    package_of = {"tar": "tar", "gawk": "gawk", "find": "findutils", "xargs": "findutils", "make": "make"}
    for name, command, args, stdin, _ in SCRIPT:
        if command not in package_of or name.startswith("tar -x"):
            continue  # extraction needs the archive of the step before: below
        result = run(pkgs / package_of[command], args, command=command, stdin=stdin or b"", files=files,
                     env={"LC_ALL": "C", "WASIX_HOST_TTYS": "-"})  # fmt: skip
        assert (result.exit_code, result.stdout) == expected[name], f"{name}: {result.stderr!r}"
    archive = (native / "x.tar.xz").read_bytes()
    result = run(pkgs / "tar", ["-xJvf", "x.tar.xz"], command="tar", files={f"{GUEST_CWD}/x.tar.xz": archive},
                 env={"WASIX_HOST_TTYS": "-"}, read_back=[f"{GUEST_CWD}/d/a.txt"])  # fmt: skip
    assert (result.exit_code, result.files) == (0, {f"{GUEST_CWD}/d/a.txt": FILES["d/a.txt"].encode()}), result.stderr
