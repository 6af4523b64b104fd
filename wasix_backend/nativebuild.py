"""A package's own sources built for the build machine: the native side of its behaviour tests
where Debian ships no such program (``native = "build:NAME"`` in ``cases.toml``).

The sources are fetched and patched, and the configure phase run, by the same hooks as the
package's WebAssembly build (its plugin's included), so the native program is built from the
same tree. For cargo recipes (the only kind supported) that is the same Cargo.lock and the
same vendored crates, git-pinned ones included; the host's cargo then builds them with the
same Rust compiler, for the build machine instead of ``--target wasm32-…``.

This runs around builds, never inside one: it is in no store key.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WasixError

if TYPE_CHECKING:
    from .plugins import LoadedPlugins
    from .recipe import Recipe

SUPPORTED = ("cargo",)


class NativeBuildError(WasixError):
    """The native build could not be made (the message names the package and the log)."""


def native_build(recipe: Recipe, plugins: LoadedPlugins, work: Path, *, jobs: int = 2) -> dict[str, Path]:
    """Build ``recipe``'s binaries for this machine under ``work``; binary name -> program.

    A missing requirement (crates, sources, Rust) raises the same
    :class:`~.errors.MissingRequirement` a WebAssembly build would (callers skip); a failing
    step raises :class:`NativeBuildError` naming the log.
    """
    from .buildenv import host_path
    from .buildsystems import cargo
    from .context import BuildContext

    if recipe.build_system not in SUPPORTED:
        raise NativeBuildError(
            f"{recipe.name}: a native build of its own sources is made for {', '.join(SUPPORTED)} recipes only "
            f"(it builds with {recipe.build_system!r}); name a native program by its path in cases.toml"
        )
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    log_file = work / "native-build.log"
    logger = logging.getLogger(f"wasix_backend.native.{recipe.name}.{id(work):x}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    (work / "home").mkdir(exist_ok=True)
    env = {"PATH": host_path(), "HOME": str(work / "home"), "LC_ALL": "C", "TZ": "UTC"}
    ctx = BuildContext(
        recipe=recipe,
        source_dir=work / "src",
        build_dir=work / "build",
        prefix=work / "prefix",
        destdir=work / "dest",
        deps={},
        env=env,
        toolchain=None,  # type: ignore[arg-type]  # fetch, patch and cargo's configure use no C toolchain
        jobs=jobs,
        log=logger,
        log_file=log_file,
    )
    try:
        for phase in ("fetch", "patch", "configure"):
            ctx.phase = phase
            if phase == "configure":
                ctx.build_dir.mkdir(parents=True, exist_ok=True)
            plugins.hook_for(recipe.name, phase)(ctx=ctx)
        ctx.phase = "native build"
        tc = cargo._toolchain(ctx)
        if tc.kind == "cargo-wasix":
            raise NativeBuildError(f"{recipe.name}: no native build with cargo-wasix; use a rustup or system Rust")
        target = work / "target"
        args: list[str | os.PathLike[str]] = [
            tc.cargo, "build", "--release", "--offline", "--locked", "-j", str(jobs),
            "--manifest-path", cargo._manifest(ctx), "--target-dir", target,
        ]  # fmt: skip
        if recipe.build.get("no-default-features"):
            args.append("--no-default-features")
        features = [str(f) for f in recipe.build.get("features", [])]
        if features:
            args += ["--features", ",".join(features)]
        for name in recipe.build.get("bins", recipe.binaries):
            args += ["--bin", str(name)]
        build_env = {"CARGO_HOME": str(cargo._cargo_home(ctx)), **tc.env()}
        if ctx.run(args, cwd=cargo._manifest(ctx).parent, env=build_env, check=False) != 0:
            raise NativeBuildError(f"{recipe.name}: the native `cargo build` failed (log: {log_file})")
    finally:
        logger.removeHandler(handler)
        handler.close()
    out = {name: target / "release" / name for name in recipe.binaries}
    for name, path in out.items():
        if not path.is_file():
            raise NativeBuildError(f"{recipe.name}: the native build made no {name} in {path.parent} (log: {log_file})")
    return out
