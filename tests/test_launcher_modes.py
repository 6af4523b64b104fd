"""The modes a program gives its files reach the host (issue 37, item 12).

wasmer-sdk's sandbox keeps no permission bits, so programs built with wasix-libc record the
modes they ask for (``toolchain/compat/src/modes.c``) and the wheel launcher applies them at
write-back: creation modes less the umask, chmod's exactly. The program is compiled with the
real ``wasixcc`` (wasix provider), packed into a real wheel and run by its launcher under
wasmer-sdk in a host directory made by the test.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_launcher import unpacked_wheel

from wasix_backend.outputs import mirror
from wasix_backend.toolchain import driver_bin_dir

MODES_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static void say(const char *what, int r) { printf("%s %s\n", what, r == 0 ? "ok" : strerror(errno)); }
int main(void) {
    int fd = open("tool", O_WRONLY | O_CREAT | O_TRUNC, 0755);  /* no #!: content says nothing */
    write(fd, "tool\n", 5);
    close(fd);
    fd = open("secret", O_WRONLY | O_CREAT | O_EXCL, 0600);
    write(fd, "secret\n", 7);
    close(fd);
    say("chmod existing", chmod("existing", 0700));  /* unchanged content: only its mode */
    say("chmod missing", chmod("missing", 0700));
    FILE *f = fopen("script", "w");  /* a script made executable through its descriptor */
    fputs("#!/bin/sh\n", f);
    fflush(f);
    say("fchmod script", fchmod(fileno(f), 0750));
    fclose(f);
    f = fopen("plain", "w");  /* fopen's 0666, whatever it holds */
    fputs("#!/bin/sh\n", f);
    fclose(f);
    say("mkdir private", mkdir("private", 0700));
    int dir = open("private", O_RDONLY | O_DIRECTORY);  /* the *at() calls, from a directory */
    close(openat(dir, "inner", O_WRONLY | O_CREAT, 0640));
    say("mkdirat deeper", mkdirat(dir, "deeper", 0711));
    close(openat(dir, "deeper/file", O_WRONLY | O_CREAT, 0644));
    say("fchmodat file", fchmodat(dir, "deeper/file", 0604, 0));
    close(dir);
    struct stat st;  /* modes computed from stat(): `chmod u+x`, a copy keeping its source's */
    say("stat run.sh", stat("run.sh", &st));
    say("chmod u+x run.sh", chmod("run.sh", (st.st_mode & 07777) | S_IXUSR));
    int in = open("private.txt", O_RDONLY);
    say("fstat private.txt", fstat(in, &st));
    close(in);
    close(open("private.copy", O_WRONLY | O_CREAT, st.st_mode & 07777));
    say("stat tool", stat("tool", &st));
    printf("tool %o\n", (unsigned int)(st.st_mode & 07777));
    return 0;
}
"""


@pytest.fixture(scope="module")
def modes_prog(provider_env, tmp_path_factory) -> Path:
    """The program built with wasix-libc, in a wheel, unpacked: ``python -m wasix_modes``."""
    env = provider_env("wasix")
    root = tmp_path_factory.mktemp("modes")
    (root / "modes.c").write_text(MODES_C)
    (root / "prefix" / "bin").mkdir(parents=True)
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-Wall", "-Werror", "-O2", "modes.c", "-o", "prefix/bin/modes.wasm"],
                          cwd=root, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return unpacked_wheel(root, "modes")


@pytest.mark.build
@pytest.mark.parametrize("umask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_the_modes_a_program_gives_reach_the_host(modes_prog, tmp_path, umask):
    work = tmp_path / "work"
    work.mkdir()
    (work / "existing").write_text("host file\n")
    (work / "existing").chmod(0o644)
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o640)
    (work / "private.txt").write_text("private\n")
    (work / "private.txt").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
    env.update(PYTHONPATH=str(modes_prog), WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(tmp_path / "cache"))
    old = os.umask(umask)  # the launcher inherits it, as a native program would
    try:
        res = subprocess.run([sys.executable, "-m", "wasix_modes"], cwd=work, env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr

    def mode(name: str) -> str:
        return oct(stat.S_IMODE((work / name).stat().st_mode))

    names = ("tool", "secret", "existing", "script", "plain", "private", "private/inner", "private/deeper",
             "private/deeper/file", "run.sh", "private.copy")  # fmt: skip
    assert {name: mode(name) for name in names} == {
        "tool": oct(0o755 & ~umask), "secret": oct(0o600 & ~umask), "existing": oct(0o700),
        "script": oct(0o750), "plain": oct(0o666 & ~umask),  # fopen's mode: #! changes nothing
        "private": oct(0o700 & ~umask), "private/inner": oct(0o640 & ~umask),
        "private/deeper": oct(0o711 & ~umask), "private/deeper/file": oct(0o604),
        "run.sh": oct(0o740), "private.copy": oct(0o600 & ~umask),  # built on the host's modes
    }  # fmt: skip
    assert (work / "existing").read_text() == "host file\n"
    # chmod succeeds for an existing file, and fails as natively for a missing one.
    assert res.stdout.splitlines() == ["chmod existing ok", "chmod missing No such file or directory",
                                       "fchmod script ok", "mkdir private ok", "mkdirat deeper ok",
                                       "fchmodat file ok", "stat run.sh ok", "chmod u+x run.sh ok",
                                       "fstat private.txt ok", "stat tool ok",
                                       f"tool {0o755 & ~umask:o}"]  # the program sees its modes too  # fmt: skip
    assert "not applied" not in res.stderr and not (tmp_path / "cache" / "rescue").exists()
    assert not (work / ".wasix-modes").exists()  # the record stays in the sandbox


def test_mode_records_are_read_last_one_winning(tmp_path):
    record = (b"c 755 /w/tool\0m 700 /w/tool\0c 600 " + mirror.GUEST_ROOT.encode() + b"/w/./secret\0"
              b"c 644 /w/nl\nname\0m 7 /w/torn")  # fmt: skip
    assert mirror.parse_modes(record) == {"/w/tool": (0o700, True), "/w/secret": (0o600, False),
                                          "/w/nl\nname": (0o644, False)}  # fmt: skip
    assert mirror.parse_modes(b"") == {} and mirror.parse_modes(b"x 1 /a\0c zz /b\0c 1 rel\0") == {}


def test_the_record_starts_with_the_umask_and_the_host_modes(tmp_path):
    (tmp_path / "sub").mkdir(mode=0o750)
    (tmp_path / "sub").chmod(0o750)
    (tmp_path / "sub" / "key").write_text("k")
    (tmp_path / "sub" / "key").chmod(0o600)
    plan = mirror.plan_mirror([], str(tmp_path), "prog")
    old = os.umask(0o027)
    try:
        seed = mirror.seed_modes(plan)
    finally:
        os.umask(old)
    entries = seed.split(b"\0")
    assert entries[0] == b"u 27 /" and entries[-1] == b""  # every record ends with its \0
    assert f"h 750 {tmp_path}/sub".encode() in entries and f"h 600 {tmp_path}/sub/key".encode() in entries
    assert mirror.parse_modes(seed) == {}  # what the host has already is nothing to apply
