"""Plain builds of a recipe and its dependencies, no engine: native (host gcc) for the size
comparison, and the by-hand cross build (:mod:`byhand`).

Same sources (the recipes' pinned archives, from the source cache), same patches, same
configure arguments as the WASIX build; only the compiler differs: the host's ``gcc -Os``.
Dependencies are made visible exactly as the engine does it (:func:`dependency_env`), so a
program links the static library just built, never a host copy.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import BenchError

#: Arguments that only make sense when cross-compiling.
_CROSS_ONLY = ("--host", "--build", "--target")


@dataclass(frozen=True)
class _HostTools:
    """What recipe placeholders ask of a toolchain (``{host}``, ``{build_cc}``), for gcc."""

    host: str
    build_cc: str = "gcc"


def _run(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"native build: `{' '.join(argv[:3])}` failed in {cwd} (log {log}):\n{tail}")


def build_native(name: str, work: Path, *, cflags: str = "-Os") -> dict[str, Path]:
    """Build recipe ``name`` and its dependencies natively under ``work``.

    Returns each package's install prefix. The recipes' ``[build] env`` is not applied: it
    holds settings for the cross build (the native configure detects the host itself).
    """
    host = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True, check=True).stdout.strip()
    return build_tree(name, work, {"CC": "gcc", "CFLAGS": cflags}, host=host, cross=False, jobs=os.cpu_count() or 1)


def build_tree(name: str, work: Path, tool_env: dict[str, str], *, host: str, cross: bool, jobs: int) -> dict[str, Path]:
    """Unpack, patch, ``configure && make -jN && make install`` ``name`` and its dependencies
    under ``work`` with the compiler variables ``tool_env``; each package's install prefix.

    ``cross``: pass ``--host`` (the recipe's, else ``host``) and apply the recipes' ``[build]
    env``, as the engine does; otherwise leave both out (a native build).
    """
    from wasix_backend.buildenv import dependency_env
    from wasix_backend.context import BuildContext
    from wasix_backend.extract import extract
    from wasix_backend.fetch import fetch_source
    from wasix_backend.graph import closure
    from wasix_backend.plugins import load_plugins

    loaded = load_plugins()
    order = closure(loaded.recipes, [name])
    prefixes: dict[str, Path] = {}
    for pkg in order:
        recipe = loaded.recipes[pkg]
        if recipe.build_system != "autotools":
            raise BenchError(f"plain build: {pkg} uses {recipe.build_system!r}, only autotools is supported")
        src = work / "src" / pkg
        for source in recipe.sources:
            archive = fetch_source(source, package=pkg, progress=False)
            extract(archive, src / source.subdir if source.subdir else src, strip=source.strip)
        log = work / f"{pkg}.log"
        env = {**os.environ, **tool_env}
        if cross:
            env.update({k: str(v) for k, v in recipe.build.get("env", {}).items()})
        for patch in recipe.patches:
            _run(["patch", "-p1", "--forward", "--batch", "-i", str(patch)], src, env, log)
        deps = {d: prefixes[d] for d in closure(loaded.recipes, [pkg]) if d != pkg}
        env.update(dependency_env(deps, env))
        prefix = work / "prefix" / pkg
        # The engine's own placeholder filling ({prefix}, {dep:NAME}, {build_cc} …).
        ctx = BuildContext(recipe=recipe, source_dir=src, build_dir=src, prefix=prefix,
                           destdir=work / "dest", deps=deps, env=env,
                           toolchain=_HostTools(host), jobs=jobs,  # type: ignore[arg-type]
                           log=logging.getLogger("bench.native"))

        def setting(key: str) -> list[str]:
            return [ctx.expand(str(a)) for a in recipe.build.get(key, [])]  # noqa: B023

        args = setting("configure-args")
        if cross:
            args = [f"--host={recipe.build.get('host', host)}", *args]
        else:
            args = [a for a in args if not a.startswith(_CROSS_ONLY)]
        script = src / str(recipe.build.get("configure-script", "configure"))
        _run([str(script), f"--prefix={prefix}", *args], src, env, log)
        _run(["make", f"-j{jobs}", *setting("make-args")], src, env, log)
        _run(["make", str(recipe.build.get("install-target", "install"))], src, env, log)
        prefixes[pkg] = prefix
    return prefixes


def stripped_size(binary: Path, scratch: Path) -> int:
    """Size in bytes of ``binary`` after ``strip`` (symbols removed, as a release ships it)."""
    copy = scratch / f"{binary.name}.stripped"
    copy.write_bytes(binary.read_bytes())
    subprocess.run(["strip", str(copy)], check=True)
    return copy.stat().st_size
