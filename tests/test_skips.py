"""A package that cannot be built *here* (no Rust for WASI, sources unreachable) is skipped,
with how to get what is missing, and never stops another; a real failure stays a failure.

The C packages are built for real (wasixcc); the Rust one needs no compiler, since
there is none: ``PATH`` is a folder of links to the host's tools without Rust's.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import make_tarball, package_recipe, write_plugin
from httpserver import serve

from wasix_backend import gitsource
from wasix_backend.cli import main
from wasix_backend.errors import FetchError, MissingRequirement, SourcesUnreachable
from wasix_backend.recipe import Source

PROGRAM_MK = "{name}: {name}.c\n\t$(CC) $(CFLAGS) -o {name} {name}.c\n"
RUST_TOOLS = ("rustc", "cargo", "rustdoc", "rustup")


def c_recipe(name: str, url: str, sha: str, deps: str = "") -> str:
    return package_recipe(name, url, sha, deps=deps)


RUST_RECIPE = """\
[package]
name = "rusty"
version = "0.3"
kind = "program"

[[source]]
url = "URL"
sha256 = "SHA"

[build]
system = "cargo"

[outputs]
bin = ["rusty"]
"""


def c_source(upstream: Path, name: str, text: str = "int main(void){return 0;}\n") -> str:
    return make_tarball(upstream / f"{name}-1.0.tar.gz", f"{name}-1.0", {f"{name}.c": text, "Makefile": PROGRAM_MK.format(name=name)})


def tools_without_rust(farm: Path, folders: list[str], hidden: Iterable[str] = ()) -> Path:
    """``farm``: links to every tool in ``folders`` (first one wins) except Rust's and ``hidden``."""
    farm.mkdir(parents=True)
    hidden = set(hidden)
    for folder in folders:
        if not folder or not Path(folder).is_dir():
            continue
        for tool in sorted(Path(folder).iterdir()):
            name = tool.name
            if name in RUST_TOOLS or name in hidden or name.startswith(("rust-", "cargo-")) or os.path.lexists(farm / name):
                continue
            (farm / name).symlink_to(tool)
    return farm


