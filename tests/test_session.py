"""The Session: one command's plugins, store, toolchain, caches and engine, from typed options."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from conftest import write_plugin

from wasix_backend.cli.common import session_options
from wasix_backend.cli.main import make_parser
from wasix_backend.session import Session, SessionOptions, substituters_from_env
from wasix_backend.store import MARKER, NotAStore

RECIPE = """\
[package]
name = "{name}"
version = "1.0"

[[source]]
url = "http://127.0.0.1:9/{name}-1.0.tar.gz"
sha256 = "%s"

[outputs]
bin = ["{name}"]
""" % ("0" * 64)


def test_command_line_options_become_typed_session_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIX_SUBSTITUTERS", "file:///env-cache file:///first")
    args = make_parser(None).parse_args(
        ["--plugin-dir", str(tmp_path / "a"), "build", "nano", "--store", str(tmp_path / "s"), "--provider", "wasix",
         "-j", "3", "--strict", "--keep-going", "--json", "--substituter", "file:///first",
         "--plugin-dir", str(tmp_path / "b")])  # fmt: skip
    options = session_options(args)
    assert options == SessionOptions(
        plugin_dirs=(tmp_path / "a", tmp_path / "b"), store=tmp_path / "s", provider="wasix", jobs=3, keep_going=True, strict=True,
        substituters=("file:///first", "file:///env-cache"), progress=False,
    )  # fmt: skip
    # A sub-command without the build options keeps the defaults.
    listed = session_options(make_parser(None).parse_args(["list"]))
    assert (listed.store, listed.jobs, listed.strict, listed.progress) == (None, None, False, True)


def test_substituters_from_env_keeps_order_and_drops_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIX_SUBSTITUTERS", " file:///b  file:///a ")
    assert substituters_from_env(["file:///a", "file:///c"]) == ("file:///a", "file:///c", "file:///b")
    monkeypatch.delenv("WASIX_SUBSTITUTERS")
    assert substituters_from_env() == ()


def test_plugin_problems_are_reported_once(tmp_path: Path) -> None:
    write_plugin(tmp_path, "good", RECIPE.format(name="good"))
    write_plugin(tmp_path, "broken", RECIPE.format(name="broken"), plugin_py="raise RuntimeError('boom')\n")
    told: list[str] = []
    session = Session(SessionOptions(plugin_dirs=(tmp_path,), entry_points=False), warn=told.append)
    first = session.plugins
    assert session.plugins is first  # loaded once
    assert "good" in first.recipes
    assert len(told) == 1 and "broken" in told[0] and "boom" in told[0]


def test_parts_are_made_on_first_use(tmp_path: Path) -> None:
    """A session whose store is not one fails only when the store is asked for: listing
    recipes never touches it."""
    write_plugin(tmp_path / "plugins", "one", RECIPE.format(name="one"))
    not_a_store = tmp_path / "home"
    not_a_store.mkdir()
    (not_a_store / "notes.txt").write_text("mine\n")
    session = Session(SessionOptions(plugin_dirs=(tmp_path / "plugins",), store=not_a_store, entry_points=False))
    assert "one" in session.plugins.recipes
    with pytest.raises(NotAStore, match=r"notes\.txt"):
        _ = session.store
    assert (not_a_store / "notes.txt").read_text() == "mine\n"
    assert sorted(os.listdir(not_a_store)) == ["notes.txt"]


def test_engine_gets_the_options_and_the_caches(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    options = SessionOptions(store=tmp_path / "store", entry_points=False, jobs=2, strict=True, keep_going=True,
                             substituters=(cache.as_uri(),), progress=False)
    session = Session(options)
    engine = session.engine()
    assert session.engine() is engine
    assert (engine.jobs, engine.strict, engine.keep_going) == (2, True, True)
    assert engine.store is session.store and engine.plugins is session.plugins
    assert engine.toolchain is session.toolchain
    assert engine.substituter is session.substituter
    assert session.substituter is not None and session.substituter.urls == [cache.as_uri()]
    planner = session.engine(substitute=False)  # `show --key`, `push`: plan only
    assert planner is not engine and planner.substituter is None
    assert Session(SessionOptions(store=tmp_path / "store", entry_points=False)).substituter is None


def test_held_store_keeps_gc_out_until_the_session_closes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Session(SessionOptions(store=store, entry_points=False)) as session:
        session.hold_store()
        session.hold_store()  # once is enough
        fd = os.open(store / MARKER, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):  # what gc takes: the exclusive lock
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(store / MARKER, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # closed: gc may run
    finally:
        os.close(fd)
