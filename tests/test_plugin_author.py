"""A plugin author's path, end to end: a third-party program that reads data files by the path
it was built with (as figlet reads its fonts), packaged as its own distribution and shipped by
every route — ``wasix-build wheel``, ``pip wheel``, ``python -m build``, ``pip install`` and
``pip install -e``. Each wheel, installed into a fresh venv of Debian's own ``/usr/bin/python3``,
prints what the native build (gcc) prints, and weighs about its module plus its data. ``pip
install PLUGIN`` and ``wasix-build build NAME`` share the store key (one compile), and
``wasix-build test`` runs the plugin's own cases.toml.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import make_tarball
from httpserver import serve

pytestmark = pytest.mark.collection  # fresh venvs, pip's isolated build environments

DEBIAN_PYTHON = Path("/usr/bin/python3")

TINYFIG_C = r"""
/* tinyfig: prints its arguments in big letters from a font file read at run time from
   FONTDIR, a path built in (as figlet's DEFAULTFONTDIR). */
#include <stdio.h>
#include <string.h>
#ifndef FONTDIR
#define FONTDIR "/usr/local/share/tinyfig"
#endif
#define ROWS 3
static char glyph[128][ROWS][16];
int main(int argc, char **argv) {
    const char *font = "standard";
    int first = 1;
    if (argc > 2 && !strcmp(argv[1], "-f")) { font = argv[2]; first = 3; }
    char path[512];
    snprintf(path, sizeof path, "%s/%s.tfl", FONTDIR, font);
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "%s: Unable to open font file %s\n", argv[0], path); return 1; }
    static char line[4096];
    while (fgets(line, sizeof line, f)) {
        unsigned char c = (unsigned char)line[0];
        if (c >= 128 || line[1] != ' ') continue;  /* comments and headers */
        char *row = line + 2;
        for (int r = 0; r < ROWS; r++) {
            char *end = strchr(row, '@');
            if (!end) end = row + strcspn(row, "\n");
            snprintf(glyph[c][r], sizeof glyph[c][r], "%.*s", (int)(end - row), row);
            row = *end ? end + 1 : end;
        }
    }
    fclose(f);
    for (int r = 0; r < ROWS; r++) {
        for (int i = first; i < argc; i++) {
            for (const char *p = argv[i]; *p; p++)
                fputs(glyph[(unsigned char)*p & 127][r][0] ? glyph[(unsigned char)*p & 127][r] : "?", stdout);
            if (i + 1 < argc) fputs("  ", stdout);
        }
        putchar('\n');
    }
    return 0;
}
"""
# PREFIX (what the make build system passes) decides where `make install` puts things; the
# manual page goes to a fixed system path, outside the prefix (the build says so).
MAKEFILE = """\
PREFIX = /usr/local
FONTDIR = $(PREFIX)/share/tinyfig
MANDIR = /usr/share/man/man6
CC = gcc
CFLAGS = -O2

tinyfig: tinyfig.c
\t$(CC) $(CFLAGS) -DFONTDIR='"$(FONTDIR)"' -o tinyfig tinyfig.c

