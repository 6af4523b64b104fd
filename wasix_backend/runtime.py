"""Run WASI/WASIX modules and Wasmer packages in-process with the real Wasmer runtime.

A thin synchronous layer over PyPI's ``wasmer-sdk``: tests, the wheel launcher and
behaviour checks all run modules through :func:`run`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_path

#: The guest working directory programs start in: where ``files`` usually go. The SDK's own
#: default is ``/``, which would make ``files={"/workspace/in.txt": …}`` + ``args=["in.txt"]`` fail.
GUEST_CWD = "/workspace"


def wasmer_cache_dir() -> Path:
    """Where Wasmer keeps compiled modules (so a second run of a module starts fast)."""
    return Path(os.environ.get("WASIX_WASMER_CACHE") or user_cache_path("wasix-backend") / "wasmer")


def _network(enabled: bool) -> str:
    """wasmer-sdk's sandbox network policy: ``"host"`` (the host's sockets) or ``"disabled"``."""
    return "host" if enabled else "disabled"


@dataclass
class RunResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    #: Contents of the guest files named in ``read_back`` after the run (missing ones absent).
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


async def run_async(
    package: Path | bytes,
    args: Sequence[str] = (),
    *,
    command: str | None = None,
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
    ``/workspace/a.txt``); ``read_back`` lists guest paths whose contents are returned.
    ``command`` picks a named command of a package; the default is its entrypoint.
    The program starts in ``cwd``, by default :data:`GUEST_CWD` (``/workspace``), so relative
    paths name the files given there; ``cwd=None`` leaves the sandbox's own default, ``/``.
    ``network=True`` lets the guest open sockets to the host's network (wasmer-sdk's
    ``network="host"``); off by default, so a program reaches nothing unless a test says so.
    """
    from wasmer_sdk import Wasmer

    if isinstance(package, Path) and package.is_file():
        source: Path | bytes = package.read_bytes()
    else:
        source = package
    cache = wasmer_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    async with Wasmer(cache_root=cache) as wasmer:
        pkg = await wasmer.packages.load(source)
        async with await wasmer.sandboxes.create(
            packages=[pkg], files=dict(files or {}), env=dict(env or {}), network=_network(network)
        ) as sb:
            selector = pkg.command(command) if command else pkg
            out = await sb.command(selector, list(args), cwd=cwd, env=dict(env or {})).run(
                stdin=stdin, check=False, timeout=timeout
            )
            back: dict[str, bytes] = {}
            for path in read_back:
                try:
                    back[path] = await sb.fs.read(path)
                except Exception:  # the guest did not create it
                    continue
            return RunResult(out.exit_code, out.stdout.bytes, out.stderr.bytes, back)


def run(package: Path | bytes, args: Sequence[str] = (), **kwargs: object) -> RunResult:
    """Synchronous :func:`run_async`."""
    return asyncio.run(run_async(package, args, **kwargs))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Invocation:
    """One command run in a shared sandbox by :func:`run_steps`."""

    command: str
    args: Sequence[str] = ()
    stdin: bytes | None = None
    env: Mapping[str, str] = field(default_factory=dict)


async def run_steps_async(
    modules: Mapping[str, Path],
    steps: Sequence[Invocation],
    *,
    files: Mapping[str, bytes | str] | None = None,
    cwd: str | None = GUEST_CWD,
    read_back: Sequence[str] = (),
    timeout: float = 120.0,
    network: bool = False,
) -> list[RunResult]:
    """Run ``steps`` one after another in ONE sandbox, so later steps see what earlier ones
    wrote (compress, then decompress). ``modules`` maps command names to ``.wasm`` files; they
    form one in-memory package, so a step may use any of them. ``read_back`` is read after
    the last step and returned in the last result's ``files``. ``network`` as for :func:`run_async`."""
    from wasmer_sdk import PackageCommandDefinition, PackageDefinition, Wasmer

    cache = wasmer_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    definition = PackageDefinition(
        modules={name: path.read_bytes() for name, path in modules.items()},
        commands={name: PackageCommandDefinition(module=name) for name in modules},
    )
    results: list[RunResult] = []
    async with Wasmer(cache_root=cache) as wasmer:
        pkg = await wasmer.packages.create(definition)
        async with await wasmer.sandboxes.create(packages=[pkg], files=dict(files or {}), network=_network(network)) as sb:
            for step in steps:
                out = await sb.command(pkg.command(step.command), list(step.args), cwd=cwd, env=dict(step.env)).run(
                    stdin=step.stdin, check=False, timeout=timeout
                )
                results.append(RunResult(out.exit_code, out.stdout.bytes, out.stderr.bytes))
            for path in read_back:
                try:
                    results[-1].files[path] = await sb.fs.read(path)
                except Exception:  # the guest did not create it
                    continue
    return results


def run_steps(modules: Mapping[str, Path], steps: Sequence[Invocation], **kwargs: object) -> list[RunResult]:
    """Synchronous :func:`run_steps_async`."""
    return asyncio.run(run_steps_async(modules, steps, **kwargs))  # type: ignore[arg-type]
