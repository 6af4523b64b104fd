"""Configure answers shared per toolchain: two different autotools packages, built for real."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import package_recipe, write_plugin

from wasix_backend.buildsystems import confcache
from wasix_backend.cli import main
from wasix_backend.runtime import run

pytestmark = pytest.mark.skipif(shutil.which("autoconf") is None, reason="autoconf is not installed (apt-get install autoconf)")

# Both packages ask the same toolchain questions; beta also finds greet.h and greeting() in
# its dependency, which alpha (no dependencies) answers "no" to.
CONFIGURE_AC = """\
AC_INIT([NAME], [1.0])
AC_CONFIG_SRCDIR([prog.c])
AC_CONFIG_HEADERS([config.h])
AC_PROG_CC
AC_C_INLINE
AC_TYPE_SIZE_T
AC_CHECK_SIZEOF([long])
AC_CHECK_HEADERS([termios.h sys/ioctl.h pwd.h greet.h])
EXTRA
AC_CHECK_FUNCS([tcgetattr dup2 getpwuid greeting fork_not_a_function])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""
MAKEFILE_IN = """\
CC = @CC@
CFLAGS = @CFLAGS@
CPPFLAGS = @CPPFLAGS@
LDFLAGS = @LDFLAGS@
LIBS = @LIBS@
prefix = @prefix@
prog: prog.c config.h
\t$(CC) $(CPPFLAGS) $(CFLAGS) -I. -o prog prog.c $(LDFLAGS) $(LIBS)
install: prog
\tmkdir -p $(DESTDIR)$(prefix)/bin && cp prog $(DESTDIR)$(prefix)/bin/NAME
"""
PROG_C = """\
#include "config.h"
#include <stdio.h>
#ifdef HAVE_GREET_H
#include <greet.h>
#endif
#ifndef HAVE_GREETING
#define HAVE_GREETING 0
#endif
#ifndef HAVE_TCGETATTR
#define HAVE_TCGETATTR 0
#endif
#ifndef HAVE_FORK_NOT_A_FUNCTION
#define HAVE_FORK_NOT_A_FUNCTION 0
#endif
int main(void) {
#ifdef HAVE_GREET_H
    printf("%s ", HAVE_GREETING ? greeting() : "no-greeting");
#endif
    printf("tcgetattr=%d fork_not_a_function=%d long=%d\\n", HAVE_TCGETATTR, HAVE_FORK_NOT_A_FUNCTION, (int)SIZEOF_LONG);
    return 0;
}
"""
GREET_MK = """\
libgreet.a: greet.c
\t$(CC) $(CFLAGS) -c greet.c -o greet.o
\t$(AR) rcs libgreet.a greet.o
install: libgreet.a
\tmkdir -p $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
\tcp libgreet.a $(DESTDIR)$(PREFIX)/lib/
\tcp greet.h $(DESTDIR)$(PREFIX)/include/
"""


