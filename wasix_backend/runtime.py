"""Run WASI/WASIX modules and Wasmer packages with the real Wasmer runtime (``wasmer-sdk``).

A thin synchronous layer over PyPI's ``wasmer-sdk``: tests, behaviour checks and scripts run
modules through :func:`run` and :func:`run_steps`. The program is treated as the wheel
launcher (:mod:`.outputs.launcher`) treats it: a bare module runs as a command named after
its file (``figlet: …`` in its messages, not ``main: …``), it starts with ``HOME`` and
``PWD`` set as there, and a program that traps ends with exit status 134 and one line naming
it instead of an exception.

The SDK itself runs in a worker process, never in the caller's: wasmer-sdk can abort the
process it lives in when the interpreter exits ("FATAL: exception not rethrown", status 134,
after several runs), which the launcher avoids by leaving with ``os._exit``, and which a
library must not inflict on its caller. Workers are started on first use, one per concurrent
call, reused, and leave with ``os._exit`` when their caller closes the pipe (at its exit).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path

#: The guest working directory programs start in: where ``files`` usually go. The SDK's own
#: default is ``/``, which would make ``files={"/workspace/in.txt": …}`` + ``args=["in.txt"]`` fail.
GUEST_CWD = "/workspace"
#: Files the sandbox takes (and ``read_back`` reads) must be below this; others become
#: read-only files of the program's package.
_WRITABLE_ROOT = "/workspace"


def wasmer_cache_dir() -> Path:
    """Where Wasmer keeps compiled modules (so a second run of a module starts fast)."""
    return Path(os.environ.get("WASIX_WASMER_CACHE") or user_cache_path("wasix-backend") / "wasmer")


def _network(enabled: bool) -> str:
    """wasmer-sdk's sandbox network policy: ``"host"`` (the host's sockets) or ``"disabled"``."""
    return "host" if enabled else "disabled"


class SandboxError(RuntimeError):
    """wasmer-sdk refused or failed to run the program (not the program's own failure)."""


class WorkerDied(SandboxError):
    """The worker process running wasmer-sdk ended in the middle of a call."""


@dataclass
class RunResult:
    """What a run gave: its exit status, its output (bytes; ``text`` is stdout decoded as
    UTF-8) and the files asked for with ``read_back``."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    #: Contents of the guest files named in ``read_back`` after the run (missing ones absent).
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class Invocation:
    """One command run in a shared sandbox by :func:`run_steps`."""

    command: str
    args: Sequence[str] = ()
    stdin: bytes | None = None
    env: Mapping[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------- the public calls ---
def run(
    package: Path | bytes,
    args: Sequence[str] = (),
    *,
    command: str | None = None,
    name: str | None = None,
    stdin: bytes | None = None,
    files: Mapping[str, bytes | str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = GUEST_CWD,
    read_back: Sequence[str] = (),
    timeout: float = 120.0,
    network: bool = False,
) -> RunResult:
    """Run ``package`` (a ``.wasm`` file, a package directory, or module/``.webc`` bytes).

    ``files`` are written into the sandbox first (guest absolute paths, e.g.
    ``/workspace/a.txt``); for a bare module, files outside ``/workspace`` (a program's data,
    ``/usr/share/figlet/standard.flf``) become read-only files of its package, as a Wasmer
    package's ``[fs]`` would show them. ``read_back`` lists guest paths under ``/workspace``
    whose contents are returned.
    ``command`` picks a named command of a package; the default is its entrypoint. A bare
    module runs as the command ``name`` (default: ``command``, else the file's name without
    ``.wasm``, else ``main`` for bytes), which is its ``argv[0]``.
    The program starts in ``cwd``, by default :data:`GUEST_CWD` (``/workspace``), so relative
    paths name the files given there; ``cwd=None`` leaves the sandbox's own default, ``/``.
    Its environment is ``env`` plus, unless ``env`` gives them, the launcher's ``HOME``
    (``/workspace``), ``PATH`` and ``PWD`` (``cwd``).
    ``network=True`` lets the guest open sockets to the host's network (wasmer-sdk's
    ``network="host"``); off by default, so a program reaches nothing unless a test says so.
    A package directory whose ``wasmer.toml`` has ``[dependencies]`` (``wasix-build wasmer``
    writes a program's runtime dependencies so) runs with the packages of the same names
    beside it (``dist/pkg/gzip`` for ``wasmer/gzip``) in one sandbox, as ``wasmer run`` would
    with its registry's: the registry is never asked. A ``.webc`` with dependencies is refused
    (wasmer-sdk would look them up in its registry): run its package directory instead.
    A program that traps gives exit status 134 and one line on stderr naming it; a run longer
    than ``timeout`` seconds is stopped (exit status 137).
    """
    if isinstance(package, Path) and package.is_file():
        source: Path | bytes = package.read_bytes()
        name = name or command or (package.stem if package.suffix == ".wasm" else None)
    else:
        source = package
    request = {
        "package": source, "args": list(args), "command": command, "name": name,
        "stdin": stdin, "files": dict(files or {}), "env": dict(env or {}), "cwd": cwd,
        "read_back": list(read_back), "timeout": timeout, "network": network, "cache": str(wasmer_cache_dir()),
    }  # fmt: skip
    return _call("run", request)


async def run_async(package: Path | bytes, args: Sequence[str] = (), **kwargs: Any) -> RunResult:
    """:func:`run` for a caller's event loop (the SDK still runs in a worker process)."""
    return await asyncio.to_thread(run, package, args, **kwargs)


def run_steps(
    modules: Mapping[str, Path],
    steps: Sequence[Invocation],
    *,
    files: Mapping[str, bytes | str] | None = None,
    data: Mapping[str, bytes] | None = None,
    cwd: str | None = GUEST_CWD,
    read_back: Sequence[str] = (),
    timeout: float = 120.0,
    network: bool = False,
) -> list[RunResult]:
    """Run ``steps`` one after another in ONE sandbox, so later steps see what earlier ones
    wrote (compress, then decompress). ``modules`` maps command names to ``.wasm`` files; they
    form one in-memory package, so a step may use any of them; ``data`` are that package's
    files by guest path (a recipe's ``[outputs] data``). ``read_back`` is read after the last
    step and returned in the last result's ``files``. Each step's environment is its own
    ``env`` alone (the differential tests give both sides the same). ``network``, traps and
    timeouts as for :func:`run`."""
    request = {
        "modules": {cmd: Path(path).read_bytes() for cmd, path in modules.items()},
        "steps": [(s.command, list(s.args), s.stdin, dict(s.env)) for s in steps],
        "files": dict(files or {}), "data": dict(data or {}), "cwd": cwd,
        "read_back": list(read_back), "timeout": timeout, "network": network, "cache": str(wasmer_cache_dir()),
    }  # fmt: skip
    return _call("steps", request)


async def run_steps_async(modules: Mapping[str, Path], steps: Sequence[Invocation], **kwargs: Any) -> list[RunResult]:
    """:func:`run_steps` for a caller's event loop."""
    return await asyncio.to_thread(run_steps, modules, steps, **kwargs)


# -------------------------------------------------------------- the caller's side ---
_HEADER = struct.Struct("<Q")


def _send(stream: Any, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _receive(stream: Any) -> object | None:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class _Worker:
    """One worker process: requests go in on its stdin, answers come back on its stdout."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)  # the directory holding this package
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from wasix_backend.runtime import _serve; _serve()")  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )  # stderr is the caller's: what the runtime itself prints there stays visible

    def call(self, what: str, request: dict[str, Any]) -> tuple[str, object]:
        """The worker's answer: ``("ok", result)``, ``("raise", exception)`` or ``("error", text)``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            _send(self.proc.stdin, (what, request))
            answer = _receive(self.proc.stdout)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            status = self.proc.wait()
            raise WorkerDied(f"the worker process running wasmer-sdk ended (status {status}) during the run; "
                             "this process goes on")
        return answer  # type: ignore[return-value]

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()  # the worker reads EOF and leaves with os._exit
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_idle: list[_Worker] = []
_lock = threading.Lock()
_owner = os.getpid()  # a forked child starts workers of its own


def _take() -> _Worker:
    global _owner
    with _lock:
        if _owner != os.getpid():
            _idle.clear()
            _owner = os.getpid()
        while _idle:
            worker = _idle.pop()
            if worker.proc.poll() is None:  # one that died while idle is replaced
                return worker
    return _Worker()


def _give_back(worker: _Worker) -> None:
    with _lock:
        if _owner == os.getpid():
            _idle.append(worker)
            return
    worker.kill()


@atexit.register
def _close_workers() -> None:
    with _lock:
        workers = list(_idle) if _owner == os.getpid() else []
        _idle.clear()
    for worker in workers:
        worker.close()


def _call(what: str, request: dict[str, Any]) -> Any:
    worker = _take()
    try:
        kind, value = worker.call(what, request)
    except WorkerDied:
        raise
    except BaseException:  # interrupted mid-call: the worker's state is unknown
        worker.kill()
        raise
    _give_back(worker)  # it answered: ready for the next call, whatever the answer
    if kind == "ok":
        return value
    if kind == "raise":
        raise value  # type: ignore[misc]
    raise SandboxError(value)


# -------------------------------------------------------------- the worker's side ---
def _serve() -> None:
    """The worker's loop: answer requests until the caller closes the pipe, then leave with
    ``os._exit`` (wasmer-sdk's own teardown at interpreter exit is what may abort)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to stdout (the native runtime) cannot corrupt answers
    requests = sys.stdin.buffer
    handlers = {"run": _run_request, "steps": _steps_request}
    while True:
        try:
            message = _receive(requests)
        except Exception:
            message = None
        if message is None:
            break
        what: str = message[0]  # type: ignore[index]
        request: dict[str, Any] = message[1]  # type: ignore[index]
        try:
            answer: tuple[str, object] = ("ok", asyncio.run(handlers[what](request)))
        except BaseException as exc:  # everything goes back to the caller
            answer = _failure(exc)
        try:
            _send(answers, answer)
        except Exception as exc:  # an answer that does not pickle
            _send(answers, ("error", f"{type(exc).__name__}: {exc}"))
    try:
        answers.flush()
    finally:
        os._exit(0)


def _failure(exc: BaseException) -> tuple[str, object]:
    """How an exception travels back: as itself when it pickles and is not the SDK's (the
    caller need not load wasmer-sdk to read it), else as the text of a :class:`SandboxError`."""
    if not type(exc).__module__.startswith("wasmer_sdk"):
        try:
            pickle.dumps(exc)
            return ("raise", exc)
        except Exception:
            pass
    text = str(exc).strip() or type(exc).__name__
    return ("error", text)


def _is_module(source: Path | bytes) -> bool:
    return isinstance(source, bytes) and source[:4] == b"\0asm"


class _Hung:
    """The outcome of a program the runtime did not stop at its timeout (see :func:`_spawned`)."""


#: Seconds past the runtime's own timeout after which a program counts as hung.
_GRACE = 10.0


async def _spawned(proc: Any, stdin: bytes | None, timeout: float | None = None) -> tuple[bytes, bytes, Any]:
    """Feed ``stdin`` and collect the streams of a spawned process while it runs (so output
    written before a trap is kept); returns stdout, stderr and the process's outcome or the
    exception that ended it. The runtime stops a program at its timeout, but not one whose
    child is stuck (gawk's ``cmd | getline`` under wasmer-sdk): past ``timeout`` plus a grace
    period it is killed here and its outcome is :class:`_Hung`."""
    out, err = bytearray(), bytearray()

    async def feed() -> None:
        if proc.stdin is None:
            return
        if stdin:
            await proc.stdin.write(stdin)
        await proc.stdin.close()

    async def drain(stream: Any, sink: bytearray) -> None:
        if stream is not None:
            async for chunk in stream:
                sink.extend(chunk)

    everything = asyncio.gather(feed(), drain(proc.stdout, out), drain(proc.stderr, err), proc.wait(),
                                return_exceptions=True)  # fmt: skip
    try:
        results = await asyncio.wait_for(everything, None if timeout is None else timeout + _GRACE)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.kill(), _GRACE)
        return bytes(out), bytes(err), _Hung()
    return bytes(out), bytes(err), results[3]


def _result(command: str, out: bytes, err: bytes, outcome: Any) -> RunResult:
    """The launcher's exit behaviour: a trap is status 134 and one line naming the program."""
    from wasmer_sdk import WasmerError

    from .outputs.launcher import CRASH_STATUS, crash_message

    if isinstance(outcome, _Hung):
        line = f"{command}: still running after its timeout; stopped\n"
        return RunResult(137, out, err + line.encode())
    if isinstance(outcome, WasmerError):
        line = crash_message(command, outcome) + "\n"
        return RunResult(CRASH_STATUS, out, err + line.encode())
    if isinstance(outcome, BaseException):
        raise outcome
    return RunResult(outcome.exit_code, out, err)


async def _run_request(r: dict[str, Any]) -> RunResult:
    from wasmer_sdk import Wasmer

    from .outputs.launcher import GUEST_HOME, GUEST_PATH, package_definition

    source: Path | bytes = r["package"]
    files = {path: data.encode() if isinstance(data, str) else data for path, data in r["files"].items()}
    outside = {p: d for p, d in files.items() if not (p == _WRITABLE_ROOT or p.startswith(_WRITABLE_ROOT + "/"))}
    env = dict(r["env"])
    env.setdefault("HOME", GUEST_HOME)
    env.setdefault("PATH", GUEST_PATH)
    if r["cwd"] is not None:
        env.setdefault("PWD", r["cwd"])
    cache = Path(r["cache"])  # the caller's: its environment may have changed since the worker started
    cache.mkdir(parents=True, exist_ok=True)
    selector: Any
    async with Wasmer(cache_root=cache) as wasmer:
        if _is_module(source):
            name = r["name"] or r["command"] or "main"
            pkg = await wasmer.packages.create(package_definition({name: source}, outside))  # type: ignore[dict-item]
            selector = pkg.command(name)
        else:
            if outside:
                raise SandboxError(f"files outside {_WRITABLE_ROOT} ({', '.join(sorted(outside))}) can be given "
                                   "to a bare module only; a package brings its own (wasmer.toml's [fs])")
            local = _with_dependencies(source)
            if local is not None:  # the package and the ones beside it it depends on: one package
                definition, entry = local
                pkg = await wasmer.packages.create(definition)
                name = r["command"] or entry
                selector = pkg.command(name)
            else:
                pkg = await wasmer.packages.load(source)
                selector = pkg.command(r["command"]) if r["command"] else pkg
                name = r["command"] or r["name"] or "program"
        inside = {p: d for p, d in files.items() if p not in outside}
        async with await wasmer.sandboxes.create(packages=[pkg], files=inside, env=env, network=_network(r["network"])) as sb:
            proc = await sb.command(selector, r["args"], cwd=r["cwd"], env=env).spawn(
                stdin="pipe" if r["stdin"] is not None else "closed", timeout=r["timeout"]
            )
            result = _result(name, *await _spawned(proc, r["stdin"], r["timeout"]))
            for path in r["read_back"]:
                try:
                    result.files[path] = await sb.fs.read(path)
                except Exception:  # the guest did not create it
                    continue
            return result


def _manifest(folder: Path) -> dict[str, Any]:
    import tomllib

    toml = folder / "wasmer.toml"
    try:
        return tomllib.loads(toml.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SandboxError(f"{toml}: cannot be read: {exc}") from None


def _with_dependencies(source: Path | bytes) -> tuple[Any, str] | None:
    """For a package directory with ``[dependencies]``: one in-memory package of it and the
    package directories of its dependencies beside it (transitively; its own names win), and
    its entrypoint. ``None`` for anything else. A ``.webc`` with dependencies is refused."""
    from .outputs.launcher import package_definition

    if isinstance(source, bytes):
        if source[:5] == b"\0webc":
            from .outputs.webc import read_webc

            use = read_webc(source).get("manifest", {}).get("use") or {}
            if use:
                raise SandboxError(f"this .webc depends on {', '.join(sorted(use))}, which wasmer-sdk would fetch from "
                                   "its registry: run its package directory beside theirs (wasix-build wasmer writes both)")
        return None
    if not (source.is_dir() and (source / "wasmer.toml").is_file()) or not _manifest(source).get("dependencies"):
        return None
    modules: dict[str, bytes] = {}
    files: dict[str, bytes] = {}
    queue, seen, entry = [source], {source.resolve()}, ""
    while queue:
        folder = queue.pop(0)
        spec = _manifest(folder)
        entry = entry or spec.get("package", {}).get("entrypoint") or ""
        blobs = {m["name"]: (folder / m["source"]).read_bytes() for m in spec.get("module", [])}
        for cmd in spec.get("command", []):
            modules.setdefault(cmd["name"], blobs[cmd["module"]])
        for guest, rel in (spec.get("fs") or {}).items():
            base = folder / rel
            found = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
            for path in found:
                inner = "" if path == base else "/" + path.relative_to(base).as_posix()
                files.setdefault(guest.rstrip("/") + inner, path.read_bytes())
        for dep in sorted(spec.get("dependencies") or {}):
            beside = folder.parent / dep.rsplit("/", 1)[-1]
            if not (beside / "wasmer.toml").is_file():
                raise SandboxError(f"{folder.name} depends on {dep}: no package directory {beside} beside it "
                                   f"(wasix-build wasmer {folder.name} writes it)")
            if beside.resolve() not in seen:
                seen.add(beside.resolve())
                queue.append(beside)
    return package_definition(modules, files), entry or next(iter(modules))


async def _steps_request(r: dict[str, Any]) -> list[RunResult]:
    from wasmer_sdk import Wasmer

    from .outputs.launcher import package_definition

    cache = Path(r["cache"])  # the caller's: its environment may have changed since the worker started
    cache.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    async with Wasmer(cache_root=cache) as wasmer:
        pkg = await wasmer.packages.create(package_definition(r["modules"], r["data"]))
        async with await wasmer.sandboxes.create(packages=[pkg], files=r["files"], network=_network(r["network"])) as sb:
            for command, args, stdin, env in r["steps"]:
                proc = await sb.command(pkg.command(command), args, cwd=r["cwd"], env=env).spawn(
                    stdin="pipe" if stdin is not None else "closed", timeout=r["timeout"]
                )
                results.append(_result(command, *await _spawned(proc, stdin, r["timeout"])))
            for path in r["read_back"]:
                try:
                    results[-1].files[path] = await sb.fs.read(path)
                except Exception:  # the guest did not create it
                    continue
    return results
