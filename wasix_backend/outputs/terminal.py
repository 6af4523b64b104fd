"""The host terminal while the launcher runs a program: in the mode the program asks for.

Copied verbatim into every wheel as ``wasix_NAME/_terminal.py``: standard library only,
Python 3.9+.

wasmer-sdk's sandbox has no terminal of its own and tells the launcher nothing about the
program's terminal calls (``tty_set`` stays inside the runtime), so programs built here carry a
terminal step (``toolchain/compat/src/host_tty.c``, recognised by :data:`TTY_EXPORT`):

- the launcher hands it the host terminal's modes (``WASIX_HOST_TERMIOS``, see
  :func:`guest_modes`) and window size (``WASIX_HOST_WINSIZE``); ``tcgetattr`` answers from
  them, so a program saves and restores the real modes;
- each ``tcsetattr`` comes back in band, as a private escape sequence on the program's
  terminal output (:class:`RequestFilter` takes it out), and :class:`HostTerminal` applies it
  to the host terminal at that point of the output.

So the host terminal keeps its normal line discipline (echo, Enter, erase and kill
characters, ^D at the start of a line, ^C as a signal) until the program changes it: nano
switches to raw and back, readline to character-at-a-time with its own echo. It is restored
when the run ends, whatever ends it. Modules without the step cannot be followed: they get
raw mode for the whole run, as full-screen programs need.

The flags travel in the numbering of the program's C library (Linux's, as musl's): they are
translated by name, so a host with another numbering (macOS) gets the same modes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

#: Exported by modules carrying the terminal step.
TTY_EXPORT = b"__wasix_host_tty_v1"
#: What a request starts and ends with (an APC string: terminals ignore them anyway).
REQUEST_START = b"\x1b_wasix-tty "
REQUEST_END = b"\x1b\\"
#: A request is short; a longer "request" is the program's own output, passed on as is.
REQUEST_MAX = 256

# The program's numbering (wasix-libc's termios.h, as Linux's).
GUEST_IFLAG = {
    "IGNBRK": 0o1, "BRKINT": 0o2, "IGNPAR": 0o4, "PARMRK": 0o10, "INPCK": 0o20, "ISTRIP": 0o40,
    "INLCR": 0o100, "IGNCR": 0o200, "ICRNL": 0o400, "IUCLC": 0o1000, "IXON": 0o2000,
    "IXANY": 0o4000, "IXOFF": 0o10000, "IMAXBEL": 0o20000, "IUTF8": 0o40000,
}  # fmt: skip
GUEST_OFLAG = {"OPOST": 0o1, "OLCUC": 0o2, "ONLCR": 0o4, "OCRNL": 0o10, "ONOCR": 0o20, "ONLRET": 0o40}
GUEST_LFLAG = {
    "ISIG": 0o1, "ICANON": 0o2, "ECHO": 0o10, "ECHOE": 0o20, "ECHOK": 0o40, "ECHONL": 0o100,
    "NOFLSH": 0o200, "TOSTOP": 0o400, "ECHOCTL": 0o1000, "ECHOPRT": 0o2000, "ECHOKE": 0o4000,
    "IEXTEN": 0o100000,
}  # fmt: skip
#: Shown to the program; the host's own are never changed (speed, character size, parity).
GUEST_CFLAG = {"CSTOPB": 0o100, "CREAD": 0o200, "PARENB": 0o400, "PARODD": 0o1000, "HUPCL": 0o2000, "CLOCAL": 0o4000}
GUEST_CS8, GUEST_B38400 = 0o60, 0o17
GUEST_CC = {
    "VINTR": 0, "VQUIT": 1, "VERASE": 2, "VKILL": 3, "VEOF": 4, "VTIME": 5, "VMIN": 6, "VSTART": 8,
    "VSTOP": 9, "VSUSP": 10, "VEOL": 11, "VREPRINT": 12, "VDISCARD": 13, "VWERASE": 14, "VLNEXT": 15,
    "VEOL2": 16,
}  # fmt: skip
GUEST_NCCS = 32
#: tcsetattr's actions, by the program's number.
ACTIONS = {0: "TCSANOW", 1: "TCSADRAIN", 2: "TCSAFLUSH"}
IFLAG, OFLAG, CFLAG, LFLAG, ISPEED, OSPEED, CC = range(7)  # termios.tcgetattr's list


def _termios() -> Any:
    try:
        import termios
    except ImportError:  # not POSIX: no terminal to follow
        return None
    return termios


def _to_guest(host: int, table: dict[str, int], termios: Any) -> int:
    return sum(bit for name, bit in table.items() if host & getattr(termios, name, 0))


def _to_host(host: int, guest: int, table: dict[str, int], termios: Any) -> int:
    for name, bit in table.items():
        value = getattr(termios, name, 0)
        host = (host | value) if guest & bit else (host & ~value)
    return host


def _cc_byte(value: Any) -> int:
    return value[0] if isinstance(value, bytes) else int(value)


def guest_modes(attrs: list[Any], termios: Any) -> str:
    """``WASIX_HOST_TERMIOS``: the host's modes (``termios.tcgetattr``'s list) in the program's
    numbering, as ``"iflag oflag cflag lflag cc"`` (hexadecimal; cc two digits per character)."""
    cflag = _to_guest(attrs[CFLAG], GUEST_CFLAG, termios) | GUEST_CS8 | GUEST_B38400
    flags = (_to_guest(attrs[IFLAG], GUEST_IFLAG, termios), _to_guest(attrs[OFLAG], GUEST_OFLAG, termios),
             cflag, _to_guest(attrs[LFLAG], GUEST_LFLAG, termios))  # fmt: skip
    cc = [0] * GUEST_NCCS
    for name, index in GUEST_CC.items():
        host = getattr(termios, name, None)
        if host is not None and host < len(attrs[CC]):
            cc[index] = _cc_byte(attrs[CC][host])
    return " ".join(f"{f:x}" for f in flags) + " " + bytes(cc).hex()


@dataclass(frozen=True)
class Request:
    """One ``tcsetattr`` of the program, in its numbering."""

    action: int
    iflag: int
    oflag: int
    cflag: int
    lflag: int
    cc: bytes

    @classmethod
    def parse(cls, body: bytes) -> Request | None:
        """The fields between :data:`REQUEST_START` and :data:`REQUEST_END`; ``None`` if malformed."""
        parts = body.split()
        if len(parts) != 6:
            return None
        try:
            action = int(parts[0])
            iflag, oflag, cflag, lflag = (int(p, 16) for p in parts[1:5])
            cc = bytes.fromhex(parts[5].decode("ascii"))
        except ValueError:
            return None
        return cls(action, iflag, oflag, cflag, lflag, cc)


class RequestFilter:
    """Takes the program's requests out of one output stream, in order: :meth:`feed` returns
    the bytes to show and the requests between them. A request split across chunks waits for
    its end; a partial start at the end of a chunk is held back until the next one."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, chunk: bytes) -> list[bytes | Request]:
        data, self.pending = self.pending + chunk, b""
        out: list[bytes | Request] = []
        while data:
            start = data.find(REQUEST_START)
            if start < 0:
                keep = _partial_start(data)
                if len(data) > keep:
                    out.append(data[: len(data) - keep])
                self.pending = data[len(data) - keep :]
                break
            if start:
                out.append(data[:start])
            end = data.find(REQUEST_END, start + len(REQUEST_START))
            if end < 0:
                if len(data) - start > REQUEST_MAX:  # not one of ours: show it
                    out.append(data[start : start + len(REQUEST_START)])
                    data = data[start + len(REQUEST_START) :]
                    continue
                self.pending = data[start:]
                break
            request = Request.parse(data[start + len(REQUEST_START) : end])
            out.append(request if request is not None else data[start : end + len(REQUEST_END)])
            data = data[end + len(REQUEST_END) :]
        return out

    def flush(self) -> bytes:
        """What is held back when the stream ends: the program's own bytes after all."""
        data, self.pending = self.pending, b""
        return data