def _tarball(dest: Path, top: str, files: dict[str, str]) -> str:
    """``dest`` (.tar.gz) holding ``top/<name>`` (``configure`` executable); its sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o755 if name == "configure" else 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def _recipe(name: str, url: str, sha: str, *, system: str, deps: str = "", kind: str = "program") -> str:
    install = "install-args = []" if system == "make" else ""
    return package_recipe(name, url, sha, system=system, kind=kind, deps=deps, build_extra=f"in-tree = true\n{install}")


def _autoconf_project(work: Path, name: str, extra: str, *, configure_ac: str = CONFIGURE_AC, prog_c: str = PROG_C) -> dict[str, str]:
    """The files of an autoconf project, ``configure`` generated here."""
    work.mkdir(parents=True)
    files = {
        "configure.ac": configure_ac.replace("NAME", name).replace("EXTRA", extra),
        "Makefile.in": MAKEFILE_IN.replace("NAME", name),
        "prog.c": prog_c,
    }
    for fname, text in files.items():
        (work / fname).write_text(text)
    for tool in ("autoheader", "autoconf"):
        subprocess.run([tool], cwd=work, check=True, capture_output=True)
    return {p.name: p.read_text() for p in work.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("confcache")
    up = root / "upstream"
    tarballs = {
        "greet": (up / "greet-1.0.tar.gz", {"greet.c": 'const char *greeting(void) { return "hi"; }\n',
                                              "greet.h": "const char *greeting(void);\n", "Makefile": GREET_MK}),
        "alpha": (up / "alpha-1.0.tar.gz", _autoconf_project(root / "gen-alpha", "alpha", "")),
        # beta also links its dependency: greeting() is found there, not in the toolchain.
        "beta": (up / "beta-1.0.tar.gz", _autoconf_project(root / "gen-beta", "beta", "AC_CHECK_LIB([greet], [greeting])")),
    }  # fmt: skip
    folder = root / "plugins"
    for name, (tarball, files) in tarballs.items():
        sha = _tarball(tarball, f"{name}-1.0", files)
        if name == "greet":
            text = _recipe(name, tarball.as_uri(), sha, system="make", kind="library")
        else:
            text = _recipe(name, tarball.as_uri(), sha, system="autotools", deps='"greet"' if name == "beta" else "")
        write_plugin(folder, name, text)
    return folder


def _build(plugins: Path, store: Path, out: Path, *names: str, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["--plugin-dir", str(plugins), "build", *names, "--store", str(store), "--out", str(out), "-j1", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _configure_log(store: Path, name: str) -> str:
    return next((store / "logs").glob(f"{name}-1.0-*/configure.log")).read_text()


@pytest.mark.build
def test_a_second_package_configures_from_the_first_ones_answers(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without sharing: the module beta makes on its own.
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", "off")
    _build(plugins, tmp_path / "s0", tmp_path / "o0", "beta", capsys=capsys)
    alone = (tmp_path / "o0" / "bin" / "beta.wasm").read_bytes()
    assert "(cached)" not in _configure_log(tmp_path / "s0", "beta")

    cache = tmp_path / "configure-cache"
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", str(cache))
    _build(plugins, tmp_path / "s1", tmp_path / "o1", "alpha", capsys=capsys)
    [shared] = list(cache.glob("*.json"))
    entries = json.loads(shared.read_text())["entries"]
    for var in ("ac_cv_header_termios_h", "ac_cv_func_tcgetattr", "ac_cv_sizeof_long", "ac_cv_c_inline", "ac_cv_type_size_t",
                "ac_cv_header_greet_h", "ac_cv_func_greeting"):  # fmt: skip
        assert var in entries, var
    assert not any(v.startswith(("ac_cv_env_", "ac_cv_host", "ac_cv_build", "ac_cv_path_")) for v in entries)

    _build(plugins, tmp_path / "s1", tmp_path / "o1", "beta", capsys=capsys)
    log = _configure_log(tmp_path / "s1", "beta")
    for check in ("termios.h... (cached) yes", "tcgetattr... (cached) yes", "size of long... (cached) 4",
                  "fork_not_a_function... (cached) no"):  # fmt: skip
        assert check in log, check
    # alpha's "no" for what beta's dependency provides was not handed to beta.
    assert "greet.h... (cached)" not in log and "for greeting... (cached)" not in log
    assert (tmp_path / "o1" / "bin" / "beta.wasm").read_bytes() == alone
    assert run(tmp_path / "o1" / "bin" / "beta.wasm").text == "hi tcgetattr=1 fork_not_a_function=0 long=4\n"
    # ... nor taken into the shared answers from beta.
    after = json.loads(shared.read_text())
    assert after["entries"]["ac_cv_header_greet_h"] == entries["ac_cv_header_greet_h"]
    assert after["unstable"] == []


@pytest.mark.build
def test_a_toolchain_change_starts_a_new_cache(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "configure-cache"
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", str(cache))
    _build(plugins, tmp_path / "s1", tmp_path / "o1", "alpha", capsys=capsys)
    # Other compile flags for every call: another toolchain as far as configure can tell.
    monkeypatch.setenv("WASIXCC_COMPILER_FLAGS", "-DWASIX_TEST_OTHER_TOOLCHAIN=1")
    _build(plugins, tmp_path / "s2", tmp_path / "o2", "alpha", capsys=capsys)
    assert "(cached)" not in _configure_log(tmp_path / "s2", "alpha")
    assert len(list(cache.glob("*.json"))) == 2


def test_merge_keeps_only_toolchain_answers(tmp_path: Path) -> None:
    cache = confcache.ConfigureCache(tmp_path / "c.json")
    provided = confcache.Provided(headers={"greet_h", "sub_greet_h"}, symbols={"greeting"})
    found = {
        "ac_cv_header_stdio_h": "ac_cv_header_stdio_h=${ac_cv_header_stdio_h=yes}",
        "ac_cv_header_greet_h": "ac_cv_header_greet_h=${ac_cv_header_greet_h=yes}",
        "ac_cv_func_greeting": "ac_cv_func_greeting=${ac_cv_func_greeting=yes}",
        "ac_cv_lib_m_sin": "ac_cv_lib_m_sin=${ac_cv_lib_m_sin=yes}",
        "ac_cv_path_GREP": "ac_cv_path_GREP=${ac_cv_path_GREP=/usr/bin/grep}",
        "ac_cv_prog_cc_g": "ac_cv_prog_cc_g=${ac_cv_prog_cc_g=yes}",
        "ac_cv_c_bigendian": "ac_cv_c_bigendian=${ac_cv_c_bigendian=/build/here}",
        "cf_cv_ncurses_thing": "cf_cv_ncurses_thing=${cf_cv_ncurses_thing=yes}",
    }
    assert cache.merge(found, provided, ["/build/here"]) == 2
    assert sorted(cache.entries()) == ["ac_cv_header_stdio_h", "ac_cv_prog_cc_g"]
    # The same answer as autoconf 2.52 writes it (quoted) is the same answer.
    cache.merge({"ac_cv_prog_cc_g": "ac_cv_prog_cc_g=${ac_cv_prog_cc_g='yes'}"}, confcache.Provided(), [])
    assert sorted(cache.entries()) == ["ac_cv_header_stdio_h", "ac_cv_prog_cc_g"]
    # A different answer to the same question: not the toolchain's alone, never shared again.
    cache.merge({"ac_cv_prog_cc_g": "ac_cv_prog_cc_g=${ac_cv_prog_cc_g=no}"}, confcache.Provided(), [])
    cache.merge({"ac_cv_prog_cc_g": "ac_cv_prog_cc_g=${ac_cv_prog_cc_g=no}"}, confcache.Provided(), [])
    assert sorted(cache.entries()) == ["ac_cv_header_stdio_h"]
    seeded = tmp_path / "config.cache"
    assert cache.seed(seeded, confcache.Provided(headers={"stdio_h"})) == 0
    assert confcache.parse_cache_file(seeded) == {}


# $CC for the test below: a wrapper around the toolchain's compiler through a second script,
# real-cc, which goes away when configure asks for <termios.h> (a venv reinstall under way)
# and is back, the same bytes, two compiler calls later.
VANISHING_CC = """\
#!/bin/sh
if [ -f conftest.c ] && grep -q '<termios.h>' conftest.c && [ ! -e DIR/gone ]; then
  mv DIR/real-cc DIR/real-cc.away && echo 0 > DIR/gone