install: tinyfig
\tmkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tinyfig $(DESTDIR)$(MANDIR)
\tcp tinyfig $(DESTDIR)$(PREFIX)/bin/tinyfig
\tcp fonts/*.tfl $(DESTDIR)$(PREFIX)/share/tinyfig/
\tcp tinyfig.6 $(DESTDIR)$(MANDIR)/tinyfig.6
"""
FONT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !"


def font(seed: int, comment_lines: int) -> str:
    """A font: a header of comments (as figlet fonts carry) and one 3-row glyph per character."""
    rng = random.Random(seed)
    art = "/\\|_-=+*#o.:'`~^<>()[]{}"
    lines = [f"# tinyfig font {seed}: " + "".join(rng.choice(art + "abcxyz ") for _ in range(70)) for _ in range(comment_lines)]
    for c in FONT_CHARS:
        width = rng.randint(3, 6)
        rows = ["".join(rng.choice(art) for _ in range(width)) for _ in range(3)]
        lines.append(f"{c} {'@'.join(rows)}")
    return "\n".join(lines) + "\n"


# The plugin's own hook: a font shipped in the plugin folder joins the program's data.
PLUGIN_PY = '''\
"""tinyfig: a third-party wasix-backend plugin."""

import shutil
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).resolve().parent


@hookimpl
def wasix_recipes():
    return [load_recipe(HERE / "recipe.toml", plugin="tinyfig")]


@hookimpl(wrapper=True)
def wasix_package(ctx):
    result = yield
    shutil.copy2(HERE / "extra" / "mini.tfl", ctx.stage / "share" / "tinyfig" / "mini.tfl")
    return result
'''
RUNS = (["Hello", "World"], ["-f", "small", "Hi", "there"], ["-f", "mini", "ok!"], ["-f", "nope", "x"])


def _run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory, provider_env):
    """The upstream tarball (served on 127.0.0.1), its native build, the plugin folder as `new`
    writes it and the author edits it, the tool's own wheel to build with, and the environment
    of every command (the provider's sysroot, a store of its own)."""
    if not DEBIAN_PYTHON.is_file():
        pytest.skip(reason="no /usr/bin/python3 (Debian's Python) to make the fresh venvs with")
    root = tmp_path_factory.mktemp("author")
    fonts = {"fonts/standard.tfl": font(1, 900), "fonts/small.tfl": font(2, 600),
             **{f"fonts/extra{i}.tfl": font(10 + i, 500) for i in range(4)}}  # fmt: skip
    sha = make_tarball(root / "up" / "tinyfig-1.0.tar.gz", "tinyfig-1.0",
                       {"tinyfig.c": TINYFIG_C, "Makefile": MAKEFILE, "tinyfig.6": ".TH TINYFIG 6\n", **fonts})  # fmt: skip

    # The native build, installed where it reads its fonts.
    native = root / "native"
    src = root / "native-src"
    shutil.copytree(root / "up", src)
    subprocess.run(["tar", "xzf", "tinyfig-1.0.tar.gz"], cwd=src, check=True)
    make = ["make", "-C", str(src / "tinyfig-1.0"), f"PREFIX={native}", f"MANDIR={native}/man"]
    subprocess.run([*make, "install"], check=True, capture_output=True)
    (native / "share" / "tinyfig" / "mini.tfl").write_text(font(3, 5))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX", "VIRTUAL_ENV"))}
    env.update(provider_env("wasix"), WASIX_STORE=str(root / "store"), WASIX_RUNTIME="sdk",
               WASIX_WHEELS_CACHE=str(root / "wheels-cache"))  # fmt: skip
    with serve(root / "up") as srv:
        work = root / "work"
        work.mkdir()
        wasix_build = [sys.executable, "-m", "wasix_backend"]
        _run([*wasix_build, "new", "tinyfig", "--from-url", srv.url_for("tinyfig-1.0.tar.gz")], env=env, cwd=work)
        plugin = work / "plugins" / "tinyfig"
        recipe = (plugin / "recipe.toml").read_text()
        assert f'sha256 = "{sha}"' in recipe and 'system = "make"' in recipe
        recipe = recipe.replace('make-args = [] # extra `make` arguments; CC, AR … are passed for you',
                                'make-args = ["FONTDIR=/usr/share/tinyfig"]\ninstall-args = []')
        recipe = recipe.replace('bin = ["tinyfig"] # installed as bin/NAME.wasm',
                                'bin = ["tinyfig"]\ndata = { "/usr/share/tinyfig" = "share/tinyfig" }')
        (plugin / "recipe.toml").write_text(recipe)
        (plugin / "plugin.py").write_text(PLUGIN_PY)
        (plugin / "extra").mkdir()
        (plugin / "extra" / "mini.tfl").write_text(font(3, 5))
        (plugin / "cases.toml").write_text(textwrap.dedent(f"""\
            [defaults]
            command = "tinyfig"
            native = "{native / 'bin' / 'tinyfig'}"

            [[case]]
            name = "standard-font"
            args = ["Hello", "World"]

            [[case]]
            name = "font-of-the-plugins-hook"
            args = ["-f", "mini", "ok!"]

            [[case]]
            name = "no-such-font"
            args = ["-f", "nope", "x"]
            status = 1
            normalize = [{{ regex = "file .*/nope", replace = "file FONTDIR/nope", on = ["stderr"] }}]
            """))
        links = root / "links"
        _run([*wasix_build, "self-wheel", str(links)], env=env, cwd=work)
        env["PIP_FIND_LINKS"] = " ".join(filter(None, [os.environ.get("PIP_FIND_LINKS", ""), str(links)]))
        yield type("Author", (), {"root": root, "plugin": plugin, "native": native, "env": env, "work": work,
                                  "links": links, "wasix_build": wasix_build, "server": srv})  # fmt: skip


def native_outputs(author) -> list[tuple[int, str, str]]:
    out = []
    for args in RUNS:  # argv[0] is the command's name, as the wheel's console script gives it
        proc = subprocess.run(["tinyfig", *args], executable=author.native / "bin" / "tinyfig",
                              capture_output=True, text=True, cwd=author.root)  # fmt: skip
        out.append((proc.returncode, proc.stdout, proc.stderr.replace(str(author.native / "share" / "tinyfig"), "FONTDIR")))
    assert out[0][0] == 0 and out[0][1].count("\n") == 3, out[0]
    return out


def fresh_venv(path: Path, env: dict[str, str]) -> Path:
    """A venv of Debian's own Python (no pip packages but pip)."""
    _run([DEBIAN_PYTHON, "-m", "venv", path], env=env, cwd=path.parent)
    return path / "bin"


