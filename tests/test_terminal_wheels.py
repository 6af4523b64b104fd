"""Interactive programs through installed wheels, in a real terminal (tmux), as a user runs them:
line-based programs get the terminal's normal line discipline (echo, Enter, ^D at the start of a
line), readline and nano switch it as they ask, and after each run the terminal's ``stty -a``
is what it was before.

bc, lua, sqlite3, bash and vim come from the session's collection builds (wasix provider) installed
into a fresh venv by pip; nano is test_nano_wheel's (from a built index).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import venv_with_wheels
from test_collection import collection_modules  # noqa: F401  (the session's builds)
from test_nano_wheel import Tmux, nano_venv, wait_status  # noqa: F401  (nano_venv: fixture)

pytestmark = [
    pytest.mark.collection,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is needed to drive programs in a terminal"),
]

PACKAGES = ("bc", "lua5.4", "sqlite3", "bash", "vim")
#: The first run of a module compiles it (a "preparing" line, then the program).
FIRST_RUN = 600


@pytest.fixture(scope="module")
def bin_dir(collection_modules: Callable[[str], dict[str, Path]], provider_env, tmp_path_factory, runtime_wheelhouse) -> Path:  # noqa: F811
    for name in PACKAGES:
        collection_modules(name)
    return venv_with_wheels(tmp_path_factory.mktemp("term-wheels"), list(PACKAGES), provider_env("wasix"), runtime_wheelhouse)


@pytest.fixture(scope="module")
def wheels_cache(tmp_path_factory) -> Path:
    """One compiled-module cache for the module's runs: each program is prepared once."""
    return tmp_path_factory.mktemp("term-cache")


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.stop()


class Run:
    """``command`` in a new tmux session (100 by 30) of its own, between two ``stty -a``."""

    def __init__(self, tmux: Tmux, bin_dir: Path, cache: Path, work: Path, command: str) -> None:
        self.tmux, self.dir = tmux, work.parent
        env = (f"PATH={bin_dir}:/usr/bin:/bin HOME={work} WASIX_RUNTIME=sdk WASIX_WHEELS_CACHE={cache} "
               "TERM=xterm-256color LANG=C.UTF-8")  # fmt: skip
        d = self.dir
        script = (f"stty -a > {d}/stty.before; stty -g >> {d}/stty.before; env {env} {command}; "
                  f"echo $? > {d}/status; stty -a > {d}/stty.after; stty -g >> {d}/stty.after; sleep 600")  # fmt: skip
        # bash, not sh: at ^C it waits for the program and goes on when it exits (dash ends).
        (d / "run.sh").write_text(script + "\n")
        tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "-c", str(work), f"bash {d}/run.sh")

    def type(self, text: str) -> None:
        self.tmux.keys(text, literal=True)

    def finish(self) -> int:
        """The program's exit status, once the terminal's modes after it are recorded."""
        status = wait_status(self.dir / "status", timeout=120)
        deadline = time.monotonic() + 30
        while ":" not in ((self.dir / "stty.after").read_text() if (self.dir / "stty.after").is_file() else ""):
            assert time.monotonic() < deadline, "stty -a after the program never ran"
            time.sleep(0.2)
        time.sleep(0.2)  # stty's output is complete once it exits; the file may lag a moment
        return status

    def ended(self, status: int) -> None:
        """The program ended with ``status`` and left the terminal's modes as they were."""
        assert self.finish() == status, self.tmux.screen()
        before, after = self.modes()
        assert after == before

    def modes(self) -> tuple[list[str], list[str]]:
        """``stty -a`` and ``stty -g`` before and after the program, as lists of settings
        (``stty -a`` wraps its lines at the window's width)."""
        return tuple(sorted((self.dir / f"stty.{when}").read_text().replace(";", " ").split())
                     for when in ("before", "after"))  # type: ignore[return-value]


@pytest.fixture
def start(tmux, bin_dir, wheels_cache, tmp_path) -> Callable[[str], Run]:
    work = tmp_path / "work"
    work.mkdir()
    return lambda command: Run(tmux, bin_dir, wheels_cache, work, command)


def lines_starting(screen: str, text: str) -> list[str]:
    """The screen's lines containing ``text``: a staircase shows as text not at column 0."""
    return [line for line in screen.splitlines() if text in line]


def test_bc_computes_what_is_typed_and_quits_on_ctrl_d(start, tmux):
    run = start("bc -q")
    time.sleep(1)
    run.type("6*7")
    tmux.wait_for("6*7", timeout=FIRST_RUN)  # the terminal echoes what is typed
    tmux.keys("Enter")
    tmux.wait_for("42")
    run.type("2^10")
    tmux.keys("Enter")
    screen = tmux.wait_for("1024")
    assert "illegal character" not in screen and "^M" not in screen
    assert screen.splitlines()[:4] == ["6*7", "42", "2^10", "1024"]  # each at column 0
    tmux.keys("C-d")  # at the start of a line: the end of input
    run.ended(0)


