"""The engine end to end, on small C packages the tests write, built for real and run under Wasmer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.cli import main
from wasix_backend.runtime import run

GREET_C = 'const char *greeting(void) { return "hello"; }\n'
GREET_H = "const char *greeting(void);\n"
GREET_MK = """\
libgreet.a: greet.c
\t$(CC) $(CFLAGS) -c greet.c -o greet.o
\t$(AR) rcs libgreet.a greet.o
install: libgreet.a
\tmkdir -p $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
\tcp libgreet.a $(DESTDIR)$(PREFIX)/lib/
\tcp greet.h $(DESTDIR)$(PREFIX)/include/
"""
HELLO_C = """\
#include <stdio.h>
#include <greet.h>
int main(int argc, char **argv) { printf("%s from %s\\n", greeting(), argc > 1 ? argv[1] : "wasm"); return 0; }
"""
HELLO_MK = """\
hello: hello.c
\tif [ -e "$$WASIX_TEST_SLOW.wanted" ]; then touch $(WASIX_TEST_SLOW); sleep 60; fi
\t$(CC) $(CPPFLAGS) $(CFLAGS) -o hello hello.c $(LDFLAGS) -lgreet
"""
GREET_PATCH = """\
Greet in the project's own words (the test changes this patch to force a rebuild).
--- a/greet.c
+++ b/greet.c
@@ -1 +1 @@
-const char *greeting(void) { return "hello"; }
+const char *greeting(void) { return "WORD"; }
"""
# Records every phase hook called, around the defaults: proves all five run, in order.
TRACE_PLUGIN = """\
import os
from wasix_backend import hookimpl

def _trace(ctx, phase):
    with open(os.environ["WASIX_TEST_TRACE"], "a") as fh:
        fh.write(f"{ctx.recipe.name}:{phase}\\n")

@hookimpl(wrapper=True)
def wasix_fetch(ctx):
    _trace(ctx, "fetch"); return (yield)

@hookimpl(wrapper=True)
def wasix_patch(ctx):
    _trace(ctx, "patch"); return (yield)

@hookimpl(wrapper=True)
def wasix_configure(ctx):
    _trace(ctx, "configure"); return (yield)

@hookimpl(wrapper=True)
def wasix_compile(ctx):
    _trace(ctx, "compile"); return (yield)

@hookimpl(wrapper=True)
def wasix_package(ctx):
    _trace(ctx, "package"); return (yield)
