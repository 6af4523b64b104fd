"""Console-script launcher for wheels that carry WASIX modules.

This file is copied verbatim into every wheel as ``wasix_NAME/_launcher.py``; it needs only
the standard library and ``wasmer-sdk`` (no wasix-backend) and runs on Python 3.9+.

Which runtime runs the module:
- ``WASIX_RUNTIME=wasmer`` or ``sdk`` forces one;
- otherwise a ``wasmer`` executable on ``PATH`` (the host directory and terminal are passed
  through natively), else ``wasmer-sdk`` in-process.

wasmer-sdk's sandbox has no host mounts and no host terminal, so the launcher copies the files
and directories named on the command line into the sandbox (relative paths keep their place
under the guest's working directory ``/workspace``, other paths under ``/workspace/.host``;
the arguments are rewritten to those absolute guest paths), forwards stdin/stdout/stderr (the host
terminal in raw mode while an interactive program runs, restored afterwards, also on Ctrl-C,
SIGTERM or a crash), then writes changed or new files back to the host. Host files are never
deleted. Compiled modules are cached per user, so only the first run pays for compilation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST_CWD = "/workspace"
HOST_ROOT = GUEST_CWD + "/.host"  # where paths outside the working directory are placed
MAX_COPY_BYTES = 256 * 1024 * 1024  # refuse to mirror huge trees into the sandbox's memory


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


# ---------------------------------------------------------------- host files <-> sandbox ---


class Mapping:
    """Host paths named on the command line and where they live in the guest."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}  # guest path -> original contents
        self.host_of: dict[str, Path] = {}  # guest path -> host path (files and candidates)
        self.dirs: dict[str, Path] = {}  # guest dir -> host dir
        self.mkdirs: set = set()  # guest directories to create before the run
        self.size = 0

    def guest_path(self, arg: str) -> str:
        """The absolute guest path for host path ``arg``.

        Always absolute: a plain WASI program resolves relative paths against ``/``, not
        against the sandbox's working directory.
        """
        norm = os.path.normpath(arg)
        if not os.path.isabs(arg) and not norm.startswith(".."):
            return GUEST_CWD + "/" + norm.replace(os.sep, "/") if norm != "." else GUEST_CWD
        full = os.path.abspath(arg).replace(os.sep, "/").lstrip("/")
        return HOST_ROOT + "/" + full

    def add_file(self, guest: str, host: Path) -> None:
        data = host.read_bytes()
        self.size += len(data)
        if self.size > MAX_COPY_BYTES:
            raise SystemExit(f"{host}: too much data to copy into the sandbox")
        self.files[guest] = data
        self.host_of[guest] = host

    def add(self, arg: str) -> str:
        """Map one argument; return it as the guest should see it."""
        guest = self.guest_path(arg)
        host = Path(arg)
        if host.is_file():
            self.add_file(guest, host)
        elif host.is_dir():
            self.dirs[guest] = host
            self.mkdirs.add(guest)
            for sub in sorted(host.rglob("*")):
                if sub.is_file() and not sub.is_symlink():
                    rel = sub.relative_to(host).as_posix()
                    self.add_file(guest.rstrip("/") + "/" + rel, sub)
        else:
            # Not there yet: the program may create it (e.g. an editor's new file).
            self.host_of[guest] = host
            self.mkdirs.add(guest.rsplit("/", 1)[0])
        return guest


def _looks_like_path(arg: str) -> bool:
    if not arg or arg.startswith("-") or "\0" in arg:
        return False
    if os.path.lexists(arg):
        return True
    parent = os.path.dirname(arg) or "."
    return os.path.isdir(parent) and ("/" in arg or "." in os.path.basename(arg))


def map_arguments(args: list[str]) -> tuple[list[str], Mapping]:
    """Find host paths among ``args``; return the rewritten arguments and the mapping."""
    mapping = Mapping()
    out = []
    for arg in args:
        out.append(mapping.add(arg) if _looks_like_path(arg) else arg)
    return out, mapping


def _write_back(host: Path, data: bytes) -> None:
    """Replace ``host`` with ``data`` atomically, keeping its permission bits."""
    host.parent.mkdir(parents=True, exist_ok=True)
    tmp = host.with_name(f".{host.name}.wasix-tmp{os.getpid()}")
    mode = host.stat().st_mode & 0o7777 if host.exists() else None
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, host)
    finally:
        if tmp.exists():
            tmp.unlink()


async def _guest_tree(fs, guest: str) -> list[str]:
    files = []
    try:
        entries = await fs.read_dir(guest)
    except Exception:
        return files
    for entry in entries:
        path = guest.rstrip("/") + "/" + entry.name
        if entry.kind == "directory":
            files += await _guest_tree(fs, path)
        else:
            files.append(path)
    return files


