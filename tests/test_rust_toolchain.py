"""Finding a Rust toolchain for WASI/WASIX: rustup toolchains, the system's, cargo-wasix."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from wasix_backend import rust
from wasix_backend.errors import MissingRequirement, MissingToolchain, ToolchainError

SYSTEM_RUSTC = Path("/usr/bin/rustc")
SYSTEM_HAS_WASM = any(
    (Path("/usr/lib/rustlib") / t / "lib").is_dir() for t in ("wasm32-wasi", "wasm32-wasip1")
)
needs_system_rust = pytest.mark.skipif(
    not (SYSTEM_RUSTC.exists() and Path("/usr/bin/cargo").exists() and SYSTEM_HAS_WASM),
    reason="needs the system Rust with a wasm32 std: apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14",
)


@pytest.fixture
def rustup_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "rustup"
    (home / "toolchains").mkdir(parents=True)
    monkeypatch.setenv("RUSTUP_HOME", str(home))
    monkeypatch.delenv("WASIX_RUST_TOOLCHAIN", raising=False)
    rust._rustc_info.cache_clear()
    return home


def _link_toolchain(root: Path, rustc: Path, cargo: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "rustc").symlink_to(rustc)
    (root / "bin" / "cargo").symlink_to(cargo)
    return root


@pytest.mark.parametrize(
    ("version", "target"),
    [
        ((1, 63, 0), "wasm32-wasi"),
        ((1, 77, 2), "wasm32-wasi"),
        ((1, 78, 0), "wasm32-wasip1"),
        ((1, 95, 0), "wasm32-wasip1"),
    ],
)
def test_target_name_follows_the_rename(version: tuple[int, int, int], target: str) -> None:
    assert rust.wasi_target_for(version) == target


@needs_system_rust
def test_system_toolchain_is_found_and_pinned() -> None:
    tc = rust.find_rust_toolchain("system")
    assert tc.rustc == SYSTEM_RUSTC
    assert tc.target == rust.wasi_target_for(tc.version)
    # cargo must run this rustc, not whatever `rustc` is first on PATH (rustup's default).
    assert tc.env()["RUSTC"] == str(SYSTEM_RUSTC)
    assert tc.build_command()[1:] == ["build", "--release", "--target", tc.target]
    assert len(tc.identity) == 64


@needs_system_rust
def test_rustup_toolchain_with_wasm_std_is_usable(rustup_home: Path) -> None:
    # A rustup toolchain folder whose rustc has a wasm32 standard library (the system's).
    _link_toolchain(rustup_home / "toolchains" / "withwasm", SYSTEM_RUSTC, Path("/usr/bin/cargo"))
    found = {c.name: c for c in rust.candidates() if c.kind == "rustup"}
    assert found["withwasm"].toolchain is not None
    assert found["withwasm"].toolchain.env()["RUSTUP_TOOLCHAIN"] == "withwasm"
    assert rust.find_rust_toolchain().kind == "rustup"  # preferred over the system's


def test_rustup_toolchain_without_wasm_std_is_rejected_with_reason(rustup_home: Path) -> None:
    host_rustc = (
        next((p for p in (Path.home() / ".rustup" / "toolchains").glob("*/bin/rustc")), None)
        if (Path.home() / ".rustup" / "toolchains").is_dir()
        else None
    )
    if host_rustc is None:
        pytest.skip(reason="needs a rustup toolchain on this machine")
    wasm_libs = list(host_rustc.parent.parent.glob("lib/rustlib/wasm32-wasi*/lib"))
    if wasm_libs:
        pytest.skip(reason=f"{host_rustc} has a wasm32 std, so it cannot show the rejection")
    _link_toolchain(
        rustup_home / "toolchains" / "nowasm", host_rustc, host_rustc.with_name("cargo")
    )
    cand = next(c for c in rust.candidates() if c.name == "nowasm")
    assert cand.toolchain is None
    assert "has no standard library for wasm32-" in cand.problem


def test_directory_without_tools_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="nothing-here") as info:
        rust.find_rust_toolchain(str(tmp_path / "nothing-here"))
    assert not isinstance(info.value, MissingRequirement)  # a wrong setting, not a missing package


def _fake_rustc(folder: Path, script: str) -> Path:
    """``folder/bin/rustc`` (a shell script) and an empty ``cargo`` beside it."""
    (folder / "bin").mkdir(parents=True)
    for name, text in (("rustc", script), ("cargo", "#!/bin/sh\nexit 0\n")):
        (folder / "bin" / name).write_text(text)
        (folder / "bin" / name).chmod(0o755)
    return folder / "bin"


def test_a_forced_system_rust_that_is_not_installed_is_missing_with_the_apt_line(
    rustup_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The system Rust is the rustc on PATH (no fixed place): a PATH without one means it
    is not installed, a skip that names Debian's packages, not a failure."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    with pytest.raises(MissingToolchain) as info:
        rust.find_rust_toolchain("system")
    assert "no rustc on PATH" in str(info.value)
    assert info.value.how == "on Debian/Ubuntu `apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14` (wasm32-wasi, offline)"


def test_a_forced_system_rust_without_the_wasm_library_is_missing_too(
    rustup_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysroot = tmp_path / "rust"
    script = f"#!/bin/sh\ncase \"$1\" in -vV) echo 'release: 1.63.0';; *) echo {sysroot};; esac\n"
    monkeypatch.setenv("PATH", str(_fake_rustc(sysroot, script)))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    with pytest.raises(MissingToolchain) as info:
        rust.find_rust_toolchain("system")
    assert "has no standard library for wasm32-wasi" in str(info.value)
    assert "libstd-rust-dev-wasm32" in info.value.how
    # With the library but no linker (Debian's rust-lld is a link to lld-14): missing as well.
    (sysroot / "lib" / "rustlib" / "wasm32-wasi" / "lib").mkdir(parents=True)
    rust._rustc_info.cache_clear()
    with pytest.raises(MissingToolchain, match="no rust-lld"):
        rust.find_rust_toolchain("system")


def test_a_forced_system_rust_that_is_broken_stays_an_error(
    rustup_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(_fake_rustc(tmp_path / "rust", "#!/bin/sh\nexit 1\n")))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    with pytest.raises(ToolchainError, match="-vV failed") as info:
        rust.find_rust_toolchain("system")
    assert not isinstance(info.value, MissingRequirement)


def test_no_toolchain_at_all_says_how_to_install_one(
    rustup_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    with pytest.raises(ToolchainError) as info:
        rust.find_rust_toolchain()
    text = str(info.value)
    assert "cargo-wasix is not installed" in text
    assert "libstd-rust-dev-wasm32" in text and "rustup target add wasm32-wasip1" in text
    assert isinstance(rust.describe()["selected"], str)  # the same explanation


@needs_system_rust
def test_cargo_wasix_is_preferred_when_its_toolchain_is_installed(
    rustup_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Detection only: a cargo-wasix executable on PATH plus a `wasix` rustup toolchain.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "cargo-wasix"
    exe.write_text("#!/bin/sh\nexit 1\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    _link_toolchain(rustup_home / "toolchains" / "wasix", SYSTEM_RUSTC, Path("/usr/bin/cargo"))
    tc = rust.find_rust_toolchain()
    assert tc.kind == "cargo-wasix"
    assert tc.target == rust.CARGO_WASIX_TARGET
    assert tc.build_command() == [str(exe), "wasix", "build", "--release"]
    assert tc.env() == {"CARGO_WASIX_OFFLINE": "1"}
    # Without the toolchain it is not usable, and the reason names what is missing.
    shutil.rmtree(rustup_home / "toolchains" / "wasix")
    cand = rust.candidates()[0]
    assert cand.toolchain is None and "toolchain is not installed" in cand.problem


@needs_system_rust
def test_describe_lists_the_choice_and_every_candidate() -> None:
    info = rust.describe()
    assert isinstance(info["selected"], dict) and info["selected"]["target"].startswith("wasm32-")
    kinds = {c["kind"] for c in info["candidates"]}  # type: ignore[union-attr]
    assert {"cargo-wasix", "system"} <= kinds