def _partial_start(data: bytes) -> int:
    """How many bytes at the end of ``data`` could begin :data:`REQUEST_START`."""
    for n in range(min(len(data), len(REQUEST_START) - 1), 0, -1):
        if REQUEST_START.startswith(data[-n:]):
            return n
    return 0


class HostTerminal:
    """The launcher's terminal (its standard input, when that is one): saved at the start, set
    as the program asks, restored by :meth:`restore` (idempotent; on every way out)."""

    def __init__(self, fd: int = 0) -> None:
        self.termios = _termios()
        self.fd = fd
        self.saved: list[Any] | None = None
        if self.termios is not None:
            try:
                if os.isatty(fd):
                    self.saved = self.termios.tcgetattr(fd)
            except (OSError, self.termios.error):  # closed, or not a terminal after all
                self.saved = None

    @property
    def present(self) -> bool:
        return self.saved is not None

    def guest_env(self) -> dict[str, str]:
        """What the terminal step reads: the host modes (none without a terminal)."""
        if self.saved is None:
            return {}
        return {"WASIX_HOST_TERMIOS": guest_modes(self.saved, self.termios)}

    def apply(self, request: Request) -> None:
        """Set the host terminal to what the program asked for. Reads stay blocking (VMIN 1,
        VTIME 0): the launcher's reader takes an empty read for the end of input, and the
        program reads a pipe, where its own VMIN/VTIME have no effect anyway."""
        if self.saved is None:
            return
        t = self.termios
        try:
            attrs = t.tcgetattr(self.fd)
        except (OSError, t.error):
            return
        attrs[IFLAG] = _to_host(attrs[IFLAG], request.iflag, GUEST_IFLAG, t)
        attrs[OFLAG] = _to_host(attrs[OFLAG], request.oflag, GUEST_OFLAG, t)
        attrs[LFLAG] = _to_host(attrs[LFLAG], request.lflag, GUEST_LFLAG, t)
        cc = list(attrs[CC])  # tcsetattr takes each as one byte or as an int
        for name, index in GUEST_CC.items():
            host = getattr(t, name, None)
            if host is not None and host < len(cc) and index < len(request.cc):
                cc[host] = request.cc[index]
        cc[t.VMIN], cc[t.VTIME] = 1, 0
        attrs[CC] = cc
        with contextlib.suppress(OSError, t.error):  # the terminal went away: nothing to follow
            t.tcsetattr(self.fd, getattr(t, ACTIONS.get(request.action, "TCSADRAIN")), attrs)

    def raw(self) -> None:
        """Raw mode for the whole run: for modules that cannot say what they want."""
        if self.saved is None:
            return
        import tty

        tty.setraw(self.fd)

    def restore(self) -> None:
        if self.saved is None:
            return
        with contextlib.suppress(OSError, self.termios.error):
            self.termios.tcsetattr(self.fd, self.termios.TCSADRAIN, self.saved)


