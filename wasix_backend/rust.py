"""Finding a Rust toolchain that can compile to WASI/WASIX.

Candidates, in order of preference:

1. **cargo-wasix** with its ``wasix`` rustup toolchain (a Rust fork with the
   ``wasm32-wasmer-wasi`` target): ``cargo wasix build --release``.
2. a **rustup toolchain** whose standard library for ``wasm32-wasip1`` is installed
   (``wasm32-wasi`` on Rust older than 1.78, which predates the rename);
3. the **system** Rust: the first ``rustc`` that is not a rustup proxy where builds find host
   tools (``$WASIX_HOST_PATH``, default the system's directories; see
   :func:`.buildenv.host_path`), with the ``cargo`` next to it (e.g. Debian's ``rustc``,
   ``cargo``, ``libstd-rust-dev-wasm32`` and ``lld-14`` packages, which compile ``--target
   wasm32-wasi`` offline). Taken from there like every other host tool, so a host path
   without it means "no Rust here" — for a forced ``system`` choice too.

A target counts as available only when its standard library is on disk
(``<sysroot>/lib/rustlib/<target>/lib``): rustup may not be able to download one; and for
``wasm32-wasi``/``wasm32-wasip1`` only when its linker ``rust-lld`` can be found (Debian's is
a link to ``lld-14``). ``$WASIX_RUST_TOOLCHAIN`` forces a choice: ``cargo-wasix``,
``system``, a rustup toolchain name, or a directory holding ``bin/rustc`` and ``bin/cargo``.

What is *missing* (nothing installed, no standard library for the target, no linker) raises
:class:`~wasix_backend.errors.MissingToolchain`: the package is skipped, naming the install
command. A toolchain that is there but does not work (``rustc -vV`` fails, a directory named
by ``$WASIX_RUST_TOOLCHAIN`` without the programs) is a :class:`ToolchainError`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .errors import MissingToolchain, ToolchainError

#: The WASI preview 1 target was called ``wasm32-wasi`` before Rust 1.78.
WASIP1_RENAMED_IN = (1, 78)
CARGO_WASIX_TARGET = "wasm32-wasmer-wasi"
#: Debian's packages for Rust to wasm32-wasi (its ``rust-lld`` is a link to ``lld-14``).
DEBIAN_PACKAGES = "rustc cargo libstd-rust-dev-wasm32 lld-14"
#: How to get the system Rust, as the summary of a skipped package says it.
DEBIAN_HOW = f"on Debian/Ubuntu `apt-get install {DEBIAN_PACKAGES}` (wasm32-wasi, offline)"


@dataclass(frozen=True)
class RustToolchain:
    """A usable Rust toolchain and the wasm target it builds for."""

    kind: str  # "cargo-wasix" | "rustup" | "system" | "directory"
    name: str  # rustup toolchain name, or the prefix for system/directory toolchains
    cargo: Path  # for "cargo-wasix": the cargo-wasix executable
    rustc: Path
    version: tuple[int, int, int]
    target: str
    #: Full ``rustc -vV`` output: commit, LLVM version (part of the identity).
    verbose_version: str = field(default="", compare=False)

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    def build_command(self) -> list[str]:
        """The cargo command line that starts a release build (options follow)."""
        if self.kind == "cargo-wasix":  # the subcommand itself, as `cargo wasix` would run it
            return [str(self.cargo), "wasix", "build", "--release"]
        return [str(self.cargo), "build", "--release", "--target", self.target]

    def env(self) -> dict[str, str]:
        """Variables that pin cargo to this toolchain (never the rustup default)."""
        if self.kind == "cargo-wasix":
            # It selects the fork's rustc through rustup itself; it must not download anything.
            return {"CARGO_WASIX_OFFLINE": "1"}
        # Absolute RUSTC: a cargo started by absolute path would otherwise run whatever
        # `rustc` comes first on PATH (usually rustup's default toolchain, without wasm).
        env = {"RUSTC": str(self.rustc)}
        if self.kind == "rustup":
            env["RUSTUP_TOOLCHAIN"] = self.name  # for build scripts that call `rustc`/`cargo`
        return env

    def output_dir(self, target_dir: Path) -> Path:
        """Where cargo puts release binaries for this toolchain's target."""
        return target_dir / self.target / "release"

    @property
    def identity(self) -> str:
        """sha256 of everything about the toolchain that changes build output."""
        text = "\n".join([self.kind, self.name, self.target, self.verbose_version])
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "rustc": str(self.rustc),
            "cargo": str(self.cargo),
            "version": self.version_text,
            "target": self.target,
            "command": " ".join(self.build_command()[1:]),
        }


def wasi_target_for(version: tuple[int, int, int]) -> str:
    """The WASI preview 1 target name a rustc of ``version`` knows."""
    return "wasm32-wasip1" if version[:2] >= WASIP1_RENAMED_IN else "wasm32-wasi"


