"""A failed build says why: the first real errors of the failing step, config.log's failing check, then the tail.

Real builds of tiny packages the tests write, with the real toolchain; nothing is faked.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.cli import main
from wasix_backend.logsummary import error_lines

# The error comes first; 40 `#warning`s after it push it out of the log's last lines.
NOISY_C = "int main(void) { return syntax error }\n" + "".join(f'#warning "noise {i}"\n' for i in range(40))
NOISY_MK = "noisy: noisy.c\n\t$(CC) $(CFLAGS) -o noisy noisy.c\n"
NEEDY_AC = """\
AC_INIT([needy], [1.0])
AC_PROG_CC
AC_CHECK_HEADER([wasix_no_such_header.h], [], [AC_MSG_ERROR([wasix_no_such_header.h is required])])
AC_OUTPUT
"""


def _recipe(name: str, url: str, sha: str, system: str) -> str:
    return textwrap.dedent(f"""\
        [package]
        name = "{name}"
        version = "1.0"

        [[source]]
        url = "{url}"
        sha256 = "{sha}"

        [build]
        system = "{system}"

        [outputs]
        bin = ["{name}"]
        """)


def _build(tmp_path: Path, capsys, name: str, files: dict[str, str], system: str) -> str:
    sha = make_tarball(tmp_path / "up" / f"{name}-1.0.tar.gz", f"{name}-1.0", files)
    with serve(tmp_path / "up") as srv:
        write_plugin(tmp_path / "plugins", name, _recipe(name, srv.url_for(f"{name}-1.0.tar.gz"), sha, system))
        capsys.readouterr()
        assert main(["--plugin-dir", str(tmp_path / "plugins"), "build", name, "--out", str(tmp_path / "dist")]) == 1
    return capsys.readouterr().err


@pytest.mark.build
def test_a_compile_error_after_many_warnings_is_shown_first(tmp_path: Path, store: Path, capsys) -> None:
    message = _build(tmp_path, capsys, "noisy", {"noisy.c": NOISY_C, "Makefile": NOISY_MK}, "make")
    assert "noisy: compile failed" in message
    first, _, tail = message.partition("last lines of the log:")
    assert "first errors:" in first
    assert "noisy.c:1:" in first and "error:" in first  # the compiler's own error line
    assert "Error" in first and "make" in first          # and make's `*** [...] Error 1`
    assert "noise 39" in tail and "noisy.c:1:" not in tail  # the tail alone would have hidden it
    assert first.index("error:") < first.index("Error")  # in the log's order


@pytest.mark.build
def test_a_failing_configure_check_names_config_log_and_shows_the_check(tmp_path: Path, store: Path, capsys) -> None:
    message = _build(tmp_path, capsys, "needy", {"configure.ac": NEEDY_AC}, "autotools")
    assert "needy: configure failed" in message
    assert "configure: error: wasix_no_such_header.h is required" in message
    config_log = next(line.split("see ", 1)[1].split(" — ")[0] for line in message.splitlines() if "configure failed: see" in line)
    assert Path(config_log).name == "config.log" and Path(config_log).is_file()
    check = message.split("the failing check:", 1)[1].split("last lines of the log:", 1)[0]
    assert "checking for wasix_no_such_header.h" in check
    assert "wasix_no_such_header.h" in check and "not found" in check  # the compiler's reason, from config.log


@pytest.mark.parametrize(
    ("line", "is_error"),
    [
        ("noisy.c:1:25: error: use of undeclared identifier 'syntax'", True),
        ("x.c:3: fatal error: foo.h: No such file or directory", True),
        ("wasm-ld: error: undefined symbol: tcgetattr", True),
        ("error[E0425]: cannot find value `x` in this scope", True),
        ("configure: error: C compiler cannot create executables", True),
        ("make: *** [Makefile:2: noisy] Error 1", True),
        ("make[2]: *** No rule to make target 'x.o'.  Stop.", True),
        ("CMake Error at CMakeLists.txt:3 (project):", True),
        ("noisy.c:2:2: warning: noise 0 [-W#warnings]", False),
        ("checking for error_at_line... no", False),
        ("gcc -Werror=implicit -c x.c", False),
    ],
)
def test_error_lines(line: str, is_error: bool) -> None:
    assert bool(error_lines([line])) is is_error
