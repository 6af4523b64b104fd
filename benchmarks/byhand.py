"""The by-hand baseline: a recipe and its dependencies built the way a person would, with no
engine — unpack, patch, ``./configure && make -j2 && make install`` — using the same compiler
and flags as the toolchain provider's own commands (no driver, no wrappers, no cache).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness import BenchError

if TYPE_CHECKING:
    from wasix_backend.toolchain.providers import WasixProvider

#: Stand-in for a command line's own arguments, to split the provider's commands around.
_ARGS = "\x00args\x00"


def _around(command: list[str]) -> tuple[list[str], list[str]]:
    at = command.index(_ARGS)
    return command[:at], command[at + 1 :]


def _provider(name: str) -> WasixProvider:
    """Toolchain provider ``name`` as the driver would select it here, checked usable."""
    from wasix_backend.toolchain.providers import WasixProvider
    from wasix_backend.toolchain.settings import parse_settings

    settings, _ = parse_settings([], {**os.environ, "WASIXCC_PROVIDER": name})
    provider = WasixProvider(settings)
    provider.require()
    return provider


def provider_env(name: str) -> tuple[dict[str, str], str]:
    """``CC``, ``CPPFLAGS``, ``LIBS``, ``AR`` … made of provider ``name``'s own commands, and the
    host triple. Compile flags after the arguments go to CPPFLAGS, link-only ones to LIBS."""
    from wasix_backend.toolchain import get_toolchain
    from wasix_backend.toolchain.providers import parse_invocation

    provider = _provider(name)
    # With an -O level (CFLAGS carries -O2, as the engine's environment does) and an output.
    compile_inv = replace(parse_invocation(["-O2", "-c", "x.c"], cxx=False), args=[_ARGS])
    link_inv = replace(parse_invocation(["-O2", "x.c", "-o", "x"], cxx=False), args=[_ARGS], output="x")
    cc, post = _around(provider.compile_command(compile_inv))
    link_cc, link_post = _around(provider.compile_command(link_inv))
    cxx, _ = _around(provider.compile_command(replace(compile_inv, cxx=True)))
    if link_cc != cc or link_post[: len(post)] != post:
        raise BenchError(f"by-hand build: the {name} provider's link command does not extend its compile command")

    def tool(which: str) -> str:
        return shlex.join(provider.tool_command(which, []))

    env = {
        "CC": shlex.join(cc),
        "CXX": shlex.join(cxx),
        "CPPFLAGS": shlex.join(post),
        "CFLAGS": "-O2",
        "CXXFLAGS": "-O2",
        "LDFLAGS": "",
        "LIBS": shlex.join(link_post[len(post) :]),
        "AR": tool("ar"),
        "RANLIB": tool("ranlib"),
        "NM": tool("nm"),
    }
    return env, get_toolchain(name).host


def build_by_hand(name: str, work: Path, provider: str, *, jobs: int = 2) -> dict[str, Path]:
    """Build recipe ``name`` and its dependencies by hand under ``work``; their prefixes."""
    import native

    tool_env, host = provider_env(provider)
    return native.build_tree(name, work, tool_env, host=host, cross=True, jobs=jobs)


def post_link_by_hand(name: str, prefixes: dict[str, Path], provider: str) -> int:
    """Run the provider's post-link step (wasixcc's wasm-opt: asyncify, then -O2) once on each
    program ``name`` installs, as a person must for fork and setjmp to work; how many ran.

    Plain clang links leave it out, so the by-hand modules differ from what the toolchain
    (and the engine) ships until this has run."""
    import subprocess

    from wasix_backend.plugins import load_plugins
    from wasix_backend.toolchain.driver import post_link

    chosen = _provider(provider)
    ran = 0
    for program in load_plugins().recipes[name].binaries:
        module = prefixes[name] / "bin" / program
        step = post_link(chosen, str(module))
        if step.command is None:
            continue
        proc = subprocess.run(step.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise BenchError(f"by-hand build: the {provider} provider's post-link step failed on {module}: "
                             f"{proc.stderr.strip()[-600:]}")  # fmt: skip
        ran += 1
    return ran
