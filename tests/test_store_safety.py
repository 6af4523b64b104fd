"""Store commands that delete or write, against directories that are not stores and stores
builds are running in (issue 37, items 13-16): ``gc`` during a build, ``gc --store /``,
``clean --store-too --store DIR``, ``-C store=/``, ``-j 99999999999``, ``dask://garbage``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_tarball, package_recipe, write_plugin
from httpserver import serve

from wasix_backend import pep517
from wasix_backend.cli import main
from wasix_backend.errors import WasixError
from wasix_backend.gc import find_garbage
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.store import RECORD, Store

MARKER = ".wasix-store"

PY = [sys.executable, "-m", "wasix_backend"]


def _entry(store: Store, name: str, key: str, toolchain: str | None = "wasix 1", age: float = 0.0) -> Path:
    """A finished entry (no compiler: a file and a record), its record ``age`` seconds old."""
    recipe = recipe_from_dict({"package": {"name": name, "version": "1.0", "kind": "library"}}, plugin="t")
    stage = store.root.parent / f"stage-{key[:8]}"
    (stage / "lib").mkdir(parents=True, exist_ok=True)
    (stage / "lib" / "x.a").write_text(key)
    entry = store.commit(stage, recipe, key, {"key_inputs": {"toolchain": toolchain}} if toolchain else {})
    entry_record = entry / RECORD
    os.utime(entry_record, (time.time() - age, time.time() - age))
    return entry


# ------------------------------------------------------- 13: gc and what builds use ---


def test_gc_roots_the_newest_toolchain_entry_of_each_llvm(tmp_path):
    store = Store(tmp_path / "store")
    store.root.mkdir()
    old = _entry(store, "wasix-libc", "1" * 64, "host-llvm clang 19", age=100)
    new = _entry(store, "wasix-libc", "2" * 64, "host-llvm clang 19", age=10)
    other_llvm = _entry(store, "wasix-libc", "3" * 64, "host-llvm clang 22", age=50)
    program = _entry(store, "solo", "4" * 64)
    gone = {g.path for g in find_garbage(store, None, keep=0)}
    assert new not in gone and other_llvm not in gone  # what builds of either LLVM compile against
    assert old in gone and program in gone


def test_gc_while_a_build_holds_the_store_removes_only_what_is_dead(tmp_path):
    store = Store(tmp_path / "store")
    store.root.mkdir()
    entry = _entry(store, "solo", "5" * 64)
    pull = store.root / "tmp" / f"{'6' * 32}-pull-abc"  # a pull in progress: no pid in its name
    pull.mkdir(parents=True)
    (store.root / "quarantine" / "x").mkdir(parents=True)
    with store.in_use():
        with store.exclusive() as free:
            assert not free
        gone = {g.path for g in find_garbage(store, None, keep=0, busy=True)}
    assert gone == {store.root / "quarantine" / "x"}
    with store.exclusive() as free:
        assert free
        gone = {g.path for g in find_garbage(store, None, keep=0, busy=not free)}
    assert {entry, pull} <= gone


SLOW_C = '#include <stdio.h>\n#include <string.h>\nint main(void) { puts(strchr("slow!", 0) - 4); return 0; }\n'


@pytest.mark.build
def test_gc_keep_0_during_a_build_keeps_the_sysroot_it_compiles_against(tmp_path):
    """A real build against the wasix-libc sysroot in its store, ``gc --keep 0`` run while it
    compiles: the build succeeds, and an idle ``gc --keep 0`` keeps the sysroot too."""
    from conftest import provider_problem, real_sysroot

    if provider_problem("wasix"):
        pytest.skip(reason=f"needs the wasix provider: {provider_problem('wasix')}")
    sysroot = real_sysroot()
    store = tmp_path / "store"
    store.mkdir()
    shutil.copytree(sysroot, store / sysroot.name, symlinks=True)  # the store's own sysroot
    started = tmp_path / "started"
    makefile = f"slow: slow.c\n\ttouch {started}\n\tsleep 6\n\t$(CC) $(CFLAGS) -o slow slow.c\n"
    sha = make_tarball(tmp_path / "up" / "slow-1.0.tar.gz", "slow-1.0", {"slow.c": SLOW_C, "Makefile": makefile})
    env = {k: v for k, v in os.environ.items() if k not in ("WASIXCC_SYSROOT", "WASIX_NO_FAST_PATH")}
    env.update(WASIX_STORE=str(store), WASIX_PROVIDER="wasix", WASIX_NO_FAST_PATH="1")
    with serve(tmp_path / "up") as srv:
        write_plugin(tmp_path / "plugins", "slow", package_recipe("slow", srv.url_for("slow-1.0.tar.gz"), sha))
        wb = [*PY, "--plugin-dir", str(tmp_path / "plugins")]
        build = subprocess.Popen([*wb, "build", "slow", "--out", str(tmp_path / "dist")], env=env, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 300
        while not started.exists() and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), build.communicate()[1]
        gc = subprocess.run([*wb, "gc", "--keep", "0"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        _out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err + gc.stdout
    assert (store / sysroot.name).is_dir()
    assert gc.returncode == 0, gc.stderr
    assert "a build is running" in gc.stderr and str(sysroot.name) not in gc.stdout
    idle = subprocess.run([*wb, "gc", "--keep", "0"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert idle.returncode == 0, idle.stderr
    assert (store / sysroot.name).is_dir(), idle.stdout  # a toolchain entry: kept
    assert "a build is running" not in idle.stderr


# ------------------------------------------------- 14: only stores, only their entries ---


def test_gc_refuses_a_directory_that_is_not_a_store(capsys):
    assert main(["gc", "--store", "/", "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "/ is not a wasix-backend store" in err


def test_clean_refuses_a_directory_that_is_not_a_store(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / ("a" * 32 + "-x-1")).mkdir()  # looks like an entry: still not a store
    assert main(["clean", "--out", str(tmp_path / "dist"), "--store-too", "--store", str(mine)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "is not a wasix-backend store" in err and "thesis.tex" in err
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_clean_removes_store_items_only_and_keeps_the_directory(tmp_path, capsys):
    store = Store(tmp_path / "store")
    store.root.mkdir()
    entry = _entry(store, "solo", "7" * 64)
    (store.root / "logs" / "x").mkdir(parents=True)
    store.mark()
    (store.root / "README.txt").write_text("a note the user keeps next to the store")
    assert main(["clean", "--out", str(tmp_path / "dist"), "--store-too", "--store", str(store.root)]) == 0
    assert "removed 1 store entries" in capsys.readouterr().err
    assert sorted(p.name for p in store.root.iterdir()) == [MARKER, "README.txt"] and not entry.exists()


def test_a_store_made_before_the_marker_is_recognised_and_kept_working(tmp_path):
    store = Store(tmp_path / "store")
    store.root.mkdir()
    entry = _entry(store, "solo", "8" * 64, toolchain=None)
    (store.root / "locks").mkdir()
    (store.root / "check-abc").mkdir()
    assert not (store.root / MARKER).exists()
    assert store.problem() is None
    store.mark()
    assert (store.root / MARKER).is_file()
    assert Store(store.root).lookup(recipe_from_dict({"package": {"name": "solo", "version": "1.0", "kind": "library"}},
                                                     plugin="t"), "8" * 64) == entry  # fmt: skip
    assert Store(store.root).remove_entries() == 1 and store.root.is_dir()


def test_a_build_refuses_a_store_directory_that_is_not_one(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert main(["build", "nano", "--store", str(mine), "--out", str(tmp_path / "dist")]) == 1
    assert "is not a wasix-backend store" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_store_writes_refuse_a_directory_that_is_not_one(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WasixError, match="not a wasix-backend store"):
        Store(tmp_path).lock("9" * 64)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


# ------------------------------------------------------------- 15: PEP 517 and jobs ---


def test_pep517_refuses_a_store_that_is_not_one_and_huge_job_counts(tmp_path):
    with pytest.raises(WasixError, match="/ is not a wasix-backend store"):
        pep517._settings({"store": "/"})
    for jobs in ("99999999999", "0", "-1", "lots"):
        with pytest.raises(WasixError, match="from 1 to 1024"):
            pep517._settings({"jobs": jobs})
    assert pep517._settings({"jobs": "8", "store": str(tmp_path / "new")}) == {"jobs": "8", "store": str(tmp_path / "new")}


def test_build_refuses_a_huge_job_count(capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["build", "nano", "-j", "99999999999", "--store", str(tmp_path / "s")])
    assert done.value.code == 2
    assert "a number of parallel builds from 1 to 1024, got '99999999999'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_the_engine_bounds_jobs_for_callers_of_its_api(tmp_path):
    from wasix_backend.engine import MAX_JOBS, Engine

    engine = Engine(None, Store(tmp_path), None, jobs=99999999999)  # type: ignore[arg-type]
    assert engine.jobs == MAX_JOBS


# ------------------------------------------------------------ 16: Dask addresses ---


@pytest.mark.parametrize("address", ["dask://garbage", "dask://[::1", "dask://%00", "dask://", "dask://h:99999",
                                     "dask://a b:1", "dask://h:1/x", "dask://\x00:1"])  # fmt: skip
def test_a_malformed_dask_address_is_one_clear_error(address, tmp_path, capsys, monkeypatch):
    secret = tmp_path / "k.secret"
    from wasix_backend.substitute.keys import generate_key

    generate_key("k", secret, tmp_path / "k.public")
    monkeypatch.setenv("WASIX_SIGNING_KEY", str(secret))
    status = main(["build", "nano", "--executor", address, "--substituter", (tmp_path / "cache").as_uri(),
                   "--store", str(tmp_path / "store"), "--out", str(tmp_path / "dist")])  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    assert "expected dask://HOST:PORT" in err and "Traceback" not in err


def test_well_formed_dask_addresses():
    from wasix_backend.executors.dask import scheduler_address

    assert scheduler_address("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert scheduler_address("dask://sched.example:8786") == "tcp://sched.example:8786"
    assert scheduler_address("dask://[::1]:8786") == "tcp://[::1]:8786"


def test_store_records_keep_their_key_inputs(tmp_path):
    """The record written by commit still carries what the key was made of (store.py's newest use)."""
    store = Store(tmp_path / "s")
    store.root.mkdir()
    entry = _entry(store, "solo", "a" * 64, "host-llvm x")
    assert json.loads((entry / RECORD).read_text())["key_inputs"] == {"toolchain": "host-llvm x"}


def test_a_command_lets_go_of_its_store_when_it_ends(tmp_path, capsys):
    """In-process callers run several commands: a build's hold on the store ends with it."""
    store = tmp_path / "store"
    main(["build", "nano", "--store", str(store), "--out", str(tmp_path / "dist")])  # fails (unit tier): no matter
    capsys.readouterr()
    with Store(store).exclusive() as free:
        assert free
