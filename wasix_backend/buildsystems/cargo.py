"""The ``cargo`` build system: Rust packages, built offline against vendored crates.

configure
    picks the Rust toolchain (:mod:`wasix_backend.rust`), puts the recipe's Cargo.lock in
    place, fetches and verifies every crate it pins (:mod:`wasix_backend.cargo_vendor`;
    git dependencies and ``crates-git`` pins from their commits, :mod:`wasix_backend.cargo_git`)
    into ``<build_dir>/vendor`` and writes ``<build_dir>/cargo-home/config.toml`` pointing
    cargo's registry and git sources at it. The plan is logged and saved as ``<build_dir>/vendor-plan.json``.
compile
    ``cargo wasix build --release`` (cargo-wasix) or ``cargo build --release --target
    wasm32-wasip1`` (``wasm32-wasi`` before Rust 1.78), always ``--offline --locked``, with
    ``CARGO_HOME`` and the target directory inside the build tree (``~/.cargo`` is never
    used). C code in crates (the ``cc`` crate) compiles with the project's driver through
    ``CC_<target>``/``AR_<target>``; build scripts' own host C uses ``HOST_CC`` (gcc).
package
    copies ``target/<target>/release/NAME.wasm`` to ``bin/NAME.wasm`` for each binary.

Recipe ``[build]`` keys (all optional):

``manifest``            path of ``Cargo.toml`` inside the sources (default ``Cargo.toml``)
``cargo-lock``          a Cargo.lock shipped with the plugin, relative to its folder; copied
                        next to the manifest (needed when the sources have none; it wins
                        over theirs, so the plugin decides the versions)
``features``            list of cargo features to enable
``no-default-features`` bool
``bins``                cargo ``--bin`` targets to build (default: the recipe's ``[outputs] bin``)
``rustflags``           list of extra rustc flags (``RUSTFLAGS``)
``rust-toolchain``      force a toolchain (as ``$WASIX_RUST_TOOLCHAIN``: ``system``,
                        ``cargo-wasix``, a rustup toolchain name or a directory)
``crates-git``          crates of Cargo.lock taken from a git commit where no registry
                        ``.crate`` is at hand: ``NAME = { git = URL, rev = COMMIT }``
                        (:mod:`wasix_backend.cargo_git`); not verified against Cargo.lock's
                        checksum, which the build log and the summary say
``wasix-libc``          bool, default true: with the wasix provider, link ``wasm32-wasi(p1)``
                        programs against its wasix-libc instead of Rust's own wasi-libc
                        (:mod:`wasix_backend.rustlink`: a real working directory, the
                        launcher's mirror step); cargo-wasix links wasix-libc by itself
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from .. import hookimpl
from ..context import BuildContext
from ..recipe import Recipe
from ..registry import BuildSystem, Registry
from ..rust import CARGO_WASIX_TARGET, RustToolchain, find_rust_toolchain
from ..rustlink import MAIN_VOID_SINCE_LLVM, START_SHIM, WasixLibcLink, builtins_library, llvm_major
from ..schema import Field, Section

GIT_PIN = Section("build.crates-git entry", (
    Field("git", "string", "required", "the crate's repository URL"),
    Field("rev", "string", "required", "the full commit id (40 or 64 hex digits) that published the locked version"),
))  # fmt: skip

SYSTEM = "cargo"
#: Cargo.lock format 4 needs cargo 1.78 or newer.
LOCK_V4_SINCE = (1, 78)


SETTINGS = Section("build (cargo)", (
    Field("manifest", "string", '`"Cargo.toml"`', "the manifest's path inside the sources"),
    Field("cargo-lock", "string", "—", "a Cargo.lock shipped with the plugin (relative to its folder); wins over the sources' own"),
    Field("features", "list of strings", "`[]`", "cargo features to enable"),
    Field("no-default-features", "bool", "`false`", "`--no-default-features`"),
    Field("bins", "list of strings", "`[outputs] bin`", "cargo `--bin` targets"),
    Field("rustflags", "list of strings", "`[]`", "extra rustc flags (`RUSTFLAGS`)"),
    Field("rust-toolchain", "string", "found", "`system`, `cargo-wasix`, a rustup toolchain name or a directory"),
    Field("wasix-libc", "bool", "`true`", "with the wasix provider, link `wasm32-wasi(p1)` programs against its wasix-libc (a real working directory, relative paths from where the program was started, the launcher's mirror step) instead of Rust's own plain-WASI C library"),
    Field("crates-git", "table of tables", "`{}`", "crate name → `{ git = URL, rev = COMMIT }`: a crate of Cargo.lock taken from that commit (the mirror's `NAME-COMMIT.bundle`, else the repository) where no registry `.crate` is at hand, packaged as `cargo package` would; pinned by the commit, **not** verified against Cargo.lock's checksum (the build log and the summary say so)", entry=GIT_PIN),
))  # fmt: skip


def identity(recipe: Recipe, c_toolchain: str) -> str:
    """Rust builds also depend on the Rust compiler (store keys)."""
    return f"{c_toolchain}+{find_rust_toolchain(recipe.build.get('rust-toolchain')).identity}"


@hookimpl
def wasix_register(registry: Registry) -> None:
    registry.build_system(BuildSystem(
        SYSTEM, hooks=sys.modules[__name__], settings=SETTINGS, identity=identity,
        markers=("Cargo.toml",),
        scaffold=(("cargo-lock", "Cargo.lock", "shipped next to this file when the sources have none"),),
        doc="Rust, offline against crates vendored from Cargo.lock",
    ))  # fmt: skip


def _toolchain(ctx: BuildContext) -> RustToolchain:
    tc = ctx.state.get("rust")
    if not isinstance(tc, RustToolchain):
        tc = find_rust_toolchain(ctx.recipe.build.get("rust-toolchain") or None)
        ctx.state["rust"] = tc
    return tc


def _manifest(ctx: BuildContext) -> Path:
    manifest = ctx.source_dir / str(ctx.recipe.build.get("manifest", "Cargo.toml"))
    if not manifest.is_file():
        raise ctx.fail(
            f'no {manifest.name} at {manifest} (set [build] manifest = "path/Cargo.toml")'
        )
    return manifest


def _cargo_home(ctx: BuildContext) -> Path:
    return ctx.build_dir / "cargo-home"


def _target_dir(ctx: BuildContext) -> Path:
    return ctx.build_dir / "target"


def _place_lock(ctx: BuildContext, manifest: Path) -> Path:
    lock = manifest.parent / "Cargo.lock"
    shipped = ctx.recipe.build.get("cargo-lock")
    if shipped:
        src = (ctx.plugin_dir or Path.cwd()) / str(shipped)
        if not src.is_file():
            raise ctx.fail(f"[build] cargo-lock: no such file {src}")
        shutil.copyfile(src, lock)
    if not lock.is_file():
        raise ctx.fail(
            f"no Cargo.lock next to {manifest}: an offline build needs exact versions and checksums; "
            "ship one with the plugin and name it in [build] cargo-lock"
        )
    return lock


@hookimpl
def wasix_configure(ctx: BuildContext) -> bool | None:
    # Imported here: every build (and every no-op) loads this plugin; few vendor crates.
    from ..cargo_git import parse_pins
    from ..cargo_vendor import (
        CrateSources,
        drop_unverified_checksums,
        plan_vendoring,
        read_lock,
        vendor,
        write_cargo_config,
    )

    tc = _toolchain(ctx)
    ctx.log.info("Rust toolchain: %s", json.dumps(tc.describe()))
    lock_path = _place_lock(ctx, _manifest(ctx))
    lock = read_lock(lock_path)
    if lock.version >= 4 and tc.version[:2] < LOCK_V4_SINCE:
        raise ctx.fail(
            f"{lock_path} is lock format {lock.version}, which cargo {tc.version_text} cannot read "
            "(regenerate it with `cargo +1.77 generate-lockfile` or use a newer toolchain)"
        )
    try:
        pins = parse_pins(ctx.recipe.build.get("crates-git"))
    except ValueError as exc:
        raise ctx.fail(f"[build] {exc}") from None
    plan = plan_vendoring(lock, CrateSources.from_env(), pins)
    ctx.log.info("%s", plan.summary())
    (ctx.build_dir / "vendor-plan.json").write_text(json.dumps(plan.as_dict(), indent=2))
    vendor_dir = vendor(plan, ctx.build_dir / "vendor")
    dropped = drop_unverified_checksums(lock_path, plan)
    if dropped:
        ctx.log.warning(
            "not verified against Cargo.lock (checksums removed from the build's copy): %s",
            ", ".join(dropped),
        )
    note = plan.git_note()
    if note:
        ctx.log.warning("%s", note)
        # The engine shows these in the summary and keeps them in the entry's record.
        notes = ctx.state.setdefault("notes", [])
        if isinstance(notes, list):
            notes.append(note)
    write_cargo_config(_cargo_home(ctx), vendor_dir, lock.crates)
    return True


def wasix_libc_link(ctx: BuildContext, tc: RustToolchain) -> WasixLibcLink | None:
    """How this build links against the wasix provider's wasix-libc, or None: another provider
    (or none), cargo-wasix (its target links wasix-libc itself), or ``[build] wasix-libc = false``."""
    if "wasix-libc-link" in ctx.state:
        found = ctx.state["wasix-libc-link"]
        return found if isinstance(found, WasixLibcLink) else None
    link = _plan_wasix_libc_link(ctx, tc)
    ctx.state["wasix-libc-link"] = link
    if link is not None:
        ctx.log.info("linking against wasix-libc: %s", " ".join(link.rustflags()))
    return link


def _plan_wasix_libc_link(ctx: BuildContext, tc: RustToolchain) -> WasixLibcLink | None:
    from ..toolchain.providers import WasixProvider

    toolchain = ctx.toolchain
    if (
        toolchain is None
        or tc.target == CARGO_WASIX_TARGET
        or not ctx.recipe.build.get("wasix-libc", True)
    ):
        return None
    provider = toolchain.chosen
    if not isinstance(provider, WasixProvider) or provider.sysroot is None:
        return None
    lib_dir = provider.sysroot / "lib" / "wasm32-wasi"
    if not (lib_dir / "crt1-command.o").is_file():
        raise ctx.fail(
            f"the wasix-libc sysroot {provider.sysroot} has no lib/wasm32-wasi/crt1-command.o; rebuild it (wasix-build build wasix-libc)"
        )
    cc = ctx.env.get("CC", "wasixcc").split()
    builtins = builtins_library(cc)
    if builtins is None:
        raise ctx.fail(
            f"`{' '.join(cc)} -print-libgcc-file-name` names no compiler-rt builtins archive for wasm32, which Rust "
            "programs linked against wasix-libc need (on Debian: apt-get install libclang-rt-19-dev-wasm32); "
            "or set [build] wasix-libc = false"
        )
    start = None
    major = llvm_major(tc.verbose_version)
    if major is None or major < MAIN_VOID_SINCE_LLVM:
        src = ctx.build_dir / "wasix-start.c"
        src.write_text(START_SHIM)
        start = src.with_suffix(".o")
        ctx.run([*cc, "-O2", "-c", str(src), "-o", str(start)])
    return WasixLibcLink(
        lib_dir=lib_dir, builtins=builtins, mirror=provider.mirror_library(), start=start
    )


def _which(tool: str, env: dict[str, str]) -> str:
    found = shutil.which(tool, path=env.get("PATH"))
    return os.path.abspath(found) if found else tool


def cargo_env(ctx: BuildContext, tc: RustToolchain) -> dict[str, str]:
    """Environment for cargo: toolchain, private CARGO_HOME, C compilers per target."""
    env = {"CARGO_HOME": str(_cargo_home(ctx)), **tc.env()}
    suffix = tc.target.replace("-", "_")
    for var in ("CC", "CXX", "AR"):
        if ctx.env.get(var):
            env[f"{var}_{suffix}"] = _which(ctx.env[var].split()[0], ctx.env)
    # The toolchain env's CC/CFLAGS target wasm; C compiled for build scripts must not use them.
    host_cc = ctx.env.get("CC_FOR_BUILD") or ctx.env.get("BUILD_CC") or "cc"
    env.update(
        HOST_CC=host_cc,
        HOST_CXX=ctx.env.get("CXX_FOR_BUILD", "c++"),
        HOST_AR="ar",
        HOST_CFLAGS="",
        HOST_CXXFLAGS="",
    )
    flags = [str(f) for f in ctx.recipe.build.get("rustflags", [])]
    link = wasix_libc_link(ctx, tc)
    if link is not None:
        flags = [*link.rustflags(), *flags]
    if flags:
        # Encoded (0x1f between arguments): paths with spaces stay one argument.
        inherited = ctx.env.get("CARGO_ENCODED_RUSTFLAGS")
        base = inherited.split("\x1f") if inherited else ctx.env.get("RUSTFLAGS", "").split()
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join([*filter(None, base), *flags])
    return env


def cargo_command(ctx: BuildContext, tc: RustToolchain) -> list[str]:
    """The full build command line."""
    build = ctx.recipe.build
    args = [
        *tc.build_command(),
        "--offline",
        "--locked",
        "-j",
        str(ctx.jobs),
        "--manifest-path",
        str(_manifest(ctx)),
        "--target-dir",
        str(_target_dir(ctx)),
    ]
    if build.get("no-default-features"):
        args.append("--no-default-features")
    features = [str(f) for f in build.get("features", [])]
    if features:
        args += ["--features", ",".join(features)]
    for name in build.get("bins", ctx.recipe.binaries):
        args += ["--bin", str(name)]
    return args


@hookimpl
def wasix_compile(ctx: BuildContext) -> bool | None:
    tc = _toolchain(ctx)
    ctx.run(cargo_command(ctx, tc), cwd=_manifest(ctx).parent, env=cargo_env(ctx, tc))
    return True


@hookimpl
def wasix_package(ctx: BuildContext) -> bool | None:
    out_dir = _toolchain(ctx).output_dir(_target_dir(ctx))
    bin_dir = ctx.stage / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ctx.recipe.binaries:
        built = out_dir / f"{name}.wasm"
        if not built.is_file():
            raise ctx.fail(
                f"cargo produced no {built.name} in {out_dir} (is `{name}` a [[bin]] of the crate?)"
            )
        shutil.copy2(built, bin_dir / built.name)
        if wasix_libc_link(ctx, _toolchain(ctx)) is not None:
            _post_link(ctx, bin_dir / built.name)
    return True


def _post_link(ctx: BuildContext, module: Path) -> None:
    """What the C driver does after linking a program (asyncify for fork and setjmp) where the
    program calls them, after checking that the linker left no symbol to the runtime (rustc
    links with ``--allow-undefined``: a symbol no library defines would only fail when the
    program starts)."""
    from ..inspect import inspect_module
    from ..rustlink import needs_asyncify, undefined_imports
    from ..toolchain.driver import post_link
    from ..toolchain.providers import ASYNCIFY_IMPORTS

    imports = inspect_module(module).imports
    missing = undefined_imports(imports)
    if missing:
        raise ctx.fail(
            f"{module.name} leaves symbols undefined that neither wasix-libc nor compiler-rt defines: "
            f"{', '.join(missing)} (set [build] wasix-libc = false to link Rust's own wasi-libc instead)"
        )
    if not needs_asyncify(imports, ASYNCIFY_IMPORTS):
        ctx.log.info("%s calls no fork, setjmp or exec: not asyncified", module.name)
        return  # finalize optimises it as every program
    provider = ctx.toolchain.chosen
    assert provider is not None  # wasix_libc_link() found the wasix provider
    step = post_link(provider, str(module))
    if step.message:
        ctx.log.warning("%s", step.message)
    if step.command is not None:
        ctx.run(step.command)