def one_terminal(a: int, b: int) -> bool:
    """Whether descriptors ``a`` and ``b`` are the same terminal."""
    try:
        return a >= 0 and b >= 0 and os.isatty(a) and os.isatty(b) and os.fstat(a).st_rdev == os.fstat(b).st_rdev
    except OSError:
        return False


def window_size() -> str | None:
    """``WASIX_HOST_WINSIZE`` (``"columns rows"``) of the first standard stream that is a
    terminal, else ``None``."""
    for fd in (1, 0, 2):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        if size.columns and size.lines:
            return f"{size.columns} {size.lines}"
    return None


class _FollowingSink:
    """A binary sink for one of the program's output streams that applies its requests to the
    host terminal where they stand in the output."""

    def __init__(self, sink: Any, host: HostTerminal) -> None:
        self.sink, self.host, self.filter = sink, host, RequestFilter()

    def write(self, chunk: bytes) -> None:
        for item in self.filter.feed(chunk):
            if isinstance(item, Request):
                self.sink.flush()  # what came before is shown in the modes it was written for
                self.host.apply(item)
            else:
                self.sink.write(item)

    def flush(self) -> None:
        self.sink.flush()

    def close(self) -> None:
        rest = self.filter.flush()
        if rest:
            self.sink.write(rest)
            self.sink.flush()


class Session:
    """The terminal's part of one run: with ``follow`` (a module with the terminal step), the
    host terminal keeps its modes until the program asks for others; without, raw mode for the
    run when ``interactive``. :meth:`restore` ends it, on every way out."""

    def __init__(self, host: HostTerminal, *, follow: bool, interactive: bool, stderr: int = 2) -> None:
        self.host, self.follow, self.interactive = host, follow and host.present, interactive
        self.stderr = stderr  # the launcher's own stderr (its descriptor 2 may be elsewhere)
        self.sinks: list[_FollowingSink] = []

    def env(self) -> dict[str, str]:
        """Variables for the terminal step: the host modes and window size (none without),
        and whether stdout and stderr are one terminal (the step then writes both to stdout,
        keeping their order)."""
        env = self.host.guest_env() if self.follow else {}
        size = window_size()
        if size:
            env["WASIX_HOST_WINSIZE"] = size
        if one_terminal(1, self.stderr):
            env["WASIX_HOST_ONE_TTY"] = "1"
        return env

    def enter(self) -> None:
        if not self.follow and self.interactive:
            self.host.raw()

    def sink(self, sink: Any) -> Any:
        """``sink`` itself, or (when following) a sink that applies the program's requests."""
        if not self.follow:
            return sink
        following = _FollowingSink(sink, self.host)
        self.sinks.append(following)
        return following

    def restore(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.sinks.clear()
        if self.follow or self.interactive:
            self.host.restore()
