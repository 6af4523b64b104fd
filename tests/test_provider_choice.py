"""One provider, chosen in one place: with a suitable clang (the system's, else ziglang's from
PyPI) every entry point (``wasix-build build``/``shell``, ``wasixcc``) builds a missing
sysroot, saying so on stderr. Where no compiler can be found, or wasix-libc's sources cannot
be had, the error says what to do (there is no other C library to fall back on since the zig
provider was retired). ``toolchain status`` only reports; ``toolchain build`` builds.

Fast: the sysroot build is replaced by a stand-in that records being asked (the real one is
what ``tests/test_wasix_libc.py`` and the session's ``wasix_sysroot`` fixture build).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import provider_problem

import wasix_backend.toolchain as toolchain
from wasix_backend.cli import main
from wasix_backend.errors import FetchError, ToolchainError
from wasix_backend.toolchain.settings import parse_settings

needs_clang = pytest.mark.skipif(provider_problem("wasix") is not None, reason=f"no suitable clang: {provider_problem('wasix')}")


@pytest.fixture
def auto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Provider ``auto`` as a new user has it: no provider, sysroot or LLVM named, an empty store."""
    for var in ("WASIX_PROVIDER", "WASIXCC_PROVIDER", "WASIXCC_SYSROOT", "WASIXCC_LLVM_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    store = tmp_path / "store"
    monkeypatch.setenv("WASIX_STORE", str(store))
    return store


@pytest.fixture
def fake_sysroot_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[object]:
    """``ensure_sysroot`` replaced: says what the real one says, returns a sysroot-shaped folder."""
    calls: list[object] = []
    sysroot = tmp_path / "built-sysroot"
    (sysroot / "lib" / "wasm32-wasi").mkdir(parents=True)
    (sysroot / "include").mkdir()

    def ensure(store=None, console=None):
        calls.append(store)
        print("wasix: building the wasix-libc sysroot from its pinned source (first use; a few minutes) …", file=sys.stderr)
        return sysroot

    monkeypatch.setattr(toolchain, "ensure_sysroot", ensure)
    return calls


@needs_clang
def test_wasixcc_builds_the_missing_sysroot(auto, fake_sysroot_build, capsys) -> None:
    settings, _ = parse_settings([], os.environ)
    chosen = toolchain.choose_provider(settings, driver=True)
    assert chosen.name == "wasix" and fake_sysroot_build == [None]  # the user's store
    assert "building the wasix-libc sysroot" in capsys.readouterr().err


def test_without_a_system_clang_auto_takes_ziglangs_for_the_wasix_provider(
    auto, fake_sysroot_build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Nothing but Python: the real libc with ziglang's clang (its LLVM made on first use
    under the toolchain directory; here made already, of the unit tier's stand-in tools)."""
    import shutil

    from conftest import fake_toolchain

    from wasix_backend.toolchain.zigllvm import _zig, dir_name

    llvm = tmp_path / "toolchain" / dir_name(_zig()[1])
    shutil.copytree(fake_toolchain() / "llvm", llvm)
    monkeypatch.setenv("WASIX_TOOLCHAIN_DIR", str(tmp_path / "toolchain"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-clang-here"))
    settings, _ = parse_settings([], os.environ)
    chosen = toolchain.choose_provider(settings, driver=True)
    assert chosen.name == "wasix" and chosen.llvm == llvm  # type: ignore[attr-defined]
    assert fake_sysroot_build == [None]


def test_without_a_compiler_the_error_says_what_to_install(auto, fake_sysroot_build, tmp_path: Path) -> None:
    settings, _ = parse_settings([], {"WASIXCC_LLVM_LOCATION": str(tmp_path / "no-llvm")})
    with pytest.raises(ToolchainError) as caught:
        toolchain.choose_provider(settings, driver=True)
    assert "apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32" in str(caught.value)
    assert fake_sysroot_build == []


def test_naming_the_retired_zig_provider_says_what_replaced_it() -> None:
    for environ in ({"WASIX_PROVIDER": "zig"}, {"WASIXCC_PROVIDER": "zig"}):
        with pytest.raises(ToolchainError, match=r"retired.*WASIXCC_LLVM_LOCATION=zig"):
            parse_settings([], environ)
    with pytest.raises(ToolchainError, match=r"retired.*WASIXCC_LLVM_LOCATION=zig"):
        toolchain.get_toolchain("zig")


@needs_clang
def test_without_wasix_libcs_sources_the_error_says_where_to_get_them(auto, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Where the zig provider used to be taken: now an error naming WASIX_MIRROR and the
    other ways to a sysroot, from every entry point."""

    def no_sources(store=None, console=None):
        raise FetchError("wasix-libc 2026.2.16.1: fetch failed: no mirror holds wasix-libc")

    monkeypatch.setattr(toolchain, "ensure_sysroot", no_sources)
    settings, _ = parse_settings([], os.environ)
    with pytest.raises(ToolchainError) as caught:
        toolchain.choose_provider(settings, driver=True)
    message = str(caught.value)
    assert "no mirror holds wasix-libc" in message
    assert "WASIX_MIRROR" in message and "WASIXCC_SYSROOT" in message and "wasix-build toolchain install" in message
    assert main(["shell", "--", "true"]) != 0
    assert "WASIX_MIRROR" in capsys.readouterr().err


@needs_clang
def test_toolchain_status_reports_a_missing_sysroot_and_builds_nothing(auto: Path, fake_sysroot_build, capsys) -> None:
    assert main(["toolchain", "status", "--json"]) == 0
    active = json.loads(capsys.readouterr().out)["active"]
    assert fake_sysroot_build == [] and not auto.exists()
    assert active["provider"] == "wasix"
    assert active["state"] == "the wasix-libc sysroot is not built yet"
    assert "`wasix-build toolchain build`" in active["next step"]


@needs_clang
def test_toolchain_build_builds_the_sysroot_into_the_store(auto: Path, fake_sysroot_build, capsys) -> None:
    assert main(["toolchain", "build"]) == 0
    assert [Path(s.root) for s in fake_sysroot_build] == [auto]  # type: ignore[attr-defined]
    assert "the wasix toolchain is ready" in capsys.readouterr().err


@needs_clang
def test_shell_builds_the_sysroot_too(auto: Path, fake_sysroot_build, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    started: list[dict[str, str]] = []
    monkeypatch.setattr(os, "execvpe", lambda prog, argv, env: started.append(env))
    main(["shell", "--", "true"])
    assert len(fake_sysroot_build) == 1
    assert started[0]["WASIX_PROVIDER"] == "wasix" and started[0]["WASIXCC_SYSROOT"].endswith("built-sysroot")