def test_bc_stopped_by_ctrl_c_leaves_the_terminal_as_it_was(start, tmux):
    run = start("bc -q")
    time.sleep(1)
    run.type("while (1) { }")
    tmux.wait_for("while (1) { }", timeout=FIRST_RUN)
    tmux.keys("Enter")
    time.sleep(1)
    tmux.keys("C-c")  # SIGINT: the sandbox takes no signals, so the launcher stops the program
    run.ended(130)
    # a loop that makes no system call cannot be stopped in the sandbox: the launcher leaves it
    assert "did not stop" in tmux.screen()


def test_lua_prints_and_exits_on_ctrl_d(start, tmux):
    run = start("lua")
    tmux.wait_for("\n>", timeout=FIRST_RUN)
    run.type("print(6*7)")
    tmux.keys("Enter")
    screen = tmux.wait_for("\n42")
    assert lines_starting(screen, "print(6*7)")[0].startswith("> print(6*7)")
    assert "42" in screen.splitlines()
    tmux.keys("C-d")
    run.ended(0)


def test_lua_edits_a_line_and_recalls_history_with_readline(start, tmux):
    """lua's interactive mode reads lines with the readline recipe: keys move the cursor and
    edit the line before Enter, the arrow keys' escape sequences arrive whole, Up recalls."""
    run = start("lua")
    tmux.wait_for("\n>", timeout=FIRST_RUN)
    run.type("6*7")
    tmux.wait_for("> 6*7")
    tmux.keys("C-a")  # to the start of the line: inserting there, then the end again
    run.type("print(")
    tmux.keys("C-e")
    run.type("+1)")
    tmux.keys("Left", "Left", "BSpace")  # arrow keys, then delete the "+" before the cursor…
    run.type("-")  # …and type "-" instead: print(6*7-1)
    tmux.keys("Enter")
    screen = tmux.wait_for("\n41")
    assert lines_starting(screen, "print(")[0].startswith("> print(6*7-1)"), screen
    tmux.keys("Up")  # the history: the same line again
    tmux.wait_for("> print(6*7-1)\n41\n> print(6*7-1)")
    tmux.keys("C-u")  # kill it and run another
    run.type("print(#'readline')")
    tmux.keys("Enter")
    screen = tmux.wait_for("\n8")
    assert screen.splitlines().count("41") == 1 and "8" in screen.splitlines(), screen
    tmux.keys("C-d")
    run.ended(0)


def test_sqlite3_banner_lines_start_at_column_0_and_a_query_is_answered(start, tmux):
    run = start("sqlite3")
    screen = tmux.wait_for("sqlite>", timeout=FIRST_RUN)
    for text in ("SQLite version 3.40.1", 'Enter ".help" for usage hints.', "Connected to a transient in-memory database."):
        assert [line for line in lines_starting(screen, text) if line.startswith(text)], screen
    run.type("select 6*7; ")  # not ending in ";", which tmux takes for a command separator
    tmux.keys("Enter")
    screen = tmux.wait_for("\n42")
    assert "sqlite> select 6*7;" in screen.splitlines()
    tmux.keys("C-d")
    run.ended(0)


def test_bash_echoes_a_typed_command_runs_it_and_exits(start, tmux):
    run = start("bash -i")
    tmux.wait_for("bash-5.2", timeout=FIRST_RUN)
    run.type("echo hello from bash")
    screen = tmux.wait_for("echo hello from bash")  # readline echoes what is typed
    tmux.keys("Enter")
    screen = tmux.wait_for("\nhello from bash")
    assert "hello from bash" in screen.splitlines()  # the output at column 0
    assert screen.splitlines()[-1].startswith("bash-5.2") or "bash-5.2" in screen.split("hello from bash")[-1]
    run.type("exit")
    tmux.keys("Enter")
    run.ended(0)


def test_nano_still_edits_and_saves_and_leaves_the_terminal_as_it_was(nano_venv, tmux, wheels_cache, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    work.mkdir()
    run = Run(tmux, nano_venv / "bin", wheels_cache, work, "nano notes.txt")
    tmux.wait_for("New File", timeout=FIRST_RUN)
    run.type("typed in nano")
    tmux.keys("C-o")
    tmux.wait_for("File Name to Write")
    tmux.keys("Enter")
    tmux.wait_for("Wrote 1 line")
    tmux.keys("C-x")
    run.ended(0)
    assert (work / "notes.txt").read_text() == "typed in nano\n"


def test_vim_inserts_text_writes_with_wq_and_leaves_the_terminal_as_it_was(start, tmux):
    run = start("vim notes.txt")
    tmux.wait_for('"notes.txt"', timeout=FIRST_RUN)  # the message line names the new file
    tmux.keys("i")
    run.type("typed in vim")
    tmux.keys("Enter")
    run.type("second line")
    screen = tmux.wait_for("second line")
    assert screen.splitlines()[:2] == ["typed in vim", "second line"]  # drawn at column 0
    tmux.keys("Escape")
    run.type(":wq")
    tmux.wait_for(":wq")
    tmux.keys("Enter")
    run.ended(0)
    assert (run.dir / "work" / "notes.txt").read_text() == "typed in vim\nsecond line\n"
    assert not (run.dir / "work" / ".notes.txt.swp").exists()  # the swap file is gone with vim