@cache
def _rustc_info(rustc: Path, extra_env: tuple[tuple[str, str], ...] = ()) -> tuple[str, str] | None:
    """``(rustc -vV output, sysroot)`` or None when rustc does not run."""
    env = {**os.environ, **dict(extra_env)}
    try:
        vv = subprocess.run(
            [str(rustc), "-vV"], capture_output=True, text=True, env=env, timeout=60
        )
        sysroot = subprocess.run(
            [str(rustc), "--print", "sysroot"], capture_output=True, text=True, env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if vv.returncode != 0 or sysroot.returncode != 0:
        return None
    from .fastpath import watch

    # What a no-op stamp must check: the compiler, its standard libraries, rustup's choice.
    rustup_settings = Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup") / "settings.toml"
    watch(rustc, sysroot.stdout.strip(), *([rustup_settings] if rustup_settings.is_file() else []))
    return vv.stdout, sysroot.stdout.strip()


def _parse_release(verbose: str) -> tuple[int, int, int] | None:
    for line in verbose.splitlines():
        if line.startswith("release:"):
            parts = line.split(":", 1)[1].strip().split("-")[0].split(".")
            try:
                return int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) > 2 else 0
            except (ValueError, IndexError):
                return None
    return None


def _rustup_home() -> Path:
    return Path(os.environ.get("RUSTUP_HOME") or Path.home() / ".rustup")


def _cargo_bin_dir() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin"


@dataclass
class Candidate:
    """A toolchain that was looked at, usable or not (for ``toolchain status``)."""

    kind: str
    name: str
    toolchain: RustToolchain | None
    problem: str = ""
    #: What makes it usable, when something is only *missing* (not installed); empty when
    #: what is there is broken (an error, not a skip).
    how: str = ""

    def describe(self) -> dict[str, object]:
        if self.toolchain is not None:
            return {"usable": True, **self.toolchain.describe()}
        return {"usable": False, "kind": self.kind, "name": self.name, "problem": self.problem}


def _from_prefix(
    kind: str, name: str, prefix: Path, env: dict[str, str] | None = None, how: str = ""
) -> Candidate:
    """Check a toolchain whose tools are ``prefix/bin/rustc`` and ``prefix/bin/cargo``.

    ``how``: what installs the missing parts (for a skip); see :func:`_how`."""
    rustc, cargo = prefix / "bin" / "rustc", prefix / "bin" / "cargo"
    missing = [p.name for p in (rustc, cargo) if not os.access(p, os.X_OK)]
    if missing:
        return Candidate(kind, name, None, f"no {' or '.join(missing)} in {prefix / 'bin'}", how)
    info = _rustc_info(rustc, tuple(sorted((env or {}).items())))
    if info is None:
        return Candidate(kind, name, None, f"{rustc} -vV failed")
    verbose, sysroot = info
    version = _parse_release(verbose)
    if version is None:
        return Candidate(kind, name, None, f"cannot read the release of {rustc}")
    target = wasi_target_for(version)
    if not (Path(sysroot) / "lib" / "rustlib" / target / "lib").is_dir():
        return Candidate(
            kind,
            name,
            None,
            f"Rust {'.'.join(map(str, version))} has no standard library for {target} "
            f"(no {Path(sysroot) / 'lib' / 'rustlib' / target})",
            _how(kind, name, target),
        )
    if not _rust_lld(Path(sysroot)):
        return Candidate(
            kind, name, None,
            f"no rust-lld (the linker of {target}) in {Path(sysroot) / 'lib' / 'rustlib'}/*/bin or on PATH",
            _how(kind, name, target),
        )  # fmt: skip
    return Candidate(kind, name, RustToolchain(kind, name, cargo, rustc, version, target, verbose))


def _rust_lld(sysroot: Path) -> bool:
    """Can rustc find ``rust-lld``, its wasm linker: next to its standard libraries
    (rustup's), or on ``PATH`` (Debian's ``/usr/bin/rust-lld``, a link to ``lld-14``)?"""
    own = sysroot / "lib" / "rustlib"
    if any(os.access(p, os.X_OK) for p in own.glob("*/bin/rust-lld")):
        return True
    from .buildenv import host_which

    return host_which("rust-lld") is not None


def _how(kind: str, name: str, target: str = "wasm32-wasip1") -> str:
    """The command that installs what a toolchain of ``kind`` lacks."""
    if kind == "system":
        return DEBIAN_HOW
    if kind == "rustup":
        return f"`rustup toolchain install {name} --target {target}`"
    return ""  # a directory someone named: only they know what belongs in it


