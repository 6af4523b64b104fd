"""The WASIX compatibility layer of the offline provider, exercised under the real runtime.

Each test compiles a small C program with ``wasixcc`` (zig provider) and runs it with
wasmer-sdk; the program prints what the layer answered.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.runtime import run, wasmer_cache_dir
from wasix_backend.toolchain import compat, driver_bin_dir

#: The provider of the running test (behaviour tests run on both: the compat layer must
#: answer as wasix-libc does). Set by the ``each_provider`` fixture.
_ENV: dict[str, str] = {"WASIX_PROVIDER": "zig", "WASIXCC_PROVIDER": "zig"}


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


# zig only: wasix-libc's tcsetattr keeps neither VTIME nor the speed across tty_set under wasmer-sdk.
@pytest.mark.build
def test_terminal_calls_use_the_wasix_host(tmp_path: Path) -> None:
    wasm = build(
        tmp_path,
        """
        #include <stdio.h>
        #include <sys/ioctl.h>
        #include <termios.h>
        #include <unistd.h>
        int main(void) {
            struct winsize ws = {0};
            struct termios t, back;
            printf("winsize %d %dx%d\\n", ioctl(1, TIOCGWINSZ, &ws), ws.ws_col, ws.ws_row);
            printf("get %d\\n", tcgetattr(0, &t));
            cfmakeraw(&t);
            t.c_cc[VMIN] = 0; t.c_cc[VTIME] = 7;
            cfsetospeed(&t, B9600);
            printf("set %d\\n", tcsetattr(0, TCSAFLUSH, &t));
            tcgetattr(0, &back);
            printf("raw %d vtime %d speed %d\\n", (back.c_lflag & (ECHO | ICANON)) == 0,
                   back.c_cc[VTIME], cfgetospeed(&back) == B9600);
            printf("bad action %d\\n", tcsetattr(0, 99, &t));
            return 0;
        }
        """,
    )
    assert ("wasix_32v1", "tty_get") in imports(wasm)
    assert ("wasix_32v1", "tty_set") in imports(wasm)
    lines = run(wasm).text.splitlines()
    # Wasmer's sandbox reports an 80x25 terminal.
    assert lines[0] == "winsize 0 80x25"
    assert lines[1:4] == ["get 0", "set 0", "raw 1 vtime 7 speed 1"]
    assert lines[4] == "bad action -1"


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


# zig only: signal masks and SIGINFO/reset answers of wasix-libc differ from the layer's.
@pytest.mark.build
def test_signals_are_delivered_in_process(tmp_path: Path) -> None:
    wasm = build(
        tmp_path,
        """
        #include <signal.h>
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        static volatile sig_atomic_t hits, info_sig;
        static void on_sig(int s) { hits += s; }
        static void on_info(int s, siginfo_t *i, void *c) { (void)c; info_sig = i->si_signo + s; }
        int main(void) {
            struct sigaction sa, old;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_sig;
            sigemptyset(&sa.sa_mask);
            printf("install %d\\n", sigaction(SIGWINCH, &sa, NULL));
            kill(getpid(), SIGWINCH);
            printf("hits %d\\n", (int)hits);
            sigset_t block;
            sigemptyset(&block);
            sigaddset(&block, SIGWINCH);
            printf("member %d %d\\n", sigismember(&block, SIGWINCH), sigismember(&block, SIGINT));
            sigprocmask(SIG_BLOCK, &block, NULL);
            kill(getpid(), SIGWINCH);
            printf("blocked %d\\n", (int)hits);
            sigprocmask(SIG_UNBLOCK, &block, NULL);
            printf("unblocked %d\\n", (int)hits);
            sigaction(SIGWINCH, NULL, &old);
            printf("old is ours %d\\n", old.sa_handler == on_sig);
            sa.sa_sigaction = on_info;
            sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
            sigaction(SIGUSR1, &sa, NULL);
            raise(SIGUSR1);
            sigaction(SIGUSR1, NULL, &old);
            printf("info %d reset %d\\n", (int)info_sig, old.sa_handler == SIG_DFL);
            printf("kill bad pid %d\\n", kill(4242, SIGTERM));
            printf("refuse SIGKILL %d\\n", sigaction(SIGKILL, &sa, NULL));
            return 0;
        }
        """,
    )
    assert run(wasm).text.splitlines() == [
        "install 0",
        "hits 28",
        "member 1 0",
        "blocked 28",
        "unblocked 56",
        "old is ours 1",
        "info 20 reset 1",
        "kill bad pid -1",
        "refuse SIGKILL -1",
    ]


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


# zig only: wasix-libc hides P_tmpdir (the layer defines it).
@pytest.mark.build
def test_identity_and_process_calls_answer_like_wasix(tmp_path: Path) -> None:
    wasm = build(
        tmp_path,
        """
        #include <errno.h>
        #include <pwd.h>
        #include <stdio.h>
        #include <sys/resource.h>
        #include <sys/stat.h>
        #include <sys/wait.h>
        #include <unistd.h>
        int main(void) {
            printf("uid %d euid %d gid %d\\n", (int)getuid(), (int)geteuid(), (int)getgid());
            printf("pw %d login %d\\n", getpwuid(getuid()) == NULL, getlogin() == NULL);
            errno = 0;
            printf("fork %d %d\\n", (int)fork(), errno == ENOSYS);
            int status;
            printf("waitpid %d %d\\n", (int)waitpid(-1, &status, WNOHANG), errno == ECHILD);
            printf("umask %o %o\\n", (unsigned)umask(077), (unsigned)umask(022));
            struct rlimit rl;
            printf("nofile %d %llu\\n", getrlimit(RLIMIT_NOFILE, &rl), rl.rlim_cur);
            printf("P_tmpdir %s\\n", P_tmpdir);
            return 0;
        }
        """,
    )
    assert run(wasm).text.splitlines() == [
        "uid 0 euid 0 gid 0",
        "pw 1 login 1",
        "fork -1 1",
        "waitpid -1 1",
        "umask 22 77",
        "nofile 0 1024",
        "P_tmpdir /tmp",
    ]


@pytest.mark.build
def test_configure_style_link_checks_find_the_layer(tmp_path: Path) -> None:
    # autoconf's AC_CHECK_FUNCS declares the function itself and only links: the layer
    # must be on every link for configure to see termios (and not fall back to sgtty).
    for func in ("tcgetattr", "sigaction", "dup2", "getpwuid", "getrlimit"):
        build(tmp_path, f"char {func}(void);\nint main(void) {{ return {func}(); }}\n", "-Wno-error", name=func)


@pytest.mark.build
def test_sgtty_is_refused_with_a_pointer_to_termios(tmp_path: Path) -> None:
    (tmp_path / "s.c").write_text("#include <sgtty.h>\nint main(void) { return 0; }\n")
    proc = subprocess.run(
        [str(driver_bin_dir() / "wasixcc"), "-c", "s.c"],
        cwd=tmp_path, env={**os.environ, "WASIXCC_PROVIDER": "zig"}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0 and "termios" in proc.stderr


def test_library_cache_key_tracks_sources_and_compiler() -> None:
    key = compat.source_key("zig 0.17.1")
    assert key == compat.source_key("zig 0.17.1")
    assert key != compat.source_key("zig 0.16.0")


@pytest.mark.build
@pytest.mark.parametrize("header", ["termios.h", "signal.h", "sys/ioctl.h", "sys/wait.h", "pwd.h", "grp.h", "fcntl.h"])
def test_headers_compile_as_cxx(tmp_path: Path, header: str) -> None:
    (tmp_path / "h.cc").write_text(f"#include <{header}>\nint main() {{ return 0; }}\n")
    proc = subprocess.run(
        [str(driver_bin_dir() / "wasix++"), "-c", "h.cc"],
        cwd=tmp_path, env={**os.environ, "WASIXCC_PROVIDER": "zig"}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


TEMP_AND_HOST = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char path[] = "/tmp/wasixXXXXXX";
    int fd = mkstemp(path);
    printf("mkstemp=%d replaced=%d\n", fd >= 0, strcmp(path, "/tmp/wasixXXXXXX") != 0);
    printf("write=%zd unlink=%d\n", write(fd, "x", 1), unlink(path));
    char dir[] = "/tmp/dXXXXXX";
    printf("mkdtemp=%d\n", mkdtemp(dir) != NULL);
    char host[64];
    printf("gethostname=%d %s\n", gethostname(host, sizeof host), host);
    return 0;
}
"""


# zig only: wasix-libc's gethostname answers the host's name (wasmer.sh), the layer localhost.
@pytest.mark.build
def test_temporary_files_and_host_name(tmp_path: Path) -> None:
    out = run(build(tmp_path, TEMP_AND_HOST)).text
    assert out.splitlines() == ["mkstemp=1 replaced=1", "write=1 unlink=0", "mkdtemp=1", "gethostname=0 localhost"]


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
