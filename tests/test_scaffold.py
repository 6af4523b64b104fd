"""``wasix-build new``: the folder it writes builds as-is once its source is pinned."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest
import tomlkit
from conftest import make_tarball
from httpserver import serve

from wasix_backend.debian import apt_uris, pool_urls
from wasix_backend.difftest import load_cases
from wasix_backend.recipe import load_recipe
from wasix_backend.runtime import run
from wasix_backend.scaffold import guess_build_system, top_level_names, version_from_filename

HELLO_C = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) { puts("hello " VERSION); return 0; }
    printf("hello from %s\n", argc > 1 ? argv[1] : "nobody");
    return 0;
}
"""
HELLO_MK = "hello: hello.c\n\t$(CC) $(CFLAGS) -DVERSION='\"1.0\"' -o hello hello.c\n"
CMHELLO_CMAKE = """\
cmake_minimum_required(VERSION 3.15)
project(cmhello C)
add_executable(cmhello hello.c)
target_compile_definitions(cmhello PRIVATE VERSION="2.5")
install(TARGETS cmhello)
"""


@pytest.fixture
def workdir(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.build
def test_new_from_url_fills_in_the_pin_and_builds_and_its_own_test_passes(workdir: Path, wb, capsys) -> None:
    sha = make_tarball(workdir / "up" / "hello-1.0.tar.gz", "hello-1.0", {"hello.c": HELLO_C, "Makefile": HELLO_MK})
    with serve(workdir / "up") as srv:
        url = srv.url_for("hello-1.0.tar.gz")
        assert wb("new", "hello", "--from-url", url) == 0
    folder = workdir / "plugins" / "hello"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "cases.toml", "patches/README.md", "plugin.py", "pyproject.toml", "recipe.toml"]
    # As the collection's plugins: the recipe declared by being there, hooks through the API.
    plugin_py = (folder / "plugin.py").read_text()
    assert "from wasix_backend.api import" in plugin_py and "def wasix_recipes" not in plugin_py
    recipe = load_recipe(folder / "recipe.toml")
    assert (recipe.name, recipe.version, recipe.build_system) == ("hello", "1.0", "make")  # guessed from Makefile
    assert recipe.sources[0].urls == (url,) and recipe.sources[0].sha256 == sha
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "wasix_backend.pep517"
    assert pyproject["tool"]["wasix-backend"]["recipe"] == "hello"
    assert "hello" in pyproject["project"]["entry-points"]["wasix_backend.plugins"]

    # The server is gone: the build uses the copy `new` verified into the source cache.
    capsys.readouterr()
    assert wb("build", "hello", "--plugin-dir", "plugins", "--json") == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == {"hello": str(Path("dist/bin/hello.wasm"))}
    assert run(Path("dist/bin/hello.wasm"), ["wasix"]).text == "hello from wasix\n"

    # The generated cases.toml runs as written, against a native build of the same sources
    # (Debian has no such hello: its native path is the one line an author changes).
    native = workdir / "native-hello"
    subprocess.run(["cc", "-O2", '-DVERSION="1.0"', "-o", str(native), "-x", "c", "-"], input=HELLO_C, text=True, check=True)
    cases = folder / "cases.toml"
    assert 'native = "/usr/bin/hello"' in cases.read_text()
    cases.write_text(cases.read_text().replace("/usr/bin/hello", str(native)))
    capsys.readouterr()
    assert wb("test", "hello", "--plugin-dir", "plugins") == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "PASS hello::version" in err and "1 pass" in err, err
    # A wrong answer fails it: the case compares, it is not a smoke test.
    native.write_text("#!/bin/sh\necho hello 0.9\n")
    assert wb("test", "hello", "--plugin-dir", "plugins") == 1


@pytest.mark.build
def test_new_without_url_writes_a_loadable_recipe_that_builds_once_pinned(workdir: Path, wb, capsys) -> None:
    assert wb("new", "cmhello", "--build-system", "cmake", "--dir", "mine") == 0
    recipe_file = workdir / "mine" / "cmhello" / "recipe.toml"
    placeholder = load_recipe(recipe_file)  # loads as written, so `wasix-build list` stays clean
    assert placeholder.build_system == "cmake" and placeholder.binaries == ("cmhello",)
    assert "# TODO: sha256sum of the archive" in recipe_file.read_text()

    sha = make_tarball(workdir / "up" / "cmhello-2.5.tar.gz", "cmhello-2.5", {"hello.c": HELLO_C, "CMakeLists.txt": CMHELLO_CMAKE})
    with serve(workdir / "up") as srv:
        doc = tomlkit.parse(recipe_file.read_text())
        doc["package"]["version"] = "2.5"
        doc["source"][0]["url"] = srv.url_for("cmhello-2.5.tar.gz")
        doc["source"][0]["sha256"] = sha
        recipe_file.write_text(tomlkit.dumps(doc))
        assert wb("build", "cmhello", "--plugin-dir", "mine") == 0
    result = run(Path("dist/bin/cmhello.wasm"), ["--version"])
    assert (result.exit_code, result.text) == (0, "hello 2.5\n")