@pytest.fixture
def no_rust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's tools, without any Rust: links to everything on PATH but Rust's."""
    folders = [f for f in os.environ["PATH"].split(os.pathsep) if ".cargo" not in f]
    monkeypatch.setenv("PATH", str(tools_without_rust(tmp_path / "tools", folders)))
    monkeypatch.setenv("WASIX_HOST_PATH", os.environ["PATH"])  # where builds look for host tools
    monkeypatch.setenv("RUSTUP_HOME", str(tmp_path / "no-rustup"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "no-cargo"))
    monkeypatch.delenv("WASIX_RUST_TOOLCHAIN", raising=False)


@pytest.fixture
def mixed(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, no_rust):
    """``rusty`` (cargo; no Rust here) <- ``wrapper`` (needs it), and ``plain`` (C) that builds."""
    upstream = tmp_path / "upstream"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WASIX_MIRROR", raising=False)
    with serve(upstream) as srv:
        plugins = tmp_path / "plugins"
        write_plugin(plugins, "plain", c_recipe("plain", srv.url_for("plain-1.0.tar.gz"), c_source(upstream, "plain")))
        write_plugin(plugins, "wrapper", c_recipe("wrapper", srv.url_for("wrapper-1.0.tar.gz"), c_source(upstream, "wrapper"), deps='"rusty"'))
        sha = make_tarball(upstream / "rusty-0.3.tar.gz", "rusty-0.3", {"Cargo.toml": '[package]\nname = "rusty"\nversion = "0.3.0"\n'})
        write_plugin(plugins, "rusty", RUST_RECIPE.replace("URL", srv.url_for("rusty-0.3.tar.gz")).replace("SHA", sha))
        yield type("Mixed", (), {"root": tmp_path, "plugins": plugins, "server": srv, "upstream": upstream})


def statuses(out: str) -> dict[str, dict]:
    return {p["name"]: p for p in json.loads(out)["packages"]}


@pytest.mark.build
def test_no_rust_skips_the_rust_package_and_its_dependents_and_builds_the_rest(mixed, capsys) -> None:
    code = main(["--plugin-dir", str(mixed.plugins), "build", "plain", "rusty", "wrapper", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = statuses(captured.out)
    assert {n: r["status"] for n, r in rows.items()} == {"plain": "built", "rusty": "skipped", "wrapper": "skipped"}
    assert rows["rusty"]["reason"] == "no Rust toolchain with a WASI target"
    assert "apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14" in rows["rusty"]["how"]
    assert rows["wrapper"]["reason"].startswith("needs rusty, which was skipped")
    assert (mixed.root / "dist" / "bin" / "plain.wasm").is_file()
    assert not (mixed.root / "dist" / "bin" / "wrapper.wasm").exists()
    # The table on stderr, and the way to get Rust once for both packages.
    lines = captured.err.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["package", "version", "status"])
    table = [ln.split() for ln in lines[header + 1 :]]
    assert next(r[:3] for r in table if r[:1] == ["rusty"]) == ["rusty", "0.3", "skipped"]
    assert next(r[:3] for r in table if r[:1] == ["plain"]) == ["plain", "1.0", "built"]
    assert "to build rusty, wrapper: on Debian/Ubuntu `apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14`" in captured.err
    assert "1 built, 2 skipped" in captured.err


@pytest.mark.build
def test_strict_turns_the_skip_into_a_failure(mixed, capsys) -> None:
    args = ["--plugin-dir", str(mixed.plugins), "build", "plain", "rusty", "wrapper", "--strict", "--json"]
    assert main(args) == 1
    rows = statuses(capsys.readouterr().out)
    assert {n: r["status"] for n, r in rows.items()} == {"plain": "failed", "rusty": "failed", "wrapper": "failed"}
    assert "stopped after an earlier failure" in rows["plain"]["reason"]  # a failure stops the rest
    assert main([*args, "--keep-going"]) == 1
    rows = statuses(capsys.readouterr().out)
    assert {n: r["status"] for n, r in rows.items()} == {"plain": "built", "rusty": "failed", "wrapper": "failed"}


@pytest.mark.build
def test_wheel_and_wasmer_of_all_programs_skip_and_exit_0(mixed, capsys) -> None:
    for command in ("wheel", "wasmer"):
        code = main(["--plugin-dir", str(mixed.plugins), command, "plain", "rusty", "wrapper", "--json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        rows = statuses(captured.out)
        assert rows["rusty"]["status"] == "skipped" and rows["plain"]["status"] in {"built", "cached"}
    assert (mixed.root / "dist" / "wheels" / "wasix_plain-1.0-py3-none-any.whl").is_file()
    assert (mixed.root / "dist" / "plain-1.0.0.webc").is_file()
    assert not list((mixed.root / "dist" / "wheels").glob("wasix_rusty*"))


def test_unreachable_sources_skip_but_a_wrong_hash_fails(mixed, capsys) -> None:
    # `wrapper` now needs nothing missing; its sources move to a port nothing listens on.
    with serve(mixed.upstream) as gone:
        dead = gone.url
    recipe = mixed.plugins / "wrapper" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace(mixed.server.url, dead).replace('"rusty"', ""))
    # A pin no earlier test has fetched (the sources cache is shared), then a wrong file for it.
    plain = mixed.plugins / "plain" / "recipe.toml"
    old_sha = re.search(r'sha256 = "(\w+)"', plain.read_text()).group(1)
    new_sha = c_source(mixed.upstream, "plain", f"/* {uuid.uuid4()} */ int main(void){{return 0;}}\n")
    plain.write_text(plain.read_text().replace(old_sha, new_sha))
    (mixed.upstream / "plain-1.0.tar.gz").write_bytes(b"not the pinned file")
    code = main(["--plugin-dir", str(mixed.plugins), "build", "plain", "wrapper", "--keep-going", "--json"])
    captured = capsys.readouterr()
    rows = statuses(captured.out)
    assert code == 1  # the wrong file is a failure
    assert rows["plain"]["status"] == "failed" and "sha256 mismatch" in captured.err
    assert rows["wrapper"]["status"] == "skipped"
    assert rows["wrapper"]["reason"] == "wrapper-1.0.tar.gz: no place to fetch it from is reachable"
    assert "put wrapper-1.0.tar.gz into a directory named by $WASIX_MIRROR" in rows["wrapper"]["how"]
    # Only unreachable: nothing failed, exit 0 (no --keep-going needed for a skip).
    assert main(["--plugin-dir", str(mixed.plugins), "build", "wrapper"]) == 0


@pytest.mark.build
def test_a_skip_does_not_stop_the_others_without_keep_going(mixed, capsys) -> None:
    """`rusty` is planned first and skipped; `plain` still builds (no --keep-going)."""
    assert main(["--plugin-dir", str(mixed.plugins), "build", "rusty", "plain", "--json"]) == 0
    assert statuses(capsys.readouterr().out)["plain"]["status"] == "built"


def test_unreachable_repository_is_a_missing_requirement_a_bad_bundle_is_not(tmp_path: Path) -> None:
    rev = "2ed8af9b16dc1e8d04851b62314e878536112ca9"
    src = Source(git="file:///nonexistent/wasix-test/crabsay.git", rev=rev)
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    with pytest.raises(SourcesUnreachable) as info:
        gitsource.fetch_git_source(src, package="crabsay", mirror=empty, cache_dir=tmp_path / "c1")
    assert f"crabsay-{rev}.bundle" in info.value.how
    broken = tmp_path / "broken-mirror"
    broken.mkdir()
    (broken / f"crabsay-{rev}.bundle").write_bytes(b"not a bundle")
    with pytest.raises(FetchError) as info:
        gitsource.fetch_git_source(src, package="crabsay", mirror=broken, cache_dir=tmp_path / "c2")
    assert not isinstance(info.value, MissingRequirement)
