"""Small C programs on wasix-libc, exercised under the real runtime: terminals, descriptors,
poll, isatty (the launcher's steps in toolchain/compat/src/ included).

Each test compiles a small C program with ``wasixcc`` and runs it with wasmer-sdk; the program
prints what the C library and the runtime answered.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.runtime import run, wasmer_cache_dir
from wasix_backend.toolchain import compat, driver_bin_dir

#: The provider environment of the running test (its test store and sysroot), set by the
#: ``each_provider`` fixture; without it the build tier's default (conftest) applies.
_ENV: dict[str, str] = {}


@pytest.fixture
def each_provider(provider: str, provider_env):
    saved = dict(_ENV)
    _ENV.clear()
    _ENV.update(provider_env(provider))
    yield provider
    _ENV.clear()
    _ENV.update(saved)


def build(tmp_path: Path, source: str, *flags: str, name: str = "prog") -> Path:
    (tmp_path / f"{name}.c").write_text(textwrap.dedent(source))
    out = tmp_path / f"{name}.wasm"
    proc = subprocess.run(
        [str(driver_bin_dir() / "wasixcc"), "-Wall", "-Werror", *flags, f"{name}.c", "-o", out.name],
        cwd=tmp_path, env={**os.environ, **_ENV}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def imports(wasm: Path) -> set[tuple[str, str]]:
    import wasmtime

    module = wasmtime.Module(wasmtime.Engine(), wasm.read_bytes())
    return {(imp.module, imp.name) for imp in module.imports}


@pytest.mark.build
def test_termios_header_is_complete(tmp_path: Path, each_provider: str) -> None:
    speeds = "B0 B50 B75 B110 B134 B150 B200 B300 B600 B1200 B1800 B2400 B4800 B9600 B19200 B38400 B57600 B115200 B230400 B460800 B4000000"
    others = "VINTR VQUIT VERASE VKILL VEOF VTIME VMIN VSTART VSTOP VSUSP VEOL VREPRINT VDISCARD VWERASE VLNEXT VEOL2 IGNBRK BRKINT ICRNL IXON IXOFF OPOST ONLCR CSIZE CS8 CREAD PARENB HUPCL CLOCAL ISIG ICANON ECHO ECHOE ECHOK ECHONL NOFLSH TOSTOP IEXTEN TCSANOW TCSADRAIN TCSAFLUSH TCIFLUSH TCOFLUSH TCIOFLUSH"
    names = (speeds + " " + others).split()
    body = "\n".join(f"    v ^= (unsigned){n};" for n in names)
    wasm = build(
        tmp_path,
        f"#include <termios.h>\n#include <stdio.h>\nint main(void) {{\n    unsigned v = 0;\n{body}\n"
        "    printf(\"%u %d\\n\", v, NCCS);\n    return 0;\n}\n",
    )
    assert run(wasm).text.split()[1] == "32"


@pytest.mark.build
def test_descriptors_dup_dup2_pipe_fcntl(tmp_path: Path, each_provider: str) -> None:
    wasm = build(
        tmp_path,
        """
        #include <fcntl.h>
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        int main(void) {
            int saved = dup(1);
            int f = open("/workspace/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
            fflush(stdout);
            dup2(f, 1);
            printf("into the file\\n");
            fflush(stdout);
            dup2(saved, 1);
            printf("back on stdout\\n");
            int p[2];
            printf("pipe %d\\n", pipe(p));
            write(p[1], "through", 7);
            char buf[16] = {0};
            read(p[0], buf, sizeof buf - 1);
            printf("read %s\\n", buf);
            int high = fcntl(saved, F_DUPFD, 40);
            printf("dupfd %d\\n", high >= 40);
            return 0;
        }
        """,
    )
    result = run(wasm, read_back=["/workspace/out.txt"])
    assert result.text.splitlines() == ["back on stdout", "pipe 0", "read through", "dupfd 1"]
    assert result.files["/workspace/out.txt"] == b"into the file\n"
    assert ("wasix_32v1", "fd_dup") in imports(wasm)


def test_library_cache_key_tracks_sources_and_compiler() -> None:
    key = compat.source_key("wasix llvm=/a sysroot=/b")
    assert key == compat.source_key("wasix llvm=/a sysroot=/b")
    assert key != compat.source_key("wasix llvm=/c sysroot=/b")


ZERO_POLL = r"""
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    struct pollfd p = {0, POLLIN, 0};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = poll(&p, 1, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    printf("ready=%d fast=%d\n", r, ms < 500);
    char c;
    return read(0, &c, 1) == 1 ? 0 : 1;
}
"""


@pytest.mark.build
def test_a_zero_timeout_poll_answers_at_once_while_stdin_is_still_open(tmp_path: Path, each_provider: str) -> None:
    # Curses asks "is a key waiting?" on every refresh; the host must not block it until one is.
    import asyncio

    from wasmer_sdk import Wasmer

    wasm = build(tmp_path, ZERO_POLL).read_bytes()

    async def late_key() -> bytes:
        async with Wasmer(cache_root=wasmer_cache_dir()) as wasmer:
            pkg = await wasmer.packages.load(wasm)
            async with await wasmer.sandboxes.create(packages=[pkg]) as sb:
                proc = await sb.command(pkg).spawn(stdin="pipe")
                await asyncio.sleep(1.5)
                await proc.stdin.write(b"k")
                await proc.stdin.close()
                return (await proc.wait()).stdout.bytes

    assert asyncio.run(late_key()) == b"ready=0 fast=1\n"


ISATTY = """
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    for (int fd = 0; fd <= 3; fd++) {
        errno = 0;
        int t = isatty(fd);
        printf("%d:%d%s ", fd, t, t ? "" : (errno == ENOTTY ? "/ENOTTY" : errno == EBADF ? "/EBADF" : ""));
    }
    printf("\\n");
    return 0;
}
"""


@pytest.mark.build
def test_isatty_follows_the_hosts_terminals(tmp_path: Path, each_provider: str) -> None:
    """The sandbox calls every standard stream a terminal; WASIX_HOST_TTYS (the launcher's
    streams that are terminals) turns the others into "no", and never a "no" into a "yes"."""
    wasm = build(tmp_path, ISATTY)
    sandbox = run(wasm).text.split()
    assert sandbox[:3] == ["0:1", "1:1", "2:1"], sandbox
    assert run(wasm, env={"WASIX_HOST_TTYS": "-"}).text.split()[:3] == ["0:0/ENOTTY", "1:0/ENOTTY", "2:0/ENOTTY"]
    assert run(wasm, env={"WASIX_HOST_TTYS": "02"}).text.split()[:3] == ["0:1", "1:0/ENOTTY", "2:1"]
    # descriptor 3 (a preopened directory) is no terminal, whatever the variable says
    assert run(wasm, env={"WASIX_HOST_TTYS": "0123"}).text.split()[3] == sandbox[3] and not sandbox[3].startswith("3:1")