def _cargo_wasix() -> Candidate:
    exe = shutil.which("cargo-wasix") or shutil.which("cargo-wasix", path=str(_cargo_bin_dir()))
    if not exe:
        return Candidate(
            "cargo-wasix", "wasix", None, "cargo-wasix is not installed",
            "`cargo install cargo-wasix`, then `cargo wasix` to install its toolchain",
        )  # fmt: skip
    toolchain_dir = _rustup_home() / "toolchains" / "wasix"
    rustc = toolchain_dir / "bin" / "rustc"
    if not rustc.exists():
        return Candidate(
            "cargo-wasix", "wasix", None, f"its toolchain is not installed (no {rustc})",
            "run `cargo wasix` once: it installs its toolchain",
        )  # fmt: skip
    info = _rustc_info(rustc)
    version = _parse_release(info[0]) if info else None
    if info is None or version is None:
        return Candidate("cargo-wasix", "wasix", None, f"{rustc} -vV failed")
    return Candidate(
        "cargo-wasix",
        "wasix",
        RustToolchain(
            "cargo-wasix", "wasix", Path(exe), rustc, version, CARGO_WASIX_TARGET, info[0]
        ),
    )


def _rustup_toolchains() -> list[Candidate]:
    root = _rustup_home() / "toolchains"
    if not root.is_dir():
        return []
    # Read the directories instead of running rustup: no network, no proxy start-up cost.
    return [
        _from_prefix("rustup", d.name, d)
        for d in sorted(root.iterdir(), key=lambda d: (not d.name.startswith("stable"), d.name))
        if d.is_dir() and d.name != "wasix"
    ]


def _path_prefix() -> Path | None:
    """The prefix of the first ``rustc`` where builds find host tools (``$WASIX_HOST_PATH``,
    see :func:`.buildenv.host_path`) that is not one of rustup's proxies (those stand for
    rustup toolchains, which are looked at one by one)."""
    from .buildenv import host_path

    proxies = _cargo_bin_dir().resolve()
    for entry in host_path().split(os.pathsep):
        folder = Path(entry) if entry else None
        if folder is None or not os.access(folder / "rustc", os.X_OK):
            continue
        real = (folder / "rustc").resolve()
        if folder.resolve() == proxies or real.name == "rustup":
            continue
        return real.parent.parent
    return None


def _system() -> Candidate:
    prefix = _path_prefix()
    if prefix is None:
        return Candidate("system", "PATH", None, "no rustc on PATH", DEBIAN_HOW)
    return _from_prefix("system", str(prefix), prefix, how=DEBIAN_HOW)


def candidates() -> list[Candidate]:
    """Every toolchain looked at, best first."""
    return [_cargo_wasix(), *_rustup_toolchains(), _system()]


def _forced(choice: str, origin: str = "WASIX_RUST_TOOLCHAIN") -> RustToolchain:
    if choice == "cargo-wasix":
        cand = _cargo_wasix()
    elif choice == "system":
        cand = _system()  # the rustc on PATH, as everywhere: no fixed place
    elif "/" in choice:
        cand = _from_prefix("directory", choice, Path(choice))
    else:
        cand = _from_prefix(
            "rustup", choice, _rustup_home() / "toolchains" / choice, how=_how("rustup", choice)
        )
    if cand.toolchain is None:
        message = f"{origin}={choice}: not usable: {cand.problem}"
        if cand.how:  # not installed: the package is skipped, saying how to get it
            raise MissingToolchain(
                f"{message}\nInstall it: {cand.how}.",
                how=cand.how,
                reason=f"no {choice} Rust with a WASI target: {cand.problem}",
            )
        raise ToolchainError(message)
    return cand.toolchain


def find_rust_toolchain(choice: str | None = None) -> RustToolchain:
    """The Rust toolchain to build with: ``choice``, ``$WASIX_RUST_TOOLCHAIN``, else the best found.

    Raises :class:`MissingToolchain` listing what was looked at when none is usable, or
    when the forced choice is not installed (the package is skipped, saying how to get it);
    :class:`ToolchainError` when the forced choice is there but broken.
    """
    if choice:  # the recipe's [build] rust-toolchain
        return _forced(choice, "rust-toolchain")
    choice = os.environ.get("WASIX_RUST_TOOLCHAIN")
    if choice:
        return _forced(choice)
    found = candidates()
    for cand in found:
        if cand.toolchain is not None:
            return cand.toolchain
    lines = "\n".join(f"  - {c.kind} {c.name}: {c.problem}" for c in found)
    how = (
        f"{DEBIAN_HOW}; "
        "or `rustup target add wasm32-wasip1`; or cargo-wasix (`cargo wasix` then its toolchain)"
    )
    raise MissingToolchain(
        f"no Rust toolchain can build for WASI/WASIX:\n{lines}\nInstall one: {how}.",
        how=how,
        reason="no Rust toolchain with a WASI target",
    )


def describe() -> dict[str, object]:
    """The Rust part of ``wasix-build toolchain status``: the choice and every candidate."""
    try:
        chosen: dict[str, object] | str = find_rust_toolchain().describe()
    except ToolchainError as exc:
        chosen = str(exc)
    return {"selected": chosen, "candidates": [c.describe() for c in candidates()]}
