"""The proof: `pip install wasix-nano` from a built index, nano driven in tmux, nothing lost.

nano and ncurses are built into the provider's test store (conftest.provider_store: once per
machine while their store keys hold).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import time
import venv
from pathlib import Path

import pytest

from wasix_backend.cli import main

pytestmark = [
    pytest.mark.collection,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is needed to drive nano in a terminal"),
]


@pytest.fixture(scope="session")
def nano_venv(tmp_path_factory, runtime_wheelhouse, provider_env) -> Path:
    root = tmp_path_factory.mktemp("nano-wheel")
    mp = pytest.MonkeyPatch()
    for key, value in provider_env("wasix").items():
        mp.setenv(key, value)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["build", "nano", "--out", str(root / "dist")]) == 0
            assert main(["wheel", "nano", "--out", str(root / "dist")]) == 0
            assert main(["index", "--out", str(root / "dist")]) == 0
    finally:
        mp.undo()
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    res = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "--index-url", (root / "dist" / "simple").as_uri(), "--find-links", str(runtime_wheelhouse), "wasix-nano"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return env_dir


class Tmux:
    """One tmux server of our own (its socket in the test's directory), stopped at the end."""

    def __init__(self, tmp: Path) -> None:
        self.sock = str(tmp / "tmux.sock")

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", "t", *(["-l"] if literal else []), *keys)

    def stop(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.stop()


def start(tmux: Tmux, nano_venv: Path, work: Path, *args: str, width: int = 100) -> Path:
    status = work.parent / "status"
    env = f"WASIX_RUNTIME=sdk WASIX_WHEELS_CACHE={work.parent / 'cache'} TERM=xterm-256color"
    cmd = f"env {env} {nano_venv / 'bin' / 'nano'} {' '.join(args)}; echo $? > {status}; sleep 600"
    tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", "30", "-c", str(work), cmd)
    return status


def wait_status(status: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status.exists() and status.read_text().strip():
            return int(status.read_text())
        time.sleep(0.2)
    raise AssertionError("nano did not exit")


def test_save_as_insert_suspend_and_exit_lose_nothing(nano_venv, tmux, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "other.txt").write_text("inserted line\n")  # not named on the command line
    absolute = work / "sub" / "abs.txt"
    (work / "sub").mkdir()
    status = start(tmux, nano_venv, work)
    tmux.wait_for("New Buffer")
    tmux.keys("typed in nano", literal=True)
    tmux.keys("C-o")
    tmux.wait_for("File Name to Write")
    tmux.keys("saveas.txt", literal=True)
    tmux.keys("Enter")
    tmux.wait_for("Wrote 1 line")
    # Save as an absolute path: nano asks about the different name.
    tmux.keys("C-o")
    tmux.wait_for("File Name to Write")
    tmux.keys("C-k")
    tmux.keys(str(absolute), literal=True)
    tmux.keys("Enter")
    tmux.wait_for("DIFFERENT NAME")
    tmux.keys("y")
    tmux.wait_for("Wrote 1 line")
    # Insert a file that was never named.
    tmux.keys("Enter")
    tmux.keys("C-r")
    tmux.wait_for("File to insert")
    tmux.keys("other.txt", literal=True)
    tmux.keys("Enter")
    tmux.wait_for("Read 1 line")
    # Suspend: refused cleanly, nano carries on with the edits.
    tmux.keys("C-t")
    tmux.wait_for("Command to execute")
    tmux.keys("C-z")
    tmux.wait_for("Suspension is not possible here")
    tmux.keys("after suspend", literal=True)
    tmux.wait_for("after suspend")
    tmux.keys("C-o")
    tmux.wait_for("File Name to Write")
    tmux.keys("Enter")
    tmux.wait_for("Wrote 3 lines")
    tmux.keys("C-x")
    assert wait_status(status) == 0, tmux.screen()
    assert (work / "saveas.txt").read_text() == "typed in nano\n"
    assert (work / "sub" / "abs.txt").read_text() == "typed in nano\ninserted line\nafter suspend\n"
    assert (work / "other.txt").read_text() == "inserted line\n"
    assert not (tmp_path / "cache" / "rescue").exists()
    assert "preparing" not in tmux.screen()


def test_an_existing_file_is_not_called_read_only(nano_venv, tmux, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("hello\n")
    status = start(tmux, nano_venv, work, "notes.txt")
    screen = tmux.wait_for("hello")
    time.sleep(1)
    screen = tmux.screen()
    assert "read-only" not in screen and "notes.txt" in screen
    tmux.keys("C-x")
    assert wait_status(status) == 0


def test_a_file_named_by_absolute_path_outside_the_working_directory(nano_venv, tmux):
    # A short path: the sandbox's terminal is 80 columns wide (wasmer-sdk 0.5), and nano
    # shortens a title that does not fit to "...<tail>".
    tmp_path = Path(tempfile.mkdtemp(prefix="nw", dir="/tmp"))
    work, far = tmp_path / "work", tmp_path / "far"
    work.mkdir()
    far.mkdir()
    (far / "f.txt").write_text("far away\n")
    status = start(tmux, nano_venv, work, str(far / "f.txt"), width=250)
    screen = tmux.wait_for("far away")
    assert str(far / "f.txt") in screen.splitlines()[0].split()  # the title: the host's path, as natively
    tmux.keys("edited ", literal=True)
    tmux.keys("C-o")
    tmux.wait_for("File Name to Write")
    tmux.keys("Enter")
    tmux.wait_for("Wrote 1 line")
    tmux.keys("C-x")
    assert wait_status(status) == 0
    assert (far / "f.txt").read_text() == "edited far away\n"
    assert sorted(os.listdir(work)) == []
    shutil.rmtree(tmp_path)
