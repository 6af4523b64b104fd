"""The no-op fast path: a repeated build with nothing changed replays its answer from a stamp,
and anything that could change the answer takes the normal path again (issue 15, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_tarball, package_recipe, write_plugin
from httpserver import serve

pytestmark = pytest.mark.build  # builds a (tiny) real package

MAKEFILE = "tiny: tiny.c\n\t$(CC) -O2 tiny.c -o tiny\n"
SOURCE = '#include <stdio.h>\nint main(void) { puts("tiny " WORD); return 0; }\n'
#: Imported on every normal run (plugins are loaded); never on a replay.
PLUGIN = """\
import os
with open(os.environ["LOADS"], "a") as f:
    f.write("x")
"""


@pytest.fixture
def tiny(tmp_path: Path):
    sha = make_tarball(tmp_path / "up" / "tiny-1.0.tar.gz", "tiny", {"Makefile": MAKEFILE, "tiny.c": SOURCE})
    with serve(tmp_path / "up") as srv:
        plugin = write_plugin(tmp_path / "plugins", "tiny", package_recipe("tiny", srv.url_for("tiny-1.0.tar.gz"), sha),
                              plugin_py=PLUGIN)  # fmt: skip
        env = {**os.environ, "WASIX_CACHE": str(tmp_path / "cache"), "WASIX_STORE": str(tmp_path / "store"),
               "LOADS": str(tmp_path / "loads"), "WASIXCC_COMPILER_FLAGS": "-DWORD='\"one\"'"}  # fmt: skip
        env.pop("WASIX_NO_FAST_PATH", None)
        (tmp_path / "loads").write_text("")

        def wb(*args: str, **extra: str) -> tuple[int, str, str, int]:
            """Status, stdout, stderr and how many times plugins were loaded."""
            before = len((tmp_path / "loads").read_text())
            proc = subprocess.run([sys.executable, "-m", "wasix_backend", *args, "--plugin-dir", str(tmp_path / "plugins"),
                                   "--out", str(tmp_path / "dist")], env={**env, **extra}, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=600)  # fmt: skip
            return proc.returncode, proc.stdout, proc.stderr, len((tmp_path / "loads").read_text()) - before

        yield wb, plugin, tmp_path / "dist" / "bin" / "tiny.wasm"


def test_a_repeated_no_op_build_is_replayed_without_loading_plugins(tiny) -> None:
    wb, _, wasm = tiny
    assert wb("build", "tiny")[0] == 0  # built: no stamp (it was not a no-op)
    status, out, err, loads = wb("build", "tiny", "--json")
    assert (status, loads) == (0, 1) and '"cached": true' in out
    assert wb("build", "tiny", "--json") == (0, out, err, 0)  # the same answer, no plugin loaded
    assert wasm.is_file()


def test_anything_that_could_change_the_answer_takes_the_normal_path(tiny) -> None:
    from wasix_backend.runtime import run

    wb, plugin, wasm = tiny
    wb("build", "tiny")
    wb("build", "tiny")
    assert wb("build", "tiny")[3] == 0
    # An output removed by hand is written again.
    wasm.unlink()
    assert wb("build", "tiny")[3] == 1 and wasm.is_file()
    wb("build", "tiny")
    # A setting in the environment: a new key, a new module.
    status, _, _, loads = wb("build", "tiny", WASIXCC_COMPILER_FLAGS="-DWORD='\"two\"'")
    assert (status, loads) == (0, 1) and run(wasm).text == "tiny two\n"
    # A plugin file edited.
    recipe = plugin / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("test package tiny", "the tiny test package"))
    assert wb("build", "tiny")[3] == 1 and run(wasm).text == "tiny one\n"
    wb("build", "tiny")
    assert wb("build", "tiny")[3] == 0
    # The store entry removed: rebuilt, not replayed.
    import shutil

    for entry in (wasm.parents[2] / "store").glob("*-tiny-1.0"):
        shutil.rmtree(entry)
    status, _, err, loads = wb("build", "tiny")
    assert (status, loads) == (0, 1) and "built" in err
    # Turned off.
    wb("build", "tiny")
    assert wb("build", "tiny", WASIX_NO_FAST_PATH="1")[3] == 1


def test_a_failed_build_leaves_no_stamp(tiny) -> None:
    wb, plugin, _ = tiny
    assert wb("build", "tiny")[0] == 0
    (plugin / "recipe.toml").write_text((plugin / "recipe.toml").read_text().replace('bin = ["tiny"]', 'bin = ["nope"]'))
    for _ in range(2):
        status, _, _, loads = wb("build", "tiny")
        assert status != 0 and loads == 1


# ------------------------------------------------- issue 37, item 17: edits during a run ---

#: Declares its recipe, and then, once (when $EDIT_FLAG does not exist yet), edits it on disk:
#: the user's editor saving right after the tool read the file. The edit gives the build an
#: environment variable, so the package's key changes.
EDITING_PLUGIN = """\
import os
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).parent


@hookimpl
def wasix_recipes():
    recipe = load_recipe(HERE / "recipe.toml")
    flag = os.environ.get("EDIT_FLAG")
    if flag and not os.path.exists(flag):
        open(flag, "w").close()
        path = HERE / "recipe.toml"
        path.write_text(path.read_text().replace('system = "make"', 'system = "make"\\nenv = { EDITED = "1" }'))
    with open(os.environ["LOADS"], "a") as f:
        f.write("x")
    return [recipe]
"""


def test_a_plugin_file_edited_while_a_no_op_build_runs_is_not_stamped(tiny, tmp_path: Path) -> None:
    wb, plugin, _ = tiny
    (plugin / "plugin.py").write_text(EDITING_PLUGIN)
    assert wb("build", "tiny")[0] == 0  # built
    flag = str(tmp_path / "edited")
    status, _, err, loads = wb("build", "tiny", EDIT_FLAG=flag)  # read the old recipe, then it was edited
    assert (status, loads) == (0, 1) and "EDITED" in (plugin / "recipe.toml").read_text(), err
    # The recipe on disk now asks for another build: the answer of the run above is stale.
    status, _, err, loads = wb("build", "tiny", EDIT_FLAG=flag)
    assert (status, loads) == (0, 1), "the stale answer was replayed"
    assert "built" in err
