"""No silent fallback: with provider ``auto`` and a suitable clang, every entry point
(``wasix-build build``/``shell``, ``wasixcc``) builds a missing sysroot, saying so on stderr,
instead of turning to zig; zig is taken only where the compiler is missing, and that is said
on stderr with the install command. ``toolchain status`` only reports; ``toolchain build``
builds.

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
def test_wasixcc_builds_the_missing_sysroot_instead_of_using_zig(auto, fake_sysroot_build, capsys) -> None:
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
    assert "using the zig provider" not in capsys.readouterr().err


def test_without_the_compiler_auto_uses_zig_and_says_why_and_what_to_install(auto, fake_sysroot_build, tmp_path: Path, capsys) -> None:
    settings, _ = parse_settings([], {"WASIXCC_LLVM_LOCATION": str(tmp_path / "no-llvm")})
    assert toolchain.choose_provider(settings, driver=True).name == "zig"
    err = capsys.readouterr().err
    assert "using the zig provider" in err and "apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev-wasm32" in err
    assert fake_sysroot_build == []
    # Chosen on purpose, it is said nowhere.
    settings, _ = parse_settings([], {"WASIX_PROVIDER": "zig"})
    assert toolchain.choose_provider(settings, driver=True).name == "zig"
    assert capsys.readouterr().err == ""


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


def test_a_zig_llvm_whose_zig_is_gone_is_not_used(tmp_path: Path) -> None:
    """An LLVM directory made by a ziglang installation deleted since (a removed venv) names
    a zig that no longer exists: it must not shadow the installed ziglang's."""
    from wasix_backend.toolchain.zigllvm import _execs_a_missing_program

    gone, here = tmp_path / "gone", tmp_path / "here"
    here.mkdir()
    (here / "zig").write_text("")
    for root, zig in ((gone, gone / "zig"), (here, here / "zig")):
        (root / "bin").mkdir(parents=True, exist_ok=True)
        (root / "bin" / "clang").write_text(f'#!/bin/sh\nexec {zig} clang -Wno-deprecated "$@"\n')
    assert _execs_a_missing_program(gone / "bin" / "clang")
    assert not _execs_a_missing_program(here / "bin" / "clang")
    assert not _execs_a_missing_program(tmp_path / "none" / "clang")