def test_new_refuses_to_overwrite(workdir: Path, wb, capsys) -> None:
    assert wb("new", "twice", "--build-system", "make") == 0
    recipe = workdir / "plugins" / "twice" / "recipe.toml"
    recipe.write_text(recipe.read_text() + "# my edits\n")
    before = recipe.read_text()
    capsys.readouterr()
    assert wb("new", "twice", "--build-system", "cmake") == 1
    err = capsys.readouterr().err
    assert "plugins/twice exists already" in err and "not overwriting" in err
    assert recipe.read_text() == before
    (workdir / "plugins" / "empty").mkdir()
    assert wb("new", "empty") == 1  # even an empty folder is not taken over
    assert not any((workdir / "plugins").glob(".*"))  # no staging leftovers


def test_new_with_an_unreachable_url_leaves_no_folder(workdir: Path, wb, capsys) -> None:
    (workdir / "up").mkdir()
    with serve(workdir / "up") as srv:
        assert wb("new", "ghost", "--from-url", srv.url_for("ghost-1.0.tar.gz")) == 1
    err = capsys.readouterr().err
    assert "ghost" in err and "HTTP 404" in err
    assert not (workdir / "plugins" / "ghost").exists()


def test_library_scaffold(workdir: Path, wb) -> None:
    assert wb("new", "libthing", "--kind", "library", "--build-system", "autotools") == 0
    recipe = load_recipe(workdir / "plugins" / "libthing" / "recipe.toml")
    assert recipe.kind == "library" and recipe.binaries == () and "test" not in recipe.extra
    assert recipe.build == {"configure-args": []}
    # No command to compare: a library is tested through the programs that use it.
    assert not (workdir / "plugins" / "libthing" / "cases.toml").exists()


def test_a_cargo_program_is_compared_with_its_own_native_build(workdir: Path, wb) -> None:
    assert wb("new", "rusty", "--build-system", "cargo") == 0
    [case] = load_cases(workdir / "plugins" / "rusty" / "cases.toml", "rusty")
    assert (case.name, case.steps[0].command, case.steps[0].native, case.steps[0].args) == ("version", "rusty", "build:rusty", ("--version",))


@pytest.mark.parametrize(
    ("filename", "name", "version"),
    [
        ("nano-7.2.tar.xz", "nano", "7.2"),
        ("nano_7.2.orig.tar.xz", "nano", "7.2"),
        ("zlib_1.2.13.dfsg.orig.tar.bz2", "zlib", "1.2.13"),
        ("ncurses-6.4.tar.gz", None, "6.4"),
        ("foo-bar-v2.0.1.zip", "foo-bar", "2.0.1"),
        ("tool-1.0rc2.tgz", "tool", "1.0rc2"),
        ("bc-1.07.1.tar.gz", "bc", "1.07.1"),  # upstream's spelling, not PEP 440's 1.7.1
        ("bc_1.07.1.orig.tar.gz", "bc", "1.07.1"),
        ("less-590.tar.gz", "less", "590"),
        ("noversion.tar.gz", "noversion", None),
    ],
)
def test_version_from_filename(filename: str, name: str | None, version: str | None) -> None:
    assert version_from_filename(filename, name) == version


@pytest.mark.parametrize(
    ("files", "system"),
    [
        ({"configure.ac": "", "Makefile.am": "", "CMakeLists.txt": ""}, "autotools"),
        ({"configure": "", "main.c": ""}, "autotools"),
        ({"CMakeLists.txt": "", "Makefile": ""}, "cmake"),
        ({"Cargo.toml": "", "src/main.rs": ""}, "cargo"),
        ({"GNUmakefile": ""}, "make"),
        ({"src/CMakeLists.txt": "", "README": ""}, None),  # only the top counts
    ],
)
def test_guess_build_system_from_a_real_archive(tmp_path: Path, files: dict[str, str], system: str | None) -> None:
    archive = tmp_path / "x-1.0.tar.gz"
    make_tarball(archive, "x-1.0", files)
    assert guess_build_system(top_level_names(archive)) == system