elif [ -f DIR/gone ]; then
  n=$(($(cat DIR/gone) + 1)) && echo "$n" > DIR/gone
  if [ "$n" -eq 2 ]; then cp -p DIR/real-cc.away DIR/real-cc; fi
fi
exec DIR/real-cc "$@"
"""


@pytest.mark.build
def test_answers_of_a_vanished_compiler_are_not_shared(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wasix_backend.toolchain import get_toolchain

    cc_dir = tmp_path / "cc"
    cc_dir.mkdir()
    real = cc_dir / "real-cc"
    real.write_text(f'#!/bin/sh\nexec "{get_toolchain().tool("wasixcc")}" "$@"\n')
    cc = cc_dir / "vanishing-cc"
    cc.write_text(VANISHING_CC.replace("DIR", str(cc_dir)))
    for script in (real, cc):
        script.chmod(0o755)
    # alpha once more, configured with that $CC.
    recipe = (plugins / "alpha" / "recipe.toml").read_text().replace('system = "autotools"', f'system = "autotools"\nenv = {{ CC = "{cc}" }}')
    write_plugin(tmp_path / "plugins", "alpha", recipe)
    cache = tmp_path / "configure-cache"
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", str(cache))
    capsys.readouterr()
    status = main(["--plugin-dir", str(tmp_path / "plugins"), "build", "alpha", "--store", str(tmp_path / "s1"), "--out", str(tmp_path / "o1"), "-j1"])
    err = " ".join(capsys.readouterr().err.split())
    assert (cc_dir / "gone").read_text().strip() != "0"  # it did vanish, and came back
    log = _configure_log(tmp_path / "s1", "alpha")
    assert "checking termios.h usability... no" in log or "checking for termios.h... no" in log  # what a vanished compiler answers
    assert status == 1
    assert "configure's answers cannot be trusted, none shared" in err and str(real) in err.replace(" ", ""), err
    assert not any(json.loads(f.read_text())["entries"] for f in cache.glob("*.json"))
    # The same $CC, staying put: termios.h is asked afresh, and found.
    (cc_dir / "gone").write_text("2")
    status = main(["--plugin-dir", str(tmp_path / "plugins"), "build", "alpha", "--store", str(tmp_path / "s2"), "--out", str(tmp_path / "o2"), "-j1"])
    assert status == 0, capsys.readouterr().err
    log = _configure_log(tmp_path / "s2", "alpha")
    assert "termios.h... yes" in log and "(cached)" not in log
    assert run(tmp_path / "o2" / "bin" / "alpha.wasm").text == "tcgetattr=1 fork_not_a_function=0 long=4\n"
    [shared] = list(cache.glob("*.json"))
    assert "=yes" in json.loads(shared.read_text())["entries"]["ac_cv_header_termios_h"]


@pytest.mark.build
def test_a_recipe_may_keep_out_of_the_shared_answers(
    plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "configure-cache"
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", str(cache))
    _build(plugins, tmp_path / "s1", tmp_path / "o1", "alpha", capsys=capsys)
    [shared] = list(cache.glob("*.json"))
    before = shared.read_bytes()
    # The same package with `configure-cache = false`: it loads (the key is declared), asks
    # every question itself and adds nothing to the answers the others share.
    recipe = (plugins / "alpha" / "recipe.toml").read_text().replace('system = "autotools"', 'system = "autotools"\nconfigure-cache = false')
    write_plugin(tmp_path / "plugins", "alpha", recipe)
    _build(tmp_path / "plugins", tmp_path / "s2", tmp_path / "o2", "alpha", capsys=capsys)
    log = _configure_log(tmp_path / "s2", "alpha")
    assert "checking for tcgetattr... yes" in log and "(cached)" not in log
    assert shared.read_bytes() == before and list(cache.glob("*.json")) == [shared]
    assert run(tmp_path / "o2" / "bin" / "alpha.wasm").text == "tcgetattr=1 fork_not_a_function=0 long=4\n"


# Two packages asking the same questions; "early" is handed answers instead of finding them.
PRESET_AC = """\
AC_INIT([NAME], [1.0])
AC_CONFIG_SRCDIR([prog.c])
AC_CONFIG_HEADERS([config.h])
AC_PROG_CC
AC_CHECK_SIZEOF([long])
AC_CHECK_TYPES([struct stat])
AC_CHECK_FUNCS([tcgetattr dup2])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""
PRESET_PROG_C = """\
#include "config.h"
#include <stdio.h>
#ifndef HAVE_TCGETATTR
#define HAVE_TCGETATTR 0
#endif
#ifndef HAVE_DUP2
#define HAVE_DUP2 0
#endif
#ifndef HAVE_STRUCT_STAT
#define HAVE_STRUCT_STAT 0
#endif
int main(void) {
    printf("tcgetattr=%d dup2=%d long=%d stat=%d\\n", HAVE_TCGETATTR, HAVE_DUP2, (int)SIZEOF_LONG, HAVE_STRUCT_STAT);
    return 0;
}
"""


