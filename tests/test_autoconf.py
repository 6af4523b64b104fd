"""A small autoconf project configured with CC=wasixcc for --host=wasm32-wasix, built, run."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.runtime import run
from wasix_backend.toolchain import get_toolchain

pytestmark = pytest.mark.build  # configure scripts run against each provider's real compiler

CONFIGURE_AC = """\
AC_INIT([tiny], [1.0])
AC_CONFIG_SRCDIR([tiny.c])
AC_CONFIG_HEADERS([config.h])
AC_PROG_CC
AC_CHECK_HEADERS([termios.h sys/ioctl.h pwd.h])
AC_CHECK_FUNCS([tcgetattr dup2 getpwuid fork_not_a_function])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""
MAKEFILE_IN = """\
CC = @CC@
CFLAGS = @CFLAGS@
tiny@EXEEXT@: tiny.c config.h
\t$(CC) $(CFLAGS) -I. -o $@ tiny.c
"""
TINY_C = """\
#include "config.h"
#include <stdio.h>
#include <termios.h>
int main(void) {
    struct termios t;
#if defined(HAVE_TCGETATTR) && defined(HAVE_TERMIOS_H)
    printf("configured for WASIX: tcgetattr=%d\\n", tcgetattr(0, &t) == 0);
#endif
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("autoconf") is None, reason="autoconf is not installed (.ci/run installs it: apt-get install autoconf)")
def test_configure_for_wasm32_wasix_passes_the_compiler_checks(tmp_path: Path, provider: str, provider_env, monkeypatch) -> None:
    for key, value in provider_env(provider).items():
        monkeypatch.setenv(key, value)
    for name, text in {"configure.ac": CONFIGURE_AC, "Makefile.in": MAKEFILE_IN, "tiny.c": TINY_C}.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    for tool in ("autoheader", "autoconf"):
        subprocess.run([tool], cwd=tmp_path, check=True)
    tc = get_toolchain(provider)
    env = {**os.environ, **tc.configure_env()}
    conf = subprocess.run(["./configure", "--host=wasm32-wasix", f"CC={tc.tool('wasixcc')}"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert conf.returncode == 0, conf.stdout[-2000:] + (tmp_path / "config.log").read_text()[-3000:]
    assert "checking whether we are cross compiling... yes" in conf.stdout
    assert "checking whether the C compiler works... yes" in conf.stdout
    header = (tmp_path / "config.h").read_text()
    for macro in ("HAVE_TERMIOS_H", "HAVE_SYS_IOCTL_H", "HAVE_PWD_H", "HAVE_TCGETATTR", "HAVE_DUP2", "HAVE_GETPWUID"):
        assert f"#define {macro} 1" in header, macro
    assert "#define HAVE_FORK_NOT_A_FUNCTION 1" not in header  # link checks really link
    subprocess.run(["make"], cwd=tmp_path, env={**os.environ, **tc.env()}, check=True, capture_output=True)
    assert run(tmp_path / "tiny").text == "configured for WASIX: tcgetattr=1\n"