def installed_outputs(bin_dir: Path, author) -> list[tuple[int, str, str]]:
    cwd = author.root / "run"
    cwd.mkdir(exist_ok=True)
    out = []
    for args in RUNS:
        proc = subprocess.run([str(bin_dir / "tinyfig"), *args], capture_output=True, text=True, cwd=cwd,
                              env=author.env, timeout=300)  # fmt: skip
        stderr = "\n".join(line for line in proc.stderr.splitlines(keepends=False) if not line.startswith("preparing "))
        stderr = (stderr + "\n" if stderr else "").replace("/usr/share/tinyfig", "FONTDIR")
        out.append((proc.returncode, proc.stdout, stderr))
    return out


def check_wheel(wheel: Path, author, *, plugin_payload: bool) -> None:
    """What the wheel holds: the module, its data, the launcher (and the plugin); its size is
    the module plus its data, compressed, and the launcher: never the sdist's sources."""
    with zipfile.ZipFile(wheel) as zf:
        infos = zf.infolist()
    names = {i.filename for i in infos}
    data = {n for n in names if n.startswith("wasix_tinyfig/data/")}
    assert data == {f"wasix_tinyfig/data/usr/share/tinyfig/{f}" for f in
                    ("standard.tfl", "small.tfl", "mini.tfl", *(f"extra{i}.tfl" for i in range(4)))}  # fmt: skip
    plugin = {n for n in names if n.startswith("wasix_plugin_tinyfig/")}
    if plugin_payload:
        assert plugin == {f"wasix_plugin_tinyfig/{f}" for f in
                          ("__init__.py", "plugin.py", "recipe.toml", "cases.toml", "extra/mini.tfl", "patches/README.md")}  # fmt: skip
    else:
        assert not plugin
    other = names - data - plugin - {"wasix_tinyfig/bin/tinyfig.wasm"}
    assert all(n.startswith(("wasix_tinyfig/_", "wasix_tinyfig/__", "wasix_tinyfig-1.0.dist-info/")) for n in other), other
    payload = sum(i.file_size for i in infos if i.filename in data or i.filename.endswith(".wasm"))
    size = wheel.stat().st_size
    assert size <= 1.05 * payload, f"{wheel.name}: {size} bytes for a module and data of {payload}"


def install_and_compare(wheel: Path, author, runtime_wheelhouse: Path, name: str) -> None:
    bin_dir = fresh_venv(author.root / f"venv-{name}", author.env)
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", runtime_wheelhouse, wheel],
         env=author.env, cwd=author.root)  # fmt: skip
    assert installed_outputs(bin_dir, author) == native_outputs(author)


