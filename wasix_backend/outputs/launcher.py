"""Console-script launcher for wheels that carry WASIX modules.

This file is copied verbatim into every wheel as ``wasix_NAME/_launcher.py`` (with
``mirror.py`` as ``_mirror.py``); it needs only the standard library and ``wasmer-sdk`` (no
wasix-backend) and runs on Python 3.9+.

Which runtime runs the module:
- ``WASIX_RUNTIME=wasmer`` or ``sdk`` forces one;
- otherwise a ``wasmer`` executable on ``PATH`` (the host directory and terminal are passed
  through natively), else ``wasmer-sdk`` in-process.

wasmer-sdk's sandbox has no host mounts and no host terminal. The launcher copies the
working directory (bounded) and the paths named on the command line into the sandbox (see
``mirror.py``): programs built by this project's toolchain then see them at their real host
paths and start in the real working directory; other modules see them under
``/workspace/.host`` with the arguments rewritten to match. It forwards stdin/stdout/stderr
(the host terminal in the modes the program asks for, see ``terminal.py``; restored
afterwards, also on Ctrl-C, SIGTERM or a crash), then writes changed or new files back
without ever leaving what was mirrored; what cannot be written back is saved to a rescue
directory. A program that traps ends with one line naming it, after the write-back. Compiled
modules are cached per user, so only the first run pays for compilation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import signal
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

try:  # inside a wheel
    from . import _mirror as mirror  # type: ignore[attr-defined]
    from . import _sandboxdeps as sandboxdeps  # type: ignore[attr-defined]
    from . import _terminal as terminal  # type: ignore[attr-defined]
except ImportError:  # wasix_backend.outputs, in this project
    from . import mirror, sandboxdeps, terminal

HERE = Path(__file__).resolve().parent
#: ``WASIX_LAUNCHER_TRACE=1``: each phase of a run, its wall and CPU seconds (all threads),
#: on stderr at the end. The first phase counts from the process's start: Python's own
#: start-up and the launcher's imports.
TRACE: list[tuple[str, float, float]] | None = (
    [("python started, launcher imported", time.perf_counter(), time.process_time())]
    if os.environ.get("WASIX_LAUNCHER_TRACE") else None
)  # fmt: skip


def _trace(phase: str) -> None:
    if TRACE is not None:
        TRACE.append((phase, time.perf_counter(), time.process_time()))


def _print_trace() -> None:
    if TRACE is None:
        return
    start = wall = _process_start()
    cpu = 0.0
    for phase, at, used in TRACE:
        print(f"wasix-launcher: {at - wall:7.4f} s wall {used - cpu:7.4f} s CPU  {phase}", file=sys.stderr)
        wall, cpu = at, used
    print(f"wasix-launcher: {wall - start:7.4f} s wall {cpu:7.4f} s CPU  in all (the first wall figure is "
          "good to the kernel's clock tick, 10 ms)", file=sys.stderr)  # fmt: skip


def _process_start() -> float:
    """When this process started, on the ``perf_counter`` clock (Linux; else when the trace began)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return time.perf_counter() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return TRACE[0][1] if TRACE else time.perf_counter()
#: Exported by the toolchain's mirror step (toolchain/compat/src/mirror.c).
MIRROR_EXPORT = b"__wasix_mirror_v1"
CRASH_STATUS = 134  # what a shell reports for an aborted process
#: The program's home in the sandbox (wasmer-sdk's writable root).
GUEST_HOME = "/workspace"
#: The program's PATH: where the sandbox shows commands (``/bin``) and sandbox scripts
#: (``/usr/bin``), for programs that search it themselves (make, for a recipe's ``echo``).
GUEST_PATH = "/usr/local/bin:/usr/bin:/bin"
#: The program's $TMPDIR: a real directory of the sandbox, dropped with it. Temporary files
#: under the host's /tmp (a symlink into the copied tree there) fail: wasmer-sdk refuses an
#: O_NOFOLLOW open below a symlinked directory (sqlite3's sort spill: "unable to open
#: database file") and aborts on an unlink there.
GUEST_TMP = "/workspace/.tmp"
#: The wheel's copy of the recipe's ``[outputs] data``, by guest path: ``data/usr/share/x``
#: is the program's ``/usr/share/x``.
DATA_DIR = "data"


def _metadata() -> dict:
    return json.loads((HERE / "_commands.json").read_text(encoding="utf-8"))


def _which_command(meta: dict, argv0: str) -> str:
    name = os.path.basename(argv0)
    if name.endswith(".exe"):
        name = name[:-4]
    if name in meta["commands"]:
        return name
    return meta["entrypoint"]