@pytest.mark.build
def test_answers_a_recipe_presets_are_not_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """#37 item 18: findutils and tar pass ``ac_cv_type_getgroups=gid_t``; such presets, and
    whatever configure derives from them, must not become the toolchain's answers."""
    site = tmp_path / "config.site"
    site.write_text("ac_cv_func_dup2=no\n")
    # Every way an answer reaches configure without a check: an argument, the environment, a
    # site script; and one derived: with sys/stat.h "missing", struct stat is not a type either.
    presets = {
        "configure-args": ["ac_cv_func_tcgetattr=no", "ac_cv_header_sys_stat_h=no"],
        "env": {"ac_cv_sizeof_long": "8", "CONFIG_SITE": str(site)},
    }
    folder = tmp_path / "plugins"
    for name in ("early", "late"):
        tarball = tmp_path / "upstream" / f"{name}-1.0.tar.gz"
        sha = _tarball(tarball, f"{name}-1.0", _autoconf_project(tmp_path / f"gen-{name}", name, "", configure_ac=PRESET_AC, prog_c=PRESET_PROG_C))
        extra = "in-tree = true\n"
        if name == "early":
            extra += f"configure-args = {json.dumps(presets['configure-args'])}\n"
            extra += "env = {" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in presets["env"].items()) + "}\n"
        write_plugin(folder, name, package_recipe(name, tarball.as_uri(), sha, system="autotools", build_extra=extra))
    cache = tmp_path / "configure-cache"
    monkeypatch.setenv("WASIX_CONFIGURE_CACHE", str(cache))

    _build(folder, tmp_path / "s1", tmp_path / "o1", "early", capsys=capsys)
    log = _configure_log(tmp_path / "s1", "early")
    assert "loading site script" in log and "tcgetattr... (cached) no" in log and "size of long... (cached) 8" in log
    assert run(tmp_path / "o1" / "bin" / "early.wasm").text == "tcgetattr=0 dup2=0 long=8 stat=0\n"
    assert not any(json.loads(f.read_text())["entries"] for f in cache.glob("*.json"))

    # The next package finds the toolchain's own answers: config.h as without any cache.
    _build(folder, tmp_path / "s1", tmp_path / "o1", "late", capsys=capsys)
    assert "(cached)" not in _configure_log(tmp_path / "s1", "late")
    assert run(tmp_path / "o1" / "bin" / "late.wasm").text == "tcgetattr=1 dup2=1 long=4 stat=1\n"
    [shared] = list(cache.glob("*.json"))
    entries = json.loads(shared.read_text())["entries"]
    assert "=yes" in entries["ac_cv_func_tcgetattr"] and "=4" in entries["ac_cv_sizeof_long"] and "=yes" in entries["ac_cv_type_struct_stat"]

    # early again: it takes none of them either (its derived "no" to struct stat stays).
    _build(folder, tmp_path / "s2", tmp_path / "o2", "early", capsys=capsys)
    log = _configure_log(tmp_path / "s2", "early")
    assert "configure cache not used: this configure is given ac_cv_func_tcgetattr (argument), ac_cv_header_sys_stat_h (argument), " \
        "CONFIG_SITE (environment), ac_cv_sizeof_long (environment)" in " ".join(log.split())
    assert "checking for struct stat... no" in log
    assert run(tmp_path / "o2" / "bin" / "early.wasm").text == "tcgetattr=0 dup2=0 long=8 stat=0\n"
    assert json.loads(shared.read_text())["entries"] == entries