def test_wasix_build_wheel(author, runtime_wheelhouse: Path) -> None:
    built = _run([*author.wasix_build, "build", "tinyfig", "--plugin-dir", author.plugin], env=author.env, cwd=author.work)
    assert "installed outside its prefix are not part of the package: /usr/share/man/man6/tinyfig.6" in " ".join(built.stderr.split())
    assert "reads its data at /usr/share/tinyfig" in " ".join(built.stderr.split())
    _run([*author.wasix_build, "wheel", "tinyfig", "--plugin-dir", author.plugin, "--out", author.root / "cli"],
         env=author.env, cwd=author.work)  # fmt: skip
    wheel = author.root / "cli" / "wheels" / "wasix_tinyfig-1.0-py3-none-any.whl"
    check_wheel(wheel, author, plugin_payload=False)
    install_and_compare(wheel, author, runtime_wheelhouse, "cli")


def test_pip_wheel(author, runtime_wheelhouse: Path) -> None:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", author.root / "pip", author.plugin], env=author.env, cwd=author.work)
    wheel = author.root / "pip" / "wasix_tinyfig-1.0-py3-none-any.whl"
    check_wheel(wheel, author, plugin_payload=True)
    install_and_compare(wheel, author, runtime_wheelhouse, "pip")


def test_python_m_build(author, runtime_wheelhouse: Path) -> None:
    """The sdist, then a wheel from it: no FileNotFoundError, and no bundled sources in the wheel."""
    _run([sys.executable, "-m", "build", "-o", author.root / "build", author.plugin], env=author.env, cwd=author.work)
    assert (author.root / "build" / "wasix_tinyfig-1.0.tar.gz").is_file()
    wheel = author.root / "build" / "wasix_tinyfig-1.0-py3-none-any.whl"
    check_wheel(wheel, author, plugin_payload=True)
    install_and_compare(wheel, author, runtime_wheelhouse, "build")
    # `build`'s throw-away venv has cmake and pkg-config scripts naming its own Python: the
    # store key is still this environment's, so the folder builds once (issue #30's closing
    # proof compiled figlet again on every `python -m build`).
    built = _run([*author.wasix_build, "build", "tinyfig", "--plugin-dir", author.plugin, "--json"],
                 env=author.env, cwd=author.work)  # fmt: skip
    (row,) = [p for p in json.loads(built.stdout)["packages"] if p["name"] == "tinyfig"]
    assert row["status"] == "cached", row


def _venv_with_the_tool(author, name: str) -> Path:
    bin_dir = fresh_venv(author.root / f"venv-{name}", author.env)
    (tool,) = author.links.glob("wasix_backend-*.whl")  # this checkout's, its dependencies from the index
    _run([bin_dir / "python", "-m", "pip", "install", "-q", tool], env=author.env, cwd=author.root)
    return bin_dir


def test_pip_install_then_wasix_build_compiles_once(author) -> None:
    """`pip install PLUGIN` (through an isolated build environment) and then `wasix-build build
    NAME` (the installed plugin) compute the same key in the same store: the second is cached.
    The installed plugin's own cases pass under `wasix-build test`."""
    bin_dir = _venv_with_the_tool(author, "install")
    _run([bin_dir / "python", "-m", "pip", "install", "-q", author.plugin], env=author.env, cwd=author.work)
    assert installed_outputs(bin_dir, author) == native_outputs(author)
    built = _run([bin_dir / "wasix-build", "build", "tinyfig", "--json"], env=author.env, cwd=author.root)
    (row,) = [p for p in json.loads(built.stdout)["packages"] if p["name"] == "tinyfig"]
    assert row["status"] == "cached", row
    listed = json.loads(_run([bin_dir / "wasix-build", "list", "--json"], env=author.env, cwd=author.root).stdout)
    assert {r["name"]: r["origin"] for r in listed}["tinyfig"] == "entry point (wasix-tinyfig==1.0)"
    tested = _run([bin_dir / "wasix-build", "test", "tinyfig"], env=author.env, cwd=author.root)
    assert "3 pass" in tested.stderr, tested.stderr


def test_pip_install_editable(author) -> None:
    """`pip install -e PLUGIN` installs the program, and `wasix-build` reads the plugin from
    the folder itself."""
    bin_dir = _venv_with_the_tool(author, "editable")
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "-e", author.plugin], env=author.env, cwd=author.work)
    assert installed_outputs(bin_dir, author) == native_outputs(author)
    shown = json.loads(_run([bin_dir / "wasix-build", "show", "tinyfig", "--json"], env=author.env, cwd=author.root).stdout)
    assert Path(shown["plugin_dir"]) == author.plugin
