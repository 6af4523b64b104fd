"""The host terminal under the wheel launcher: its normal modes until the program asks for
others, the program's requests applied in order, restored at the end (``outputs/terminal.py``
and ``toolchain/compat/src/host_tty.c``).

Unit tests drive :mod:`wasix_backend.outputs.terminal` on a real pseudo-terminal; the build
tests compile a small C program with each provider, pack it in a wheel and run the launcher on
a pseudo-terminal that is its controlling terminal, as a user's shell would.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
import zipfile
from pathlib import Path

import pytest
from test_c_programs import build, each_provider  # noqa: F401  (fixture)

from wasix_backend.outputs import terminal
from wasix_backend.outputs.terminal import (
    HostTerminal,
    Request,
    RequestFilter,
    Session,
    guest_modes,
)
from wasix_backend.outputs.wheel import write_wheel
from wasix_backend.recipe import recipe_from_dict


def _request(action: int, attrs: list, lflag_off: int = 0) -> bytes:
    """What the terminal step writes for ``attrs`` (a host tcgetattr list) less ``lflag_off``."""
    iflag, oflag, cflag, lflag, cc = guest_modes(attrs, termios).split()
    lflag = f"{int(lflag, 16) & ~lflag_off:x}"
    return terminal.REQUEST_START + f"{action} {iflag} {oflag} {cflag} {lflag} {cc}".encode() + terminal.REQUEST_END


@pytest.fixture
def pair():
    master, slave = pty.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_requests_are_taken_out_of_the_output_wherever_chunks_split_them(pair):
    raw = _request(1, termios.tcgetattr(pair[1]), lflag_off=terminal.GUEST_LFLAG["ICANON"])
    stream = b"before" + raw + b"between\x1b[?1049h" + raw + b"after"
    for cut in range(1, len(stream)):
        filt = RequestFilter()
        segments, requests = [b""], []
        for item in filt.feed(stream[:cut]) + filt.feed(stream[cut:]) + [filt.flush()]:
            if isinstance(item, Request):
                requests.append(item)
                segments.append(b"")
            else:
                segments[-1] += item
        assert segments == [b"before", b"between\x1b[?1049h", b"after"], cut  # in order
        assert len(requests) == 2 and not requests[0].lflag & terminal.GUEST_LFLAG["ICANON"]


def test_an_unfinished_or_malformed_request_is_shown_as_it_was_written():
    filt = RequestFilter()
    text = terminal.REQUEST_START + b"x" * (terminal.REQUEST_MAX + 10)
    assert b"".join(i for i in filt.feed(text) if isinstance(i, bytes)) + filt.flush() == text
    filt = RequestFilter()
    bad = terminal.REQUEST_START + b"not a request" + terminal.REQUEST_END
    assert filt.feed(b"a" + bad + b"b") == [b"a", bad, b"b"]
    assert filt.feed(b"tail\x1b") == [b"tail"] and filt.flush() == b"\x1b"


def test_the_host_modes_reach_the_program_in_its_numbering(pair):
    attrs = termios.tcgetattr(pair[1])
    iflag, oflag, _cflag, lflag, cc = guest_modes(attrs, termios).split()
    assert int(lflag, 16) & 0o2 == (0o2 if attrs[3] & termios.ICANON else 0)  # ICANON
    assert int(lflag, 16) & 0o10 == (0o10 if attrs[3] & termios.ECHO else 0)  # ECHO
    assert int(iflag, 16) & 0o400 == (0o400 if attrs[0] & termios.ICRNL else 0)  # ICRNL
    assert int(oflag, 16) & 0o4 == (0o4 if attrs[1] & termios.ONLCR else 0)  # ONLCR
    assert bytes.fromhex(cc)[terminal.GUEST_CC["VEOF"]] == attrs[6][termios.VEOF][0]
    assert bytes.fromhex(cc)[terminal.GUEST_CC["VINTR"]] == attrs[6][termios.VINTR][0]
    assert len(bytes.fromhex(cc)) == terminal.GUEST_NCCS
    if sys.platform.startswith("linux"):  # Linux numbers them as the program's C library does
        for table, name in ((terminal.GUEST_IFLAG, "i"), (terminal.GUEST_OFLAG, "o"), (terminal.GUEST_LFLAG, "l")):
            for flag, bit in table.items():
                assert getattr(termios, flag, bit) == bit, (name, flag)


def test_a_request_is_applied_and_the_start_restored(pair):
    _master, slave = pair
    before = termios.tcgetattr(slave)
    host = HostTerminal(slave)
    off = terminal.GUEST_LFLAG["ICANON"] | terminal.GUEST_LFLAG["ECHO"] | terminal.GUEST_LFLAG["ISIG"]
    (request,) = RequestFilter().feed(_request(1, before, lflag_off=off))
    assert isinstance(request, Request)
    host.apply(request)
    now = termios.tcgetattr(slave)
    assert not now[3] & (termios.ICANON | termios.ECHO | termios.ISIG)
    assert now[0] == before[0] and now[1] == before[1]  # only what was asked changed
    assert now[6][termios.VMIN] == 1 and now[6][termios.VTIME] == 0  # reads stay blocking
    host.restore()
    assert termios.tcgetattr(slave) == before


def test_a_module_that_cannot_ask_gets_raw_mode_for_the_run(pair):
    _master, slave = pair
    before = termios.tcgetattr(slave)
    session = Session(HostTerminal(slave), follow=False, interactive=True)
    assert "WASIX_HOST_TERMIOS" not in session.env()
    session.enter()
    assert not termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO)
    session.restore()
    assert termios.tcgetattr(slave) == before
    following = Session(HostTerminal(slave), follow=True, interactive=True)
    following.enter()
    assert termios.tcgetattr(slave) == before  # the normal modes until the program asks
    assert following.env()["WASIX_HOST_TERMIOS"] == guest_modes(before, termios)


# ------------------------------------------------------------------------- programs ---

TTY_C = r"""
#include <stdio.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <unistd.h>
int main(void) {
    struct termios saved, raw;
    struct winsize ws = {0};
    ioctl(1, TIOCGWINSZ, &ws);
    if (tcgetattr(0, &saved) != 0) { printf("no terminal\n"); return 2; }
    printf("size %dx%d echo %d icanon %d\n", ws.ws_col, ws.ws_row, !!(saved.c_lflag & ECHO), !!(saved.c_lflag & ICANON));
    fflush(stdout);
    for (int i = 0; i < 5; i++) {  /* a shell's output on stdout, its prompt on stderr */
        printf("out%d ", i);
        fflush(stdout);
        fprintf(stderr, "err%d ", i);
    }
    printf("\n");
    raw = saved;
    cfmakeraw(&raw);
    tcsetattr(0, TCSADRAIN, &raw);
    printf("raw now\r\n");
    fflush(stdout);
    char c = 0;
    read(0, &c, 1);
    tcsetattr(0, TCSADRAIN, &saved);
    printf("key %02x, cooked now\n", c);
    fflush(stdout);
    char line[100];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof line && (r = read(0, line + n, sizeof line - n)) > 0)
        n += (size_t)r;
    printf("read %d: %.*s|\n", (int)n, (int)n, line);
    return 0;
}
"""


@pytest.fixture
def tty_prog(each_provider, tmp_path) -> Path:  # noqa: F811
    """The program packed in a wheel and unpacked: ``python -m wasix_ttyprog``."""
    wasm = build(tmp_path, TTY_C, "-O2", name="ttyprog")
    (tmp_path / "prefix" / "bin").mkdir(parents=True)
    (tmp_path / "prefix" / "bin" / "ttyprog.wasm").write_bytes(wasm.read_bytes())
    recipe = recipe_from_dict({"package": {"name": "ttyprog", "version": "1"}, "outputs": {"bin": ["ttyprog"]}}, plugin="t")
    with zipfile.ZipFile(write_wheel(recipe, tmp_path / "prefix", tmp_path / "wheels")) as zf:
        zf.extractall(tmp_path / "site")
    return tmp_path / "site"


class Pty:
    """The launcher on a pseudo-terminal that is its controlling terminal (so ^C is SIGINT)."""

    def __init__(self, site: Path, cwd: Path, cols: int = 120, rows: int = 33) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, bytes([rows, 0, cols, 0, 0, 0, 0, 0]))
        self.before = termios.tcgetattr(self.slave)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
        env.update(PYTHONPATH=str(site), WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(cwd / "cache"), TERM="xterm")

        def controlling() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([sys.executable, "-m", "wasix_ttyprog"], stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, cwd=cwd, env=env, preexec_fn=controlling)  # fmt: skip
        self.out = b""

    def wait_for(self, text: bytes, timeout: float = 300) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        assert text in self.out, f"{text!r} never came; the terminal showed {self.out!r}"
        return self.out

    def modes(self) -> list:
        return termios.tcgetattr(self.slave)

    def close(self) -> int:
        code = self.proc.wait(timeout=120)
        self.wait_for(b"", timeout=0)
        os.close(self.master)
        os.close(self.slave)
        return code


@pytest.mark.build
def test_normal_modes_until_the_program_asks_then_raw_then_back(tty_prog, tmp_path):
    term = Pty(tty_prog, tmp_path)
    # tcgetattr answers with the host's modes (not the sandbox's raw-looking default), and
    # TIOCGWINSZ with its size
    term.wait_for(b"size 120x33 echo 1 icanon 1")
    # stdout and stderr are one terminal here: what the program wrote to them comes in order
    term.wait_for(b"out0 err0 out1 err1 out2 err2 out3 err3 out4 err4 \r\n")
    term.wait_for(b"raw now\r\n")
    raw = term.modes()
    assert not raw[3] & (termios.ICANON | termios.ECHO) and not raw[1] & termios.OPOST
    os.write(term.master, b"x")  # one key, no Enter: raw mode delivers it
    term.wait_for(b"key 78, cooked now\r\n")  # ONLCR again: "\n" is shown as "\r\n"
    assert term.modes() == term.before
    os.write(term.master, b"hello\n")
    term.wait_for(b"hello\r\n")  # the terminal's own echo
    os.write(term.master, b"\x04")  # ^D at the start of a line: the end of input
    out = term.wait_for(b"read 6: hello\r\n|")
    assert term.proc.wait(timeout=120) == 0, out
    assert term.modes() == term.before
    assert terminal.REQUEST_START not in out
    term.close()


@pytest.mark.build
def test_ctrl_c_stops_the_program_and_restores_the_terminal(tty_prog, tmp_path):
    term = Pty(tty_prog, tmp_path)
    term.wait_for(b"raw now")
    os.write(term.master, b"\x03")  # in raw mode ^C is a key like any other
    term.wait_for(b"key 03, cooked now")
    before = term.modes()
    os.write(term.master, b"half a line\x03")  # in the normal modes: SIGINT
    assert term.proc.wait(timeout=120) == 130
    assert before == term.before
    assert term.modes() == term.before
    term.close()