def cache_dir() -> Path:
    """``$WASIX_WHEELS_CACHE``, else ``$XDG_CACHE_HOME/wasix-wheels``, else ``~/.cache/…``."""
    explicit = os.environ.get("WASIX_WHEELS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wasix-wheels"


# ------------------------------------------------------------------------ terminal ---


_KILLS: set[asyncio.Future[Any]] = set()


#: Seconds a killed program has to end before the launcher leaves without it.
STOP_GRACE = 5.0


def _stop(stopped: list[int], signum: int, proc: Any, session: Any = None) -> None:
    """A stop signal: note it and kill the guest program (its files are still written back)."""
    if not stopped:
        asyncio.get_running_loop().call_later(STOP_GRACE, _abandon, signum, session)
    stopped.append(signum)
    task = asyncio.ensure_future(proc.kill())
    _KILLS.add(task)  # the loop keeps only a weak reference
    task.add_done_callback(_KILLS.discard)


def _abandon(signum: int, session: Any) -> None:
    """The killed program did not end: wasmer-sdk 0.5 stops a program only at its next call
    into the runtime, never in a loop that makes none. Leave it, with the terminal restored and
    a line saying what is lost."""
    if session is not None:
        session.restore()
    print(f"the program did not stop within {STOP_GRACE:.0f} s (a loop that never calls the system cannot be "
          "interrupted in the sandbox); files it saved were not written back", file=sys.stderr)  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


#: Host variables that name host places or this launcher's own Python: not passed in.
HOST_ONLY = frozenset({"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "TMPDIR", "VIRTUAL_ENV", "_"})
HOST_ONLY_PREFIXES = ("PYTHON", "WASIX_", "LD_", "XDG_")


def guest_env(interactive: bool) -> dict[str, str]:
    """The program's environment: the user's (``NAME=x envsubst``, ``GIT_*``, proxies …),
    less what names host places; HOME and PATH are the sandbox's."""
    env = {k: v for k, v in os.environ.items() if k not in HOST_ONLY and not k.startswith(HOST_ONLY_PREFIXES)}
    env["TERM"] = os.environ.get("TERM") or "xterm-256color"
    env["HOME"] = GUEST_HOME
    env["PATH"] = GUEST_PATH
    if interactive:
        import shutil  # only here and in main: a run with WASIX_RUNTIME=sdk needs none of it

        size = shutil.get_terminal_size()
        env["COLUMNS"], env["LINES"] = str(size.columns), str(size.lines)
    return env


def host_ttys() -> str:
    """Which of descriptors 0, 1 and 2 are terminals here, as the mirror step's isatty() reads
    it from ``WASIX_HOST_TTYS`` (``"-"``: none). The sandbox calls every standard stream a
    terminal; told this, a program piped into ``od`` writes no colours, runs no pager, and
    ``gzip < a > a.gz`` compresses as it does natively. Descriptor 2 is asked through
    ``sys.stderr``: while the runtime runs, the launcher's own descriptor 2 is a file
    (:class:`RuntimeNoise`)."""
    return "".join(str(fd) for fd, real in ((0, 0), (1, 1), (2, _fileno(sys.stderr))) if real >= 0 and os.isatty(real)) or "-"


def _fileno(stream: Any) -> int:
    """The stream's descriptor; -1 when it has none (closed)."""
    try:
        return stream.fileno() if stream is not None else -1
    except (OSError, ValueError):
        return -1


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def exports(wasm: bytes) -> set[bytes]:
    """The export names of a WebAssembly module (empty when it is not one)."""
    names: set[bytes] = set()
    if wasm[:4] != b"\0asm":
        return names
    pos = 8
    try:
        while pos < len(wasm):
            section, size, pos = wasm[pos], *_leb(wasm, pos + 1)
            if section == 7:
                count, p = _leb(wasm, pos)
                for _ in range(count):
                    length, p = _leb(wasm, p)
                    names.add(wasm[p : p + length])
                    _, p = _leb(wasm, p + length + 1)  # kind byte, then the index
                return names
            pos += size
    except IndexError:
        pass
    return names


# ----------------------------------------------------------------------------- data ---


#: The package's data files by guest path (``root/usr/share/x`` is ``/usr/share/x``).
data_files = sandboxdeps.data_files


def data_mounts(meta: dict, root: Path) -> list[tuple[str, Path]]:
    """``(guest directory, host directory)`` pairs that show the data to ``wasmer run``
    (``--mapdir``): a data directory as itself, a data file through its parent directory,
    which in the wheel holds only what the package maps there."""
    mounts: dict[str, Path] = {}
    for guest in sorted(meta.get("data", []), key=len):  # outer directories first
        host = root / guest.lstrip("/")
        if host.is_file():
            guest, host = os.path.dirname(guest) or "/", host.parent
        if not any(guest == g or guest.startswith(g.rstrip("/") + "/") for g in mounts):
            mounts[guest] = host
    return sorted(mounts.items())


def crash_message(command: str, exc: BaseException) -> str:
    """The one line a trapped program ends with (exit status :data:`CRASH_STATUS`)."""
    return f"{command}: the program failed in the WebAssembly runtime: {_first_line(exc)}"


def package_definition(modules: dict[str, bytes], data: dict[str, bytes] | None = None) -> Any:
    """An in-memory Wasmer package: one named command per module (so a program's argv[0] is its
    command's name: "figlet: …" in messages, not "main: …"), and the data files at their guest
    paths (as a Wasmer package's ``[fs]`` shows them)."""
    from wasmer_sdk import PackageCommandDefinition, PackageDefinition

    commands = {name: PackageCommandDefinition(module=name) for name in modules}
    return PackageDefinition(modules=modules, commands=commands, files=dict(data or {}))


# ------------------------------------------------------------------------- runtimes ---


def run_with_wasmer_cli(wasmer: str, module: Path, command: str, args: list[str], *, network: bool = False,
                        mounts: list[tuple[str, Path]] | None = None) -> None:
    """Replace this process by ``wasmer run`` (native terminal and current directory; the
    package's data directories mounted at their guest paths)."""
    argv = [wasmer, "run", "--dir", ".", *(["--net"] if network else [])]
    for guest, host in mounts or []:
        argv += ["--mapdir", f"{guest}:{host}"]
    for key, value in sorted(guest_env(sys.stdin.isatty()).items()):
        if key != "HOME":
            argv += ["--env", f"{key}={value}"]
    argv += [str(module), "--", *args]
    sys.stdout.flush()
    os.execvp(wasmer, argv)


#: The most stdin is read at once: each chunk is one call into the runtime (tens of
#: microseconds), so 4 KiB reads held a pipe to about 20 MB/s. A terminal or a slow writer
#: still hands over whatever is there at once.
STDIN_CHUNK = 1 << 20


def _stdin_pump(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    while True:
        try:
            chunk = os.read(fd, STDIN_CHUNK) if fd >= 0 else b""
        except OSError:
            chunk = b""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, chunk or None)
        except RuntimeError:  # the run is over and its loop closed
            return
        if not chunk:
            return


async def _copy_out(stream, sink) -> None:
    if stream is None:
        return
    async for chunk in stream:
        sink.write(chunk)
        sink.flush()


def in_data(arg: str, data: list[str]) -> bool:
    """Whether ``arg`` names a path of the package's own data (``/usr/share/figlet/big.flf``):
    the program's, not the host's, so it is neither copied in nor rewritten."""
    if not arg.startswith("/"):
        return False
    path = os.path.normpath(arg)
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in data)


def guest_arguments(args: list[str], cwd: str, real_paths: bool, data: list[str] | None = None) -> list[str]:
    """Arguments as the guest needs them: unchanged when it sees the host's paths."""
    if real_paths:
        return list(args)
    return [mirror.GUEST_ROOT + os.path.normpath(os.path.join(cwd, a))
            if mirror.looks_like_path(a) and not in_data(a, data or []) else a for a in args]  # fmt: skip


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    for line in lines:  # wasmer names the trap ("RuntimeError: unreachable") on its own line
        if line.startswith("RuntimeError:") and line not in text:
            text += f" ({line})"
    return text


def _scratch_file() -> io.BufferedRandom:
    """An anonymous file that lives until the process exits: in memory on Linux. tempfile is
    imported only elsewhere, as it brings shutil, bz2, lzma and random with it."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):
            return os.fdopen(os.memfd_create("wasix-runtime-noise"), "w+b")
    import tempfile

    return tempfile.TemporaryFile()


class RuntimeNoise:
    """Keeps what the native runtime itself prints on descriptor 2 (a trap's WebAssembly
    backtrace, written at a moment of its choosing, even after the program ended) off the
    terminal: descriptor 2 goes to a file until the launcher exits, while ``sys.stderr`` (the
    program's stderr, the launcher's messages) keeps the original. ``finish`` prints what the
    runtime said, less a backtrace the launcher sums up in one line."""

    def start(self) -> None:
        sys.stderr.flush()
        self.capture = _scratch_file()
        saved = os.dup(2)
        os.dup2(self.capture.fileno(), 2)
        sys.stderr = io.TextIOWrapper(os.fdopen(saved, "wb", buffering=0), errors="backslashreplace", write_through=True)

    def finish(self, crashed: bool) -> None:
        """Print what the runtime said; descriptor 2 stays on the file (the process exits next)."""
        sys.stderr.flush()
        self.capture.seek(0)
        for line in self.capture.read().decode("utf-8", "replace").splitlines():
            if crashed and (line.startswith("RuntimeError:") or line.startswith("    at ")):
                continue
            print(line, file=sys.stderr)
        self.capture.seek(0, 2)
        sys.stderr.flush()


async def _run(proc, session: terminal.Session):
    """Forward the streams until the process ends; return its output (or raise its failure)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    threading.Thread(target=_stdin_pump, args=(loop, queue), daemon=True).start()

    async def feed() -> None:
        while True:
            chunk = await queue.get()
            if chunk is None:
                await proc.stdin.close()
                return
            await proc.stdin.write(chunk)

    session.enter()
    feeder = asyncio.ensure_future(feed())
    try:
        out = await asyncio.gather(
            _copy_out(proc.stdout, session.sink(sys.stdout.buffer)),
            _copy_out(proc.stderr, session.sink(sys.stderr.buffer)),
            proc.wait(),
            return_exceptions=True,
        )
    finally:
        feeder.cancel()
        session.restore()
    if isinstance(out[2], BaseException):
        raise out[2]
    return out[2]


async def load_package(wasmer, meta: dict, command: str, wasm: bytes):
    """The Wasmer package and the command to run: always named commands, so the program's
    argv[0] is its command's name ("gzip: …" in messages, not "main: …") and a program that
    runs itself (git's auto-maintenance) finds itself. With the commands of its own package
    (a bundle: a shell and its tools) and of the installed packages it runs (``[dependencies]
    run``: tar's gzip, gawk's sh; see ``sandboxdeps``), so it runs them by name."""
    modules, data, missing = sandboxdeps.sandbox(meta, HERE, command, wasm)
    if missing:
        print(sandboxdeps.missing_message(command, missing), file=sys.stderr)
    pkg = await wasmer.packages.create(package_definition(modules, data))
    return pkg, pkg.command(command)


async def run_with_sdk(meta: dict, command: str, args: list[str]) -> int:
    from wasmer_sdk import Wasmer, WasmerError

    _trace("wasmer_sdk imported")
    module = HERE / meta["commands"][command]
    wasm = module.read_bytes()
    names = exports(wasm)
    real_paths = MIRROR_EXPORT in names
    cwd = os.getcwd()
    data = list(meta.get("data", []))
    plan = mirror.plan_mirror([a for a in args if not in_data(a, data)], cwd, command)
    for warning in plan.warnings:
        print(warning, file=sys.stderr)
    _trace(f"mirror planned ({len(plan.originals)} files, {len(plan.dirs)} directories)")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    # Says whether this module was run here before (only for the "first run" notice; the
    # runtime's own cache is keyed by its content). A checksum, not hashlib: importing
    # hashlib loads OpenSSL, a tenth of a trivial run's start-up.
    marker = cache / f"prepared-{len(wasm):x}-{zlib.crc32(wasm):08x}"
    preparing = not marker.exists()
    erase = preparing and sys.stderr.isatty()
    if preparing:  # on a terminal, erased again once the module is ready
        print(f"preparing {meta['name']} (first run)…", end="" if erase else "\n", file=sys.stderr, flush=True)
    interactive = sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    session = terminal.Session(terminal.HostTerminal(_fileno(sys.stdin)), follow=real_paths and terminal.TTY_EXPORT in names,
                               interactive=interactive, stderr=_fileno(sys.stderr))  # fmt: skip
    env = guest_env(interactive)
    # $PWD names the directory the program starts in, as a shell's does (a plain WASI module
    # built elsewhere may follow it: its wasi-libc has no working directory of its own).
    env["PWD"] = cwd if real_paths else mirror.GUEST_ROOT + cwd
    env["TMPDIR"] = env["SQLITE_TMPDIR"] = GUEST_TMP
    if real_paths:
        env.update(WASIX_HOST_PATHS="\n".join(plan.links()), WASIX_HOST_ROOT=mirror.GUEST_ROOT, WASIX_HOST_CWD=cwd)
        env["WASIX_HOST_MODES"] = mirror.GUEST_MODES
        env["WASIX_HOST_TTYS"] = host_ttys()
        env.update(session.env())
    crash = None
    _trace("module read, exports, environment")
    async with Wasmer(cache_root=cache / "wasmer") as wasmer:
        _trace("runtime started")
        pkg, entry = await load_package(wasmer, meta, command, wasm)
        _trace("package loaded (compile cache)")
        marker.touch()
        if erase:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
        network = "host" if meta.get("network") else "disabled"  # the recipe's [outputs] network
        files = plan.sandbox_files()
        if real_paths:
            files[mirror.GUEST_MODES] = mirror.seed_modes(plan)
        async with await wasmer.sandboxes.create(packages=[pkg], files=files, env=env, network=network) as sb:
            for path in sorted(plan.dirs | set(plan.links())):
                await sb.fs.mkdir(mirror.GUEST_ROOT + path, recursive=True)
            await sb.fs.mkdir(GUEST_TMP, recursive=True)
            _trace("sandbox made, directories linked")
            cmd = sb.command(entry, guest_arguments(args, cwd, real_paths, data), cwd=mirror.GUEST_ROOT + cwd, env=env)
            proc = await cmd.spawn(stdin="pipe")
            _trace("program spawned")
            # SIGTERM/SIGHUP, and ^C or ^\ on a terminal in its normal modes (SIGINT/SIGQUIT), stop
            # the program, not the launcher: what it saved is still written back. wasmer-sdk
            # 0.5 delivers no signal into the sandbox, so the program cannot catch them.
            stopped: list[int] = []
            loop = asyncio.get_running_loop()
            handled = []
            for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT):
                try:
                    loop.add_signal_handler(signum, functools.partial(_stop, stopped, signum, proc, session))
                    handled.append(signum)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                    pass
            try:
                result = await _run(proc, session)
            except WasmerError as exc:
                crash = exc
            finally:
                for signum in handled:
                    loop.remove_signal_handler(signum)
            _trace("program ran")
            if crash is not None and interactive:  # leave the program's alternate screen first
                sys.stdout.write("\x1b[?1049l\r\n")
                sys.stdout.flush()
            dirs: set[str] = set()
            files = await mirror.read_guest_files(sb.fs, plan, dirs=dirs)
            if crash is not None or stopped or result.reason.value != "exited" or result.exit_code != 0:
                files = mirror.without_new_empty(plan, files)  # a failure's empty leftovers stay behind
            written = mirror.sync_back(plan, files, cache, command)
            mirror.make_dirs_back(plan, dirs)  # after the files: what is left is empty ones
            try:  # no record (a module built before modes.c): the rule of _new_file_mode stays
                record = await sb.fs.read(mirror.GUEST_MODES)
            except Exception:
                record = b""
            mirror.apply_modes(plan, mirror.parse_modes(record), files, dirs, written)
            _trace(f"written back ({len(written)} files)")
    if stopped:
        return 128 + stopped[0]
    if crash is not None:
        print(f"{crash_message(command, crash)}; files it had saved were written back", file=sys.stderr)
        return CRASH_STATUS
    if result.reason.value == "exited":
        return result.exit_code
    return 124 if result.reason.value == "timeout" else 1


def main() -> None:
    """Entry point of every console script of the wheel: run the command named by argv[0]."""
    meta = _metadata()
    command = _which_command(meta, sys.argv[0])
    args = sys.argv[1:]
    choice = os.environ.get("WASIX_RUNTIME", "").strip().lower()
    if choice not in ("", "wasmer", "sdk"):
        raise SystemExit(f"WASIX_RUNTIME={choice!r}: expected 'wasmer' or 'sdk'")
    if choice in ("", "wasmer"):
        import shutil  # not at the top: with WASIX_RUNTIME=sdk a run needs none of it

        wasmer = shutil.which("wasmer")
    else:
        wasmer = None
    if choice == "wasmer" and not wasmer:
        raise SystemExit("WASIX_RUNTIME=wasmer but no `wasmer` executable is on PATH")
    if wasmer:
        run_with_wasmer_cli(wasmer, HERE / meta["commands"][command], command, args, network=bool(meta.get("network")),
                            mounts=data_mounts(meta, HERE / DATA_DIR))
        return

    def on_term(signum, frame):  # the finally blocks restore the terminal on the way out
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    noise = RuntimeNoise()
    noise.start()
    try:
        code = asyncio.run(run_with_sdk(meta, command, args))
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:  # a message from the launcher itself
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # the runtime failed before or around the program: one line
        print(f"{command}: cannot run {meta['name']}'s module: {_first_line(exc)}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    _trace("runtime closed")
    noise.finish(crashed=code == CRASH_STATUS)
    _print_trace()
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit at once: the stdin reader may still be blocked in read(), and unwinding such a
    # thread during interpreter shutdown can abort the process.
    os._exit(code)


if __name__ == "__main__":
    main()