"""


def recipe_text(name: str, url: str, sha: str, *, kind: str = "program", deps: str = "", extra: str = "") -> str:
    outputs = f'bin = ["{name}"]' if kind == "program" else 'lib = ["libgreet.a"]\ninclude = ["greet.h"]'
    install = "" if kind == "program" else "install-args = []"
    return textwrap.dedent(f"""\
        [package]
        name = "{name}"
        version = "1.0"
        kind = "{kind}"
        description = "test package {name}"
        license = "MIT"

        [[source]]
        url = "{url}"
        sha256 = "{sha}"

        [dependencies]
        build = [{deps}]

        [build]
        system = "make"
        {install}
        {extra}

        [outputs]
        """) + outputs + "\n"


@pytest.fixture
def project(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch):
    """Two packages (libgreet <- hello) plus an independent one, served over real HTTP."""
    upstream = tmp_path / "upstream"
    shas = {
        "greet": make_tarball(upstream / "greet-1.0.tar.gz", "greet-1.0", {"greet.c": GREET_C, "greet.h": GREET_H, "Makefile": GREET_MK}),
        "hello": make_tarball(upstream / "hello-1.0.tar.gz", "hello-1.0", {"hello.c": HELLO_C, "Makefile": HELLO_MK}),
        "other": make_tarball(upstream / "other-1.0.tar.gz", "other-1.0", {"other.c": 'int main(void){return 0;}\n', "Makefile": "other: other.c\n\t$(CC) $(CFLAGS) -o other other.c\n"}),
    }
    trace = tmp_path / "trace.txt"
    monkeypatch.setenv("WASIX_TEST_TRACE", str(trace))
    monkeypatch.chdir(tmp_path)
    with serve(upstream) as srv:
        plugins = tmp_path / "plugins"
        write_plugin(plugins, "greet", recipe_text("greet", srv.url_for("greet-1.0.tar.gz"), shas["greet"], kind="library"),
                     patches={"0001-word.patch": GREET_PATCH.replace("WORD", "hello, wasix")})
        write_plugin(plugins, "hello", recipe_text("hello", srv.url_for("hello-1.0.tar.gz"), shas["hello"], deps='"greet>=1.0"'), TRACE_PLUGIN)
        write_plugin(plugins, "other", recipe_text("other", srv.url_for("other-1.0.tar.gz"), shas["other"]))
        yield type("Project", (), {"root": tmp_path, "plugins": plugins, "server": srv, "trace": trace, "upstream": upstream, "shas": shas})


def wbuild(project, *args: str) -> int:
    return main(["--plugin-dir", str(project.plugins), *args])


def build_json(project, capsys, *args: str) -> dict:
    capsys.readouterr()
    assert wbuild(project, "build", *args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def cached(summary: dict) -> dict[str, bool]:
    return {p["name"]: p["cached"] for p in summary["packages"]}


@pytest.mark.build
def test_build_runs_all_phases_and_the_module_runs_under_wasmer(project, capsys) -> None:
    summary = build_json(project, capsys, "hello")
    wasm = project.root / "dist" / "bin" / "hello.wasm"
    assert summary["outputs"] == {"hello": str(Path("dist/bin/hello.wasm"))}
    result = run(wasm, ["tests"])
    assert (result.exit_code, result.text) == (0, "hello, wasix from tests\n")
    assert project.trace.read_text().split() == ["hello:fetch", "hello:patch", "hello:configure", "hello:compile", "hello:package"]
    assert cached(summary) == {"greet": False, "hello": False}


@pytest.mark.build
def test_second_build_is_cached_and_says_so(project, capsys) -> None:
    build_json(project, capsys, "hello", "other")
    requests = len(project.server.requests)
    again = build_json(project, capsys, "hello", "other")
    assert cached(again) == {"greet": True, "hello": True, "other": True}
    assert len(project.server.requests) == requests  # nothing fetched either


@pytest.mark.build
def test_changing_a_patch_rebuilds_the_package_and_its_dependents_only(project, capsys) -> None:
    build_json(project, capsys, "hello", "other")
    (project.plugins / "greet" / "patches" / "0001-word.patch").write_text(GREET_PATCH.replace("WORD", "bonjour"))
    again = build_json(project, capsys, "hello", "other")
    assert cached(again) == {"greet": False, "hello": False, "other": True}
    assert run(project.root / "dist/bin/hello.wasm").text == "bonjour from wasm\n"


def test_a_patch_that_does_not_apply_names_the_patch_and_hunk(project, capsys) -> None:
    broken = GREET_PATCH.replace("WORD", "x").replace('return "hello"', 'return "something else"')
    (project.plugins / "greet" / "patches" / "0001-word.patch").write_text(broken)
    assert wbuild(project, "build", "greet") == 1
    message = capsys.readouterr().err
    assert "greet: patch failed" in message and "0001-word.patch" in message and "Hunk #1 FAILED" in message
    assert not any((project.root / "store").glob("*-greet-1.0"))


def test_sha256_mismatch_is_refused_and_leaves_nothing(project, capsys, tmp_path: Path, monkeypatch) -> None:
    from wasix_backend.paths import sources_dir

    # A cache of its own: another test of this worker may have cached the good tarball (same
    # bytes, same pin), and then nothing is downloaded and nothing can mismatch.
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "own-cache"))
    (project.upstream / "other-1.0.tar.gz").write_bytes(b"not what was pinned")
    assert wbuild(project, "build", "other") == 1
    message = capsys.readouterr().err
    assert "other" in message and project.shas["other"] in message
    assert "other-1.0.tar.gz" in message

    assert not list(sources_dir().glob(f"*{project.shas['other']}*other*.part*"))
    assert not any((project.root / "store").glob("*-other-1.0"))


def test_archive_member_escaping_the_tree_is_refused(project, capsys) -> None:
    import hashlib
    import io
    import tarfile

    evil = project.upstream / "other-1.0.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("other-1.0/../../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    sha = hashlib.sha256(evil.read_bytes()).hexdigest()
    recipe = project.plugins / "other" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace(project.shas["other"], sha))
    assert wbuild(project, "build", "other") == 1
    message = capsys.readouterr().err
    assert "escaped.txt" in message and "other" in message
    assert not list(project.root.rglob("escaped.txt"))


def test_dependency_cycle_is_named(project, capsys) -> None:
    recipe = project.plugins / "greet" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("build = []", 'build = ["hello"]'))
    assert wbuild(project, "build", "hello") == 1
    assert "dependency cycle: hello -> greet -> hello" in capsys.readouterr().err


def test_missing_dependency_names_who_needs_it(project, capsys) -> None:
    recipe = project.plugins / "hello" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace('"greet>=1.0"', '"libfoo"'))
    assert wbuild(project, "build", "hello") == 1
    assert "'hello' needs 'libfoo'" in capsys.readouterr().err


@pytest.mark.build
def test_sigkill_mid_build_leaves_nothing_finished_and_a_rebuild_succeeds(project, tmp_path) -> None:
    marker = tmp_path / "compiling"
    cmd = [sys.executable, "-m", "wasix_backend", "--plugin-dir", str(project.plugins), "build", "hello"]
    # Builds see only their recipe's variables: the marker's path is given there, and the
    # slow step runs while `marker.wanted` exists (the same key for the killed and the next build).
    recipe = project.plugins / "hello" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("[build]\n", f'[build]\nenv = {{ WASIX_TEST_SLOW = "{marker}" }}\n', 1))
    Path(f"{marker}.wanted").touch()
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the build ended before reaching the compile step"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    store = tmp_path / "store"
    assert not list(store.glob("*-hello-1.0"))  # greet finished, hello did not
    assert list(store.glob("*-greet-1.0"))
    Path(f"{marker}.wanted").unlink()
    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "greet 1.0 (cached)" in again.stderr
    assert run(tmp_path / "dist/bin/hello.wasm").text == "hello, wasix from wasm\n"
    assert not list((store / "tmp").iterdir())  # the dead build's staging tree was swept


@pytest.mark.build
def test_two_processes_sharing_a_store(project, tmp_path) -> None:
    cmd = [sys.executable, "-m", "wasix_backend", "--plugin-dir", str(project.plugins), "build", "hello", "--out"]
    procs = [subprocess.Popen([*cmd, f"out{i}"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(list((tmp_path / "store").glob("*-hello-1.0"))) == 1
    assert sum("hello 1.0 (cached)" in err for _, err in outs) == 1  # one built it, the other waited and reused it
    for i in range(2):
        assert run(tmp_path / f"out{i}/bin/hello.wasm").text == "hello, wasix from wasm\n"


@pytest.mark.build
def test_failure_names_package_phase_and_log(project, capsys) -> None:
    src = project.upstream / "other-1.0.tar.gz"
    sha = make_tarball(src, "other-1.0", {"other.c": "int main(void){ return syntax error }\n", "Makefile": "other: other.c\n\t$(CC) $(CFLAGS) -o other other.c\n"})
    recipe = project.plugins / "other" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace(project.shas["other"], sha))
    assert wbuild(project, "build", "other") == 1
    message = capsys.readouterr().err
    assert "other: compile failed" in message
    log = next(line.split("log: ", 1)[1] for line in message.splitlines() if "log: " in line)
    assert Path(log).name == "compile.log" and "error" in Path(log).read_text()
    assert "syntax" in message  # the log's last lines are shown


def test_list_show_graph(project, capsys) -> None:
    capsys.readouterr()
    assert wbuild(project, "list", "--json") == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["hello"]["dependencies"] == ["greet>=1.0"] and rows["greet"]["kind"] == "library"
    assert wbuild(project, "graph", "hello", "--json") == 0
    assert list(json.loads(capsys.readouterr().out)) == ["greet", "hello"]
    assert wbuild(project, "show", "hello", "--json") == 0
    assert json.loads(capsys.readouterr().out)["build_system"] == "make"


def test_files_installed_outside_the_prefix_are_found(tmp_path: Path) -> None:
    """They are not part of the store entry: the build says which, instead of losing them silently."""
    from wasix_backend.engine import installed_outside

    destdir = tmp_path / "dest"
    stage = destdir / "store" / "abc-fig-1.0"
    (stage / "bin").mkdir(parents=True)
    (stage / "bin" / "fig.wasm").write_bytes(b"\0asm")
    (destdir / "usr" / "share" / "fig").mkdir(parents=True)
    (destdir / "usr" / "share" / "fig" / "standard.flf").write_text("font")
    (destdir / "etc").mkdir()
    (destdir / "etc" / "fig.conf").write_text("x")
    assert installed_outside(destdir, stage) == ["/etc/fig.conf", "/usr/share/fig/standard.flf"]
    assert installed_outside(tmp_path / "none", stage) == []


#: A library recipe whose hooks (:data:`DATA_OUTSIDE_PY`) install data outside the prefix.
DEFS_RECIPE = """\
        [package]
        name = "defs"
        version = "1.0"
        kind = "library"

        [build]
        system = "none"
        """

DATA_OUTSIDE_PY = """\
from wasix_backend import hookimpl