async def sync_back(fs, mapping: Mapping) -> list[Path]:
    """Copy files the program changed or created back to the host; return their host paths."""
    candidates = dict(mapping.host_of)
    for guest_dir, host_dir in mapping.dirs.items():
        for path in await _guest_tree(fs, guest_dir):
            rel = path[len(guest_dir.rstrip("/")) + 1 :]
            candidates.setdefault(path, host_dir / rel)
    written = []
    for guest, host in sorted(candidates.items()):
        try:
            data = await fs.read(guest)
        except Exception:
            continue  # not created by the program
        if mapping.files.get(guest) != data:
            _write_back(host, data)
            written.append(host)
    return written


# ------------------------------------------------------------------------ terminal ---


class Terminal:
    """Raw mode for the host terminal while an interactive program runs; always restored."""

    def __init__(self) -> None:
        self.saved = None
        self.fd = None

    def enter(self) -> None:
        try:
            import termios
            import tty
        except ImportError:  # not POSIX
            return
        if not sys.stdin.isatty():
            return
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd)

    def restore(self) -> None:
        if self.saved is None:
            return
        import termios

        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        self.saved = None


def guest_env(interactive: bool) -> dict[str, str]:
    env = {"TERM": os.environ.get("TERM") or "xterm-256color", "HOME": GUEST_CWD}
    for key in ("LANG", "LC_ALL", "LC_CTYPE", "TZ"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    if interactive:
        size = shutil.get_terminal_size()
        env["COLUMNS"], env["LINES"] = str(size.columns), str(size.lines)
    return env


# ------------------------------------------------------------------------- runtimes ---


def run_with_wasmer_cli(wasmer: str, module: Path, command: str, args: list[str]) -> None:
    """Replace this process by ``wasmer run`` (native terminal and current directory)."""
    argv = [wasmer, "run", "--dir", "."]
    for key, value in sorted(guest_env(sys.stdin.isatty()).items()):
        if key != "HOME":
            argv += ["--env", f"{key}={value}"]
    argv += [str(module), "--", *args]
    sys.stdout.flush()
    os.execvp(wasmer, argv)


def _stdin_pump(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    while True:
        try:
            chunk = os.read(fd, 4096) if fd >= 0 else b""
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


async def run_with_sdk(meta: dict, command: str, args: list[str]) -> int:
    from wasmer_sdk import Wasmer

    module = HERE / meta["commands"][command]
    wasm = module.read_bytes()
    guest_args, mapping = map_arguments(args)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    marker = cache / f"prepared-{hashlib.sha256(wasm).hexdigest()[:24]}"
    if not marker.exists():
        print(f"preparing {meta['name']} (first run)…", file=sys.stderr, flush=True)
    interactive = sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    terminal = Terminal()
    async with Wasmer(cache_root=cache / "wasmer") as wasmer:
        pkg = await wasmer.packages.load(wasm)
        marker.touch()
        env = guest_env(interactive)
        async with await wasmer.sandboxes.create(
            packages=[pkg], files=dict(mapping.files), env=env
        ) as sb:
            for guest in sorted(mapping.mkdirs):
                await sb.fs.mkdir(guest, recursive=True)
            cmd = sb.command(pkg, guest_args, cwd=GUEST_CWD, env=env)
            proc = await cmd.spawn(stdin="pipe")
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

            if interactive:
                terminal.enter()
            try:
                feeder = asyncio.ensure_future(feed())
                out = await asyncio.gather(
                    _copy_out(proc.stdout, sys.stdout.buffer),
                    _copy_out(proc.stderr, sys.stderr.buffer),
                    proc.wait(),
                )
                feeder.cancel()
            finally:
                terminal.restore()
            result = out[2]
            await sync_back(sb.fs, mapping)
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
    wasmer = shutil.which("wasmer") if choice in ("", "wasmer") else None
    if choice == "wasmer" and not wasmer:
        raise SystemExit("WASIX_RUNTIME=wasmer but no `wasmer` executable is on PATH")
    if wasmer:
        run_with_wasmer_cli(wasmer, HERE / meta["commands"][command], command, args)
        return

    def on_term(signum, frame):  # the finally blocks restore the terminal on the way out
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        code = asyncio.run(run_with_sdk(meta, command, args))
    except KeyboardInterrupt:
        code = 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit at once: the stdin reader may still be blocked in read(), and unwinding such a
    # thread during interpreter shutdown can abort the process.
    os._exit(code)


if __name__ == "__main__":
    main()