def _doc_block(text: str, after: str, lang: str) -> str:
    """The first ```lang block after the heading-ish marker ``after`` in docs/plugins.md."""
    rest = text[text.index(after):]
    start = rest.index(f"```{lang}\n") + len(f"```{lang}\n")
    return rest[start:rest.index("```", start)]


@pytest.mark.build
@pytest.mark.skipif(not apt_uris(), reason="no apt URIs configured: GNU Hello comes from the Debian pool")
def test_the_worked_example_of_the_docs_builds_and_runs(workdir: Path, wb, capsys, provider_env, monkeypatch) -> None:
    """docs/plugins.md's GNU Hello example, step by step, with the docs' own code blocks: a library
    with headers in a sub-directory (ncursesw), a host-side helper program and a patch."""
    for key, value in provider_env("wasix").items():  # ncurses from the test store, as nano's
        monkeypatch.setenv(key, value)
    docs = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    example = docs[docs.index("## Worked example"):]
    url = pool_urls("hello", "hello_2.10.orig.tar.gz")[0]
    assert wb("new", "hello", "--from-url", url) == 0
    folder = workdir / "plugins" / "hello"
    assert load_recipe(folder / "recipe.toml").build_system == "autotools"
    pinned = load_recipe(folder / "recipe.toml").sources[0].sha256
    (folder / "recipe.toml").write_text(_doc_block(example, "**2. Edit", "toml"))
    recipe = load_recipe(folder / "recipe.toml")
    assert recipe.sources[0].sha256 == pinned  # the docs pin what `new` computed
    assert [d.name for d in recipe.build_deps] == ["ncurses"]
    assert any("{dep:ncurses}/include/ncursesw" in a for a in recipe.build["configure-args"])
    (folder / "patches" / "0001-centre-and-languages.patch").write_text(_doc_block(example, "**3. A patch", "diff"))
    (folder / "tools").mkdir()
    (folder / "tools" / "mkgreetings.c").write_text(_doc_block(example, "**4. A helper", "c"))
    (folder / "tools" / "greetings.txt").write_text(_doc_block(example, "and its input", "text"))
    (folder / "plugin.py").write_text(_doc_block(example, "**5. Hooks", "python"))
    assert wb("build", "hello", "--plugin-dir", "plugins") == 0
    hello = Path("dist/bin/hello.wasm")
    assert run(hello, ["-g", "Hi from WASIX"]).text == "Hi from WASIX\n"
    assert run(hello, ["--version"]).text.startswith("hello (GNU Hello) 2.10\n")
    # The table the host-side helper generated, compiled in through the patch:
    assert run(hello, ["-l", "de"]).text == "Hallo, Welt!\n"
    assert run(hello, ["-l", "es"], env={"LC_ALL": "C.UTF-8"}).text == "\u00a1Hola, mundo!\n"
    missing = run(hello, ["-l", "xx"])
    assert missing.exit_code == 1 and "no greeting in language 'xx'" in missing.stderr.decode()
    # ncursesw's terminfo, found through the sub-directory: the width from COLUMNS, else the terminal's 80.
    assert run(hello, ["-c", "-l", "fr"], env={"TERM": "xterm", "COLUMNS": "40"}).text == " " * 10 + "Bonjour, le monde !\n"
    assert run(hello, ["-c"], env={"TERM": "xterm"}).text == " " * 33 + "Hello, world!\n"
    # The docs' interactive session says the same.
    for line in ('\'Hallo, Welt!\\n\'', "'          Bonjour, le monde !\\n'"):
        assert line in example


def test_new_from_a_debian_pool_url_names_the_package_not_the_mirror(workdir: Path, wb) -> None:
    """A recipe names no mirror host: a pool URL becomes `debian`/`file`, which fetching
    finds through the apt configuration of whichever machine builds it."""
    sha = make_tarball(workdir / "up" / "pool" / "main" / "h" / "hello" / "hello_2.10.orig.tar.gz", "hello-2.10",
                       {"configure": "#!/bin/sh\n"})  # fmt: skip
    with serve(workdir / "up") as srv:
        assert wb("new", "hello", "--from-url", srv.url_for("pool/main/h/hello/hello_2.10.orig.tar.gz")) == 0
    text = (workdir / "plugins" / "hello" / "recipe.toml").read_text()
    assert "127.0.0.1" not in text
    (source,) = load_recipe(workdir / "plugins" / "hello" / "recipe.toml").sources
    assert (source.debian, source.file, source.sha256, source.urls) == ("hello", "hello_2.10.orig.tar.gz", sha, ())
