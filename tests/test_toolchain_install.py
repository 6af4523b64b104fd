"""Installing pinned toolchain components from a real local HTTP server.

The archives are built by the tests in upstream's layouts (LLVM: bin/ at the top; sysroots:
wasix-sysroot*/sysroot/; binaryen: binaryen-version_N/bin; wasixcc: wasixccenv), served on
127.0.0.1 and pinned in a pins file the tests write.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from httpserver import serve

from wasix_backend.errors import FetchError, ToolchainError
from wasix_backend.toolchain.install import MARKER, install, installed_toolchain, status
from wasix_backend.toolchain.pins import PLATFORMS, host_platform, load_pins


def targz(path: Path, files: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), (modes or {}).get(name, 0o644)
            tar.addfile(info, io.BytesIO(data))
    return path


SCRIPT = b"#!/bin/sh\necho fake\n"


def build_archives(site: Path, *, llvm_padding: int = 0) -> dict[str, Path]:
    site.mkdir(parents=True, exist_ok=True)
    archives = {
        "llvm": targz(
            site / "LLVM-Linux-x86_64.tar.gz",
            {
                "bin/clang": SCRIPT,
                "bin/wasm-ld": SCRIPT,
                "lib/libLLVM.so": b"lib",
                "lib/padding.bin": os.urandom(llvm_padding),
            },
            {"bin/clang": 0o644},  # upstream's installer adds x bits itself; so do we
        ),
        "binaryen": targz(
            site / "binaryen-version_126-x86_64-linux.tar.gz",
            {"binaryen-version_126/bin/wasm-opt": SCRIPT},
            {"binaryen-version_126/bin/wasm-opt": 0o755},
        ),
        "wasixcc": targz(site / "wasixcc-x86_64-unknown-linux-gnu.tar.gz", {"wasixccenv": SCRIPT}),
    }
    for flavour in ("sysroot", "sysroot-eh", "sysroot-ehpic"):
        top = f"wasix-{flavour}"
        archives[flavour] = targz(
            site / f"{flavour}.tar.gz",
            {
                f"{top}/sysroot/include/stdio.h": b"/* stdio */\n",
                f"{top}/sysroot/lib/wasm32-wasi/libc.a": b"!<arch>\n",
            },
        )
    return archives


STRIP = {"llvm": 0, "binaryen": 1, "wasixcc": 0, "sysroot": 1, "sysroot-eh": 1, "sysroot-ehpic": 1}
VERSION = {"llvm": "21.1.203", "binaryen": "126", "wasixcc": "0.4.5"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_pins(
    path: Path, base_url: str, archives: dict[str, Path], *, override: dict[str, dict] | None = None
) -> Path:
    """A pins file for the served archives; ``override[name]`` replaces asset fields."""
    lines = ["# written by the test"]
    for name, archive in archives.items():
        asset = {"url": f"{base_url}/{archive.name}", "sha256": sha(archive), "strip": STRIP[name]}
        asset.update((override or {}).get(name, {}))
        # LLVM is pinned per platform (this host's key), the rest as "any".
        plat = host_platform() if name == "llvm" else "any"
        lines += [
            f"[{name}]",
            f'version = "{VERSION.get(name, "v2026-02-16.1")}"',
            f"[{name}.assets.{plat}]",
        ]
        lines += [
            f'url = "{asset["url"]}"',
            f'sha256 = "{asset["sha256"]}"',
            f"strip = {asset['strip']}",
            "",
        ]
    path.write_text("\n".join(lines))
    return path


def assert_nothing_half_done(dest: Path) -> None:
    """No staging dirs, no partial downloads, and every component dir carries its marker."""
    leftovers = [
        p.name for p in dest.rglob("*") if ".partial-" in p.name or p.name.endswith(".part")
    ]
    assert leftovers == []
    for entry in dest.iterdir():
        if entry.is_dir() and not entry.name.startswith("."):
            assert (entry / MARKER).is_file(), f"{entry} looks installed but has no marker"


@pytest.fixture(autouse=True)
def _no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASIX_MIRROR", raising=False)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "site"
    return root, build_archives(root)


def test_install_right_hashes(tmp_path: Path, site: tuple[Path, dict[str, Path]]) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        assert installed_toolchain(dest, pins) is None
        tc = install(pins=pins, dest=dest, progress=False)
        assert len(srv.requests) == len(archives)
        again = install(pins=pins, dest=dest, progress=False)  # complete components are skipped
        assert len(srv.requests) == len(archives)
    assert tc is not None and again == tc
    assert tc == installed_toolchain(dest, pins)
    assert tc.llvm == dest / "llvm-21.1.203"
    assert os.access(tc.llvm / "bin/clang", os.X_OK) and (tc.llvm / "bin/wasm-ld").is_file()
    assert (tc.binaryen / "bin/wasm-opt").is_file()
    assert set(tc.sysroots) == {"plain", "eh", "ehpic"}
    assert (tc.sysroots["plain"] / "include/stdio.h").is_file()
    assert tc.sysroots["eh"] == dest / "sysroot-eh-v2026-02-16.1" / "sysroot"
    assert (
        tc.wasixcc is not None
        and tc.wasixcc.resolve() == (dest / "wasixcc-0.4.5/wasixccenv").resolve()
    )
    rows = {r["name"]: r for r in status(dest, pins)}
    assert all(r["installed"] for r in rows.values())
    assert rows["llvm"]["url"].endswith("/LLVM-Linux-x86_64.tar.gz")
    assert rows["llvm"]["path"] == str(tc.llvm)
    assert not (dest / ".downloads").exists() or not list((dest / ".downloads").iterdir())
    assert_nothing_half_done(dest)


def test_wrong_hash_is_refused_and_nothing_looks_installed(
    tmp_path: Path, site: tuple[Path, dict[str, Path]]
) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(
            tmp_path / "pins.toml", srv.url, archives, override={"binaryen": {"sha256": "ab" * 32}}
        )
        with pytest.raises(FetchError) as err:
            install(pins=pins, dest=dest, progress=False)
    message = str(err.value)
    assert "toolchain binaryen 126" in message and "sha256 mismatch" in message
    assert "ab" * 32 in message and sha(archives["binaryen"]) in message
    assert not (dest / "binaryen-126").exists()
    assert installed_toolchain(dest, pins) is None
    assert {r["name"]: r["installed"] for r in status(dest, pins)}["binaryen"] is False
    assert_nothing_half_done(dest)


def test_truncated_download_is_refused(tmp_path: Path, site: tuple[Path, dict[str, Path]]) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root, truncate={"/" + archives["llvm"].name: 50}) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        with pytest.raises(FetchError, match="truncated download"):
            install(["llvm"], pins=pins, dest=dest, progress=False)
    assert not (dest / "llvm-21.1.203").exists()
    assert_nothing_half_done(dest)


def test_corrupt_or_hostile_archive_with_matching_hash_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "site"
    archives = build_archives(root)
    # A truncated gzip whose (wrong) content is what the pin says: the hash passes, unpacking fails.
    whole = archives["binaryen"].read_bytes()
    archives["binaryen"].write_bytes(whole[: len(whole) - 30])
    # An archive that tries to climb out of its directory.
    targz(
        archives["sysroot"],
        {"wasix-sysroot/sysroot/include/stdio.h": b"", "wasix-sysroot/../../../evil": b"x"},
    )
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        with pytest.raises(FetchError, match=r"corrupt or truncated|cannot unpack"):
            install(["binaryen"], pins=pins, dest=dest, progress=False)
        with pytest.raises(FetchError, match=r"refusing to unpack .*sysroot\.tar\.gz.*'\.\.'"):
            install(["sysroot"], pins=pins, dest=dest, progress=False)
    assert not (dest / "binaryen-126").exists() and not (dest / "sysroot-v2026-02-16.1").exists()
    assert not (tmp_path / "evil").exists()
    assert_nothing_half_done(dest)


def test_archive_without_the_expected_files_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "site"
    archives = build_archives(root)
    targz(archives["llvm"], {"LLVM/bin/clang": SCRIPT})  # one directory too deep for strip = 0
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        with pytest.raises(ToolchainError, match=r"does not look like llvm .*missing bin/clang"):
            install(["llvm"], pins=pins, dest=dest, progress=False)
    assert not (dest / "llvm-21.1.203").exists()
    assert_nothing_half_done(dest)


def test_unpinned_or_unknown_components_are_refused_before_any_download(
    tmp_path: Path, site: tuple[Path, dict[str, Path]]
) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(
            tmp_path / "pins.toml", srv.url, archives, override={"wasixcc": {"sha256": ""}}
        )
        with pytest.raises(ToolchainError, match=r"toolchain wasixcc 0\.4\.5: no pinned hash"):
            install(pins=pins, dest=dest, progress=False)
        with pytest.raises(ToolchainError, match="unknown toolchain component 'gcc'"):
            install(["gcc"], pins=pins, dest=dest, progress=False)
        assert srv.requests == []  # checked up front: nothing was downloaded
        # Another host's pin only: no archive for this host.
        other = next(p for p in PLATFORMS if p not in {host_platform(), "any"})
        text = pins.read_text().replace(
            f"[llvm.assets.{host_platform()}]", f"[llvm.assets.{other}]"
        )
        pins.write_text(text)
        with pytest.raises(ToolchainError, match="no archive pinned for this host"):
            install(["llvm"], pins=pins, dest=dest, progress=False)


def test_mirror_copy_is_used_and_missing_network_is_explained(
    tmp_path: Path, site: tuple[Path, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url + "/unreachable", archives)
        with pytest.raises(FetchError) as err:
            install(["binaryen"], pins=pins, dest=dest, progress=False)
        assert "HTTP 404" in str(err.value) and "$WASIX_MIRROR" in str(err.value)
        assert archives["binaryen"].name in str(err.value)
        monkeypatch.setenv("WASIX_MIRROR", str(root))  # the archives, copied by hand
        requests_before = len(srv.requests)
        tc = install(pins=pins, dest=dest, progress=False)
        assert len(srv.requests) == requests_before  # nothing came from the network
    assert tc is not None and (tc.binaryen / "bin/wasm-opt").is_file()
    assert_nothing_half_done(dest)


def test_leftovers_of_an_interrupted_install_are_finished(
    tmp_path: Path, site: tuple[Path, dict[str, Path]]
) -> None:
    root, archives = site
    dest = tmp_path / "toolchain"
    with serve(root) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        # What a crash leaves: a staging dir, a partial download, an unmarked component dir.
        (dest / ".llvm-21.1.203.partial-x1y2/tree/bin").mkdir(parents=True)
        (dest / ".downloads").mkdir()
        (
            dest / ".downloads" / f".{sha(archives['llvm'])}-LLVM-Linux-x86_64.tar.gz.abc.part"
        ).write_bytes(b"half")
        (dest / "llvm-21.1.203/bin").mkdir(parents=True)
        (dest / "llvm-21.1.203/bin/clang").write_bytes(b"stale")
        assert installed_toolchain(dest, pins) is None
        assert {r["name"]: r["installed"] for r in status(dest, pins)}["llvm"] is False
        tc = install(pins=pins, dest=dest, progress=False)
    assert tc is not None and (tc.llvm / "bin/clang").read_bytes() == SCRIPT
    assert_nothing_half_done(dest)


def test_killed_install_is_finished_by_rerunning(tmp_path: Path) -> None:
    root = tmp_path / "site"
    archives = build_archives(root, llvm_padding=300_000)  # incompressible: a slow download
    dest = tmp_path / "toolchain"
    with serve(root, delay=0.02, chunk=8192) as srv:
        pins = write_pins(tmp_path / "pins.toml", srv.url, archives)
        code = (
            "from pathlib import Path; from wasix_backend.toolchain.install import install; "
            f"install(['llvm'], pins=Path({str(pins)!r}), dest=Path({str(dest)!r}), progress=False)"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not list(dest.glob(".downloads/.*.part")):
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.01)
            time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert list(dest.glob(".downloads/.*.part")), "the kill should have left a partial download"
        assert not (dest / "llvm-21.1.203").exists()
        assert installed_toolchain(dest, pins) is None
        install(pins=pins, dest=dest, progress=False)
    tc = installed_toolchain(dest, pins)
    assert tc is not None and (tc.llvm / "lib/padding.bin").stat().st_size == 300_000
    assert_nothing_half_done(dest)


# ---------------------------------------------------------------------------- pins
def test_project_pins_are_complete_and_well_formed() -> None:
    pins = load_pins()
    assert set(pins) >= {"llvm", "sysroot", "sysroot-eh", "sysroot-ehpic", "binaryen", "wasixcc"}
    assert pins["llvm"].version == "21.1.203"
    assert {pins[s].version for s in ("sysroot", "sysroot-eh", "sysroot-ehpic")} == {
        "v2026-02-16.1"
    }
    assert pins["binaryen"].version == "126"
    assert pins["llvm"].assets["linux-x86_64"].url.endswith("/21.1.203/LLVM-Linux-x86_64.tar.gz")
    assert pins["sysroot-ehpic"].assets["any"].url.endswith("/v2026-02-16.1/sysroot-ehpic.tar.gz")
    for component in pins.values():
        for plat, asset in component.assets.items():
            assert plat in PLATFORMS
            assert asset.url.startswith("https://github.com/")
            assert asset.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", asset.sha256)
    # The one consistent set the flake pins is complete for x86_64 Linux.
    for name in ("llvm", "sysroot", "sysroot-eh", "sysroot-ehpic", "binaryen", "wasixcc"):
        asset = pins[name].asset_for("linux-x86_64")
        assert asset is not None and asset.pinned, name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[llvm]\nversion = "1"\n[llvm.assets.linux-x86_64]\nurl = "https://x/y"\nsha256 = "abc"\n',
            "64 hex digits",
        ),
        (
            '[llvm]\nversion = "1"\n[llvm.assets.windows-x86_64]\nurl = "https://x/y"\nsha256 = ""\n',
            "unknown platform",
        ),
        ('[llvm]\n[llvm.assets.any]\nurl = "https://x/y"\nsha256 = ""\n', "version"),
        ('[llvm]\nversion = "1"\n', "assets"),
        ('[llvm]\nversion = "1"\n[llvm.assets.any]\nurl = "https://x/y"\nstrip = -1\n', "strip"),
        ("[llvm\n", "not valid TOML"),
    ],
)
def test_bad_pins_files_are_reported(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(text)
    with pytest.raises(ToolchainError, match=problem) as err:
        load_pins(path)
    assert str(path) in str(err.value)


def test_host_platform_names_this_machine() -> None:
    plat = host_platform()
    assert re.fullmatch(r"(linux|macos|win32|[a-z0-9]+)-[a-z0-9_]+", plat)
    if sys.platform == "linux" and os.uname().machine in {"x86_64", "aarch64"}:
        assert plat in PLATFORMS
