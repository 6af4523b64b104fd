"""``wasixcc``: one multicall driver, named like upstream's.

The name it is called by picks the tool: ``wasixcc`` (C), ``wasix++``/``wasixcc++`` (C++),
``wasixar``, ``wasixnm``, ``wasixranlib``, ``wasixld``. Settings come from ``-sKEY=VALUE``
arguments and ``WASIXCC_KEY`` variables (see :mod:`.settings`); the provider (see
:mod:`.providers`) turns the command line into the real one.

Kept light on imports: build systems start it once per source file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import WasixError
from .providers import WasixProvider, parse_invocation
from .settings import parse_settings

#: Program name -> tool.
TOOLS = {
    "wasixcc": "cc",
    "wasix++": "c++",
    "wasixcc++": "c++",
    "wasixar": "ar",
    "wasixnm": "nm",
    "wasixranlib": "ranlib",
    "wasixld": "ld",
}


def tool_for(program: str) -> str | None:
    """The tool a program name stands for (``/usr/bin/wasixcc.exe`` -> ``cc``)."""
    name = Path(program).name.lower().removesuffix(".exe")
    return TOOLS.get(name)


def _run(cmd: Sequence[str], provider: WasixProvider) -> int:
    env = {**os.environ, **provider.env()}
    try:
        return subprocess.run(list(cmd), env=env).returncode
    except FileNotFoundError:
        print(f"wasixcc: cannot run {cmd[0]} (not found)", file=sys.stderr)
        return 127


#: Calls of ``wasix_32v1`` whose presence among a module's imports (found as bytes, as the
#: wrappers' ``grep -a`` finds them) means Wasmer may unwind its stack: only then is asyncify
#: needed. A module without them (no fork, setjmp or exec: gzip, grep, sed, xz, jq, sqlite3 …)
#: is not instrumented, which makes it smaller and faster. A name that occurs elsewhere in the
#: module only costs the instrumentation, never correctness.
UNWINDING_CALLS = ("proc_fork", "stack_checkpoint", "stack_restore", "proc_exec")


def needs_asyncify(module: bytes) -> bool:
    """Whether ``module`` may import one of :data:`UNWINDING_CALLS`."""
    return any(name.encode() in module for name in UNWINDING_CALLS)


@dataclass(frozen=True)
class PostLink:
    """What follows a successful link: a wasm-opt command, or a message and a status.
    ``plain`` is the command for a module that does not need asyncify (see
    :func:`needs_asyncify`), when ``command`` asyncifies."""

    command: list[str] | None = None
    message: str | None = None
    status: int = 0
    plain: list[str] | None = None


def post_link(provider: WasixProvider, output: str) -> PostLink:
    """The step after linking ``output`` (pure: the generated wrappers bake it, too)."""
    args = provider.wasm_opt_args()
    if args is None:
        return PostLink()
    wasm_opt = provider.wasm_opt()
    if wasm_opt is None:
        if provider.settings.run_wasm_opt:
            return PostLink(message="wasixcc: RUN_WASM_OPT is set but wasm-opt was not found (set WASIXCC_BINARYEN_LOCATION)", status=1)
        if "--asyncify" in args:
            return PostLink(
                message=f"wasixcc: warning: wasm-opt not found; {output} is not asyncified "
                "(setjmp/longjmp and fork will not work). Set WASIXCC_BINARYEN_LOCATION.",
            )
        return PostLink()
    command = [str(wasm_opt), *args, output, "-o", output]
    if "--asyncify" not in args:
        return PostLink(command=command)
    plain = [a for a in args if a != "--asyncify" and not a.startswith("--pass-arg=asyncify-")]
    return PostLink(command=command, plain=[str(wasm_opt), *plain, output, "-o", output])


def _post_link(provider: WasixProvider, output: str) -> int:
    step = post_link(provider, output)
    if step.message:
        print(step.message, file=sys.stderr)
    if step.command is None:
        return step.status
    if step.plain is not None:
        try:
            data = Path(output).read_bytes()
        except OSError:
            data = b""
        if data and not needs_asyncify(data):
            return _run(step.plain, provider)
    return _run(step.command, provider)


def run_tool(tool: str, argv: Sequence[str], environ: dict[str, str] | None = None) -> int:
    """Run ``tool`` (``cc``, ``c++``, ``ar``, ``nm``, ``ranlib``, ``ld``) with ``argv``.

    Returns the exit status. Raises :class:`~wasix_backend.errors.WasixError` for unusable
    settings or a provider that cannot work here.
    """
    settings, args = parse_settings(argv, os.environ if environ is None else environ)
    from . import choose_provider  # the package __init__ is loaded already (we live in it)

    provider = choose_provider(settings, driver=True)
    if tool in ("cc", "c++"):
        inv = parse_invocation(args, cxx=tool == "c++")
        status = _run(provider.compile_command(inv), provider)
        if status == 0 and inv.links:
            status = _post_link(provider, inv.output or "a.out")
        return status
    return _run(provider.tool_command(tool, args), provider)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point of every driver name."""
    argv = list(sys.argv if argv is None else argv)
    tool = tool_for(argv[0]) if argv else None
    rest = argv[1:]
    if tool is None and rest and rest[0] in set(TOOLS.values()):
        tool, rest = rest[0], rest[1:]  # `python -m wasix_backend.toolchain.driver cc …`
    if tool is None:
        names = ", ".join(TOOLS)
        print(f"wasixcc: called as {argv[0] if argv else '?'!r}; call it as one of {names}", file=sys.stderr)
        return 2
    try:
        return run_tool(tool, rest)
    except WasixError as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