def test_given_answers_and_site_scripts(tmp_path: Path) -> None:
    env = {"CC": "cc", "gl_cv_func_x": "yes", "CONFIG_SITE": "/s", "PATH": "/bin"}
    args = ["--disable-nls", "ac_cv_type_getgroups=gid_t", "CFLAGS=-O2", "--with-x=ac_cv_y"]
    assert confcache.given_answers(env, args) == ["ac_cv_type_getgroups (argument)", "CONFIG_SITE (environment)", "gl_cv_func_x (environment)"]
    assert confcache.given_answers({"CC": "cc"}, ["--prefix=/p", "--cc=x", "--cache-file-x"]) == []
    own = ["--cache-file=/r/presets", "-C", "--cache-f", "--config-cache"]
    assert confcache.given_answers({}, own) == [f"a cache file of its own ({a})" for a in own]
    # A site script configure finds by itself under --prefix: seen only in config.log, afterwards.
    (tmp_path / "configure.ac").write_text("AC_INIT([x], [1])\nAC_OUTPUT\n")
    subprocess.run(["autoconf"], cwd=tmp_path, check=True, capture_output=True)
    site = tmp_path / "pfx" / "share" / "config.site"
    site.parent.mkdir(parents=True)
    site.write_text("ac_cv_func_dup2=no\n")
    subprocess.run(["./configure", f"--prefix={tmp_path / 'pfx'}"], cwd=tmp_path, check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"})
    assert confcache.site_scripts(tmp_path / "config.log") == [str(site)]
    assert confcache.site_scripts(tmp_path / "missing.log") == []
