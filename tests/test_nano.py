"""ncurses and nano, built by the engine from their pinned sources, proven under Wasmer.

The build (about three minutes on two cores, once per test session) goes into a store shared
by the tests in this module; each test then checks one behaviour of the real modules.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import write_plugin

from wasix_backend.cli import main
from wasix_backend.inspect import inspect_module
from wasix_backend.paths import builtin_plugins_dir
from wasix_backend.runtime import run, wasmer_cache_dir
from wasix_backend.toolchain import get_toolchain

pytestmark = pytest.mark.build

CTRL_O, CTRL_X = b"\x0f", b"\x18"


@pytest.fixture
def built(built_nano: dict, provider_env, monkeypatch: pytest.MonkeyPatch) -> dict:
    """nano and ncurses, built once per provider per session (see conftest.built_nano); the
    test runs with that provider and its store."""
    for key, value in provider_env(built_nano["provider"]).items():
        monkeypatch.setenv(key, value)
    return built_nano


def edit(nano: Path, keys: bytes, *, files: dict[str, bytes] | None = None, env: dict[str, str] | None = None):
    return run(
        nano,
        ["/workspace/note.txt"],
        stdin=keys,
        files=files or {},
        env={"HOME": "/workspace", **(env or {})},
        read_back=["/workspace/note.txt"],
        timeout=60,
    )


def test_nano_version(built) -> None:
    result = run(built["nano"], ["--version"])
    assert result.exit_code == 0
    assert "GNU nano, version 7.2" in result.text


@pytest.mark.parametrize("enter", [b"\r", b"\n"], ids=["CR", "LF"])
def test_typing_writing_out_and_exiting_leaves_the_file(built, enter: bytes) -> None:
    # No TERM given: nano falls back to a terminal description built into ncurses.
    result = edit(built["nano"], b"hello wasix" + CTRL_O + enter + CTRL_X)
    assert result.files.get("/workspace/note.txt") == b"hello wasix\n", result.stderr[-400:]


@pytest.mark.parametrize("term", ["tmux-256color", "no-such-terminal"])
def test_any_terminal_name_works(built, term: str) -> None:
    # tmux's own description is built in; an unknown one falls back to xterm-256color.
    result = edit(built["nano"], b"in " + term.encode() + CTRL_O + b"\r" + CTRL_X, env={"TERM": term})
    assert result.files.get("/workspace/note.txt") == b"in " + term.encode() + b"\n", result.stderr[-400:]


def test_editing_an_existing_file_keeps_the_rest(built) -> None:
    original = b"first line\nsecond line\nthird line\n"
    # Down one line, type at its start, save, exit.
    keys = b"\x1b[B" + b"NEW " + CTRL_O + b"\r" + CTRL_X
    result = edit(built["nano"], keys, files={"/workspace/note.txt": original}, env={"TERM": "xterm"})
    assert result.files["/workspace/note.txt"] == b"first line\nNEW second line\nthird line\n"


def test_both_modules_are_wasix(built, tmp_path) -> None:
    assert inspect_module(built["nano"]).verdict == "WASIX"
    assert (built["ncurses"] / "lib" / "libncursesw.a").is_file()
    assert (built["ncurses"] / "lib" / "pkgconfig" / "ncursesw.pc").is_file()


def test_size_is_reported_in_the_build_summary(built) -> None:
    assert built["summary"]["nano"]["sizes"]["nano"] == built["nano"].stat().st_size


NCURSES_PROGRAM = r"""
#include <curses.h>
int main(void) {
    initscr();
    cbreak();
    noecho();
    mvaddstr(4, 9, "hello from ncurses");
    refresh();
    int key = getch();
    mvprintw(5, 9, "key=%d", key);
    refresh();
    endwin();
    return key == 'q' ? 0 : 1;
}
"""


def test_an_ncurses_program_draws_reads_a_key_and_ends_cleanly(built, tmp_path) -> None:
    src = tmp_path / "screen.c"
    src.write_text(NCURSES_PROGRAM)
    tc = get_toolchain(built["provider"])
    env = {**__import__("os").environ, **tc.env()}
    prefix = built["ncurses"]
    subprocess.run(
        [env["CC"], f"-I{prefix}/include/ncursesw", f"-I{prefix}/include", str(src), "-o", str(tmp_path / "screen.wasm"), f"-L{prefix}/lib", "-lncursesw"],
        env=env, check=True,
    )  # fmt: skip
    module = tmp_path / "screen.wasm"
    assert inspect_module(module).verdict == "WASIX"
    result = run(module, [], stdin=b"q", env={"TERM": "xterm"})
    assert result.exit_code == 0, result.stderr
    screen = result.stdout
    assert b"\x1b[?1049h" in screen  # xterm's alternate screen entered (smcup) …
    assert b"\x1b[5;10H" in screen  # … the cursor moved to row 5, column 10 …
    assert b"hello from ncurses" in screen
    assert b"key=113" in screen  # … the key read back …
    assert screen.rstrip().endswith(b"\x1b[?1049l") or b"\x1b[?1049l" in screen[-64:]  # … and left cleanly


def test_a_patch_that_no_longer_applies_names_file_and_hunk(built, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WASIX_STORE", str(built["store"]))
    nano = tmp_path / "plugins" / "nano"
    shutil.copytree(builtin_plugins_dir() / "nano", nano)
    patch = nano / "patches" / "0001-lf-is-enter.patch"
    patch.write_text(patch.read_text().replace("keycode = get_input(frame);", "keycode = get_input(window);"))
    monkeypatch.chdir(tmp_path)
    assert main(["build", "nano", "--plugin-dir", str(nano)]) == 1
    message = capsys.readouterr().err
    assert "nano: patch failed" in message and "0001-lf-is-enter.patch" in message and "Hunk #1 FAILED" in message


def test_a_missing_dependency_is_not_replaced_by_a_host_library(built, tmp_path, monkeypatch, capsys) -> None:
    # An "ncurses" that installs nothing: nano must fail, never find the host's curses.
    from conftest import make_tarball
    from httpserver import serve

    monkeypatch.chdir(tmp_path)
    sha = make_tarball(tmp_path / "up" / "empty-6.4.tar.gz", "empty", {"Makefile": "all:\ninstall:\n"})
    with serve(tmp_path / "up") as srv:
        plugins = tmp_path / "plugins"
        write_plugin(plugins, "ncurses", f"""\
            [package]
            name = "ncurses"
            version = "6.4"
            kind = "library"
            [[source]]
            url = "{srv.url_for('empty-6.4.tar.gz')}"
            sha256 = "{sha}"
            [build]
            system = "make"
            install-args = []
            """)
        shutil.copytree(builtin_plugins_dir() / "nano", plugins / "nano")
        assert main(["build", "nano", "--plugin-dir", str(plugins)]) == 1
    message = capsys.readouterr().err
    assert "nano: configure failed" in message or "nano: compile failed" in message


def test_keys_typed_one_at_a_time_while_nano_runs(built) -> None:
    # A person types while the editor waits: stdin stays open, keys arrive one by one.
    import asyncio

    from wasmer_sdk import Wasmer

    async def session() -> bytes:
        async with Wasmer(cache_root=wasmer_cache_dir()) as wasmer:
            pkg = await wasmer.packages.load(built["nano"].read_bytes())
            env = {"TERM": "xterm-256color", "HOME": "/workspace"}
            async with await wasmer.sandboxes.create(packages=[pkg], files={"/workspace/n.txt": "one\n"}, env=env) as sb:
                proc = await sb.command(pkg, ["/workspace/n.txt"], cwd="/workspace", env=env).spawn(stdin="pipe")
                for key in [b"h", b"i", b" ", CTRL_O, b"\r", CTRL_X]:
                    await asyncio.sleep(0.3)
                    await proc.stdin.write(key)
                out = await asyncio.wait_for(proc.wait(), 30)  # nano exits on ^X with stdin still open
                assert out.exit_code == 0
                return await sb.fs.read("/workspace/n.txt")

    assert asyncio.run(session()) == b"hi one\n"


def test_wasmer_package_webc_wheel_and_index_of_nano(built, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WASIX_STORE", str(built["store"]))
    out = tmp_path / "dist"
    assert main(["wasmer", "nano", "--out", str(out)]) == 0
    assert "GNU nano, version 7.2" in run(out / "pkg" / "nano", ["--version"], command="nano").text
    webc = (out / "nano-7.2.0.webc").read_bytes()  # named by the manifest's SemVer (wasix_backend.versions)
    assert "GNU nano, version 7.2" in run(webc, ["--version"], command="nano").text
    assert main(["wheel", "nano", "--out", str(out)]) == 0
    assert (out / "wheels" / "wasix_nano-7.2-py3-none-any.whl").is_file()
    assert main(["index", "--out", str(out)]) == 0
    assert "wasix_nano-7.2-py3-none-any.whl#sha256=" in (out / "simple" / "wasix-nano" / "index.html").read_text()
    capsys.readouterr()
    assert main(["wheel", "ncurses", "--out", str(out)]) == 1
    assert "ncurses is a library" in capsys.readouterr().err


@pytest.mark.parametrize("provider", ["wasix"], indirect=True)  # the collection's provider
def test_a_store_elsewhere_compiles_the_same_bytes(built, tmp_path, capsys) -> None:
    # Compiled (not pulled) into a store at another path: nothing compiled in names a store,
    # so the modules and ncurses' archives are the session store's byte for byte.
    other = tmp_path / "another" / "store"
    assert main(["build", "nano", "--store", str(other), "--out", str(tmp_path / "dist"), "-j2"]) == 0, capsys.readouterr().err
    nano = (tmp_path / "dist" / "bin" / "nano.wasm").read_bytes()
    assert nano == built["nano"].read_bytes()
    assert b"/etc/nanorc" in nano and b"/usr/share/terminfo" in nano  # where nano and ncurses look, as Debian's
    ncurses = next(other.glob("*-ncurses-6.4"))
    assert ncurses.name == built["ncurses"].name  # one store key wherever the store is
    for rel in ("lib/libncursesw.a", "lib/libpanelw.a", "include/ncursesw/curses.h"):
        data = (ncurses / rel).read_bytes()
        assert data == (built["ncurses"] / rel).read_bytes(), rel
        assert str(other).encode() not in data and str(built["store"]).encode() not in data, rel