@hookimpl
def wasix_configure(ctx):
    return True

@hookimpl
def wasix_compile(ctx):
    return True

@hookimpl
def wasix_package(ctx):
    # As GNU units' `make install` with --datadir=/usr/share: configure substituted the path,
    # so `datadir=` at install time cannot move it, and the files land outside the prefix.
    share = ctx.destdir / "usr" / "share" / "defs"
    share.mkdir(parents=True)
    (share / "definitions.units").write_text("m !\\n")
    ctx.stage.mkdir(parents=True, exist_ok=True)
    return True
"""


def test_data_not_installed_under_the_prefix_fails_the_build(tmp_path: Path, store: Path, wb, capsys) -> None:
    """`[outputs] data` that is not in the entry would be missing from every output (issue #30's
    units: the wheel step failed later, after a `build` that said ✓): the build fails, naming
    the data, where the files went instead, and what to do."""
    from wasix_backend.store import Store

    recipe = DEFS_RECIPE + """
        [outputs]
        data = { "/usr/share/defs" = "share/defs" }
        """
    plugins = tmp_path / "plugins"
    write_plugin(plugins, "defs", recipe, DATA_OUTSIDE_PY)
    assert wb("build", "defs", "--plugin-dir", str(plugins)) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "defs: finalize failed: [outputs] data share/defs (guest /usr/share/defs) not installed under the prefix" in err
    assert "installed /usr/share/defs/definitions.units outside its prefix" in err
    assert not list(Store(store).entries())
    # Installed under the prefix, the same data builds.
    fixed = DATA_OUTSIDE_PY.replace('ctx.destdir / "usr" / "share" / "defs"', 'ctx.stage / "share" / "defs"')
    write_plugin(plugins, "defs", recipe, fixed)
    assert wb("build", "defs", "--plugin-dir", str(plugins)) == 0
    assert "outside its prefix" not in capsys.readouterr().err


def test_the_outside_prefix_warning_names_outputs_data(tmp_path: Path, store: Path, wb, capsys) -> None:
    """The warning's advice keeps its `[outputs] data` (rich markup once swallowed it)."""
    recipe = DEFS_RECIPE
    write_plugin(tmp_path / "plugins", "defs", recipe, DATA_OUTSIDE_PY)
    assert wb("build", "defs", "--plugin-dir", str(tmp_path / "plugins")) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "/usr/share/defs/definitions.units (DESTDIR/…)" in err
    assert "at another path in [outputs] data" in err
