"""``[dependencies] run``: the packages whose commands a program runs (issue 39).

Unit tier: store keys ignore run dependencies (they never rebuild a package) unless the build
system copies them (a bundle); the Wasmer package, the ``.webc`` and the wheel record them;
the launcher's sandbox gathers installed dependency packages; a failed program leaves no new
empty file behind. The collection tier proves it with real programs (``test_rundeps_collection``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from wasix_backend.cli import main
from wasix_backend.outputs import mirror, sandboxdeps
from wasix_backend.outputs.wasmer_pkg import write_wasmer_package
from wasix_backend.outputs.webc import manifest_from_package
from wasix_backend.outputs.wheel import build_wheel_files
from wasix_backend.plugins import load_plugins
from wasix_backend.recipe import load_recipe
from wasix_backend.rundeps import runtime_closure, sandbox_commands, sandbox_script_files

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
ARCHIVE = 'url = "https://example.invalid/{name}-1.0.tar.gz"\nsha256 = "' + "0" * 64 + '"\n'


def _plugin(root: Path, name: str, *, run: str = "", system: str = "make", extra: str = "") -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    source = "" if system == "bundle" else "[[source]]\n" + ARCHIVE.format(name=name) + "\n"
    (folder / "recipe.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "1.0"\ndescription = "{name}"\n\n{source}'
        f"[dependencies]\nrun = [{run}]\n\n[build]\nsystem = \"{system}\"\n\n"
        f'[outputs]\nbin = ["{name if system != "bundle" else "dep"}"]\n{extra}'
    )


def _key(plugins: Path, name: str, tmp_path: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["--plugin-dir", str(plugins), "show", name, "--key", "--json", "--store", str(tmp_path / "store")]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_dependencies_never_change_a_key_but_a_bundles_members_do(tmp_path: Path, capsys) -> None:
    plugins = tmp_path / "plugins"
    _plugin(plugins, "dep")
    _plugin(plugins, "tool")
    alone = _key(plugins, "tool", tmp_path, capsys)
    _plugin(plugins, "tool", run='"dep"')
    with_dep = _key(plugins, "tool", tmp_path, capsys)
    assert with_dep["key"] == alone["key"] and with_dep["inputs"]["deps"] == {}
    _plugin(plugins, "pack", run='"dep"', system="bundle")
    bundle = _key(plugins, "pack", tmp_path, capsys)
    assert bundle["inputs"]["recipe"]["run_deps"] == ["dep"] and set(bundle["inputs"]["deps"]) == {"dep"}
    dep_key = _key(plugins, "dep", tmp_path, capsys)["key"]
    assert bundle["inputs"]["deps"]["dep"] == dep_key


def test_the_collections_programs_declare_what_they_run() -> None:
    loaded = load_plugins(entry_points=False)
    recipes, registry = loaded.recipes, loaded.registry
    assert runtime_closure(recipes, "tar", registry) == ["gzip", "xz-utils", "bzip2", "bash"]
    for name in ("gawk", "git", "findutils", "lua5.4", "sqlite3"):
        assert runtime_closure(recipes, name, registry) == ["bash"], name
    assert runtime_closure(recipes, "make", registry) == ["bash", "grep"]
    assert runtime_closure(recipes, "shell-tools", registry) == []  # a bundle holds its members
    bash = recipes["bash"]
    assert sandbox_commands(bash) == {"bash": "bash", "sh": "bash"} and bash.command_map() == {"bash": "bash"}
    assert sandbox_script_files(bash)["/usr/bin/echo"] == b'#!/bin/sh\necho "$@"\n'


def _prefix(root: Path, *modules: str) -> Path:
    for module in modules:
        (root / "bin").mkdir(parents=True, exist_ok=True)
        (root / "bin" / f"{module}.wasm").write_bytes(b"\0asm\1\0\0\0" + module.encode())
    return root


def test_the_wasmer_package_and_webc_record_dependencies_and_sandbox_commands(tmp_path: Path) -> None:
    tar = load_recipe(PLUGINS / "tar" / "recipe.toml", plugin="tar")
    pkg = write_wasmer_package(tar, _prefix(tmp_path / "tar", "tar"), tmp_path / "out", versions={"gzip": "1.12", "bash": "5.2.15"})
    spec = tomllib.loads((pkg / "wasmer.toml").read_text())
    assert spec["dependencies"] == {"wasmer/gzip": "^1.12.0", "wasmer/xz-utils": "*", "wasmer/bzip2": "*", "wasmer/bash": "^5.2.15"}
    manifest = manifest_from_package(pkg)[0]
    assert manifest["use"]["wasmer/gzip"] == "wasmer/gzip@^1.12.0"

    bash = load_recipe(PLUGINS / "bash" / "recipe.toml", plugin="bash")
    pkg = write_wasmer_package(bash, _prefix(tmp_path / "bash", "bash"), tmp_path / "out")
    spec = tomllib.loads((pkg / "wasmer.toml").read_text())
    assert [c["name"] for c in spec["command"]] == ["bash", "sh"] and "dependencies" not in spec
    assert spec["fs"] == {"/usr/bin": "sandbox-scripts"}
    assert (pkg / "sandbox-scripts" / "echo").read_bytes() == b'#!/bin/sh\necho "$@"\n'
    manifest, _, volumes = manifest_from_package(pkg)
    assert "use" not in manifest and volumes["/sandbox-scripts"]["echo"].startswith(b"#!/bin/sh")


def test_the_wheel_requires_its_dependencies_and_carries_sandbox_commands(tmp_path: Path) -> None:
    tar = load_recipe(PLUGINS / "tar" / "recipe.toml", plugin="tar")
    files = build_wheel_files(tar, _prefix(tmp_path / "tar", "tar"))
    metadata = files["wasix_tar-1.34.dist-info/METADATA"].decode()
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist: wasix")] == [
        "Requires-Dist: wasix-gzip", "Requires-Dist: wasix-xz-utils", "Requires-Dist: wasix-bzip2", "Requires-Dist: wasix-bash",
    ]  # fmt: skip
    meta = json.loads(files["wasix_tar/_commands.json"])
    assert meta["run-deps"]["wasix-xz-utils"] == "wasix_xz_utils" and "wasix_tar/_sandboxdeps.py" in files

    bash = load_recipe(PLUGINS / "bash" / "recipe.toml", plugin="bash")
    files = build_wheel_files(bash, _prefix(tmp_path / "bash", "bash"))
    meta = json.loads(files["wasix_bash/_commands.json"])
    assert meta["commands"] == {"bash": "bin/bash.wasm"} and meta["sandbox-commands"] == {"sh": "bin/bash.wasm"}
    assert "/usr/bin/echo" in meta["data"] and files["wasix_bash/data/usr/bin/echo"].startswith(b"#!/bin/sh")
    assert "\nsh = " not in files["wasix_bash-5.2.15.dist-info/entry_points.txt"].decode()  # no console script `sh`


def _installed(site: Path, name: str, meta: dict, modules: dict[str, bytes], data: dict[str, bytes] | None = None) -> Path:
    folder = site / name
    for rel, blob in modules.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(blob)
    for guest, blob in (data or {}).items():
        (folder / "data" / guest.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / "data" / guest.lstrip("/")).write_bytes(blob)
    (folder / "__init__.py").write_text("")
    (folder / "_commands.json").write_text(json.dumps(meta))
    return folder


def test_the_launcher_sandbox_holds_installed_dependencies_and_names_missing_ones(tmp_path: Path, monkeypatch, capsys) -> None:
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    tar = _installed(site, "wasix_tar", {"commands": {"tar": "bin/tar.wasm"}, "run-deps": {"wasix-gzip": "wasix_gzip", "wasix-bash": "wasix_bash", "wasix-nope": "wasix_nope"}},
                     {"bin/tar.wasm": b"TAR"})  # fmt: skip
    _installed(site, "wasix_gzip", {"commands": {"gzip": "bin/gzip.wasm", "tar": "bin/gzip.wasm"}}, {"bin/gzip.wasm": b"GZ"})
    _installed(site, "wasix_bash", {"commands": {"bash": "bin/bash.wasm"}, "sandbox-commands": {"sh": "bin/bash.wasm"},
                                    "data": ["/usr/bin/echo"], "run-deps": {"wasix-tar": "wasix_tar"}},  # a cycle is fine
               {"bin/bash.wasm": b"BASH"}, {"/usr/bin/echo": b"#!/bin/sh\necho\n"})  # fmt: skip
    meta = json.loads((tar / "_commands.json").read_text())
    modules, data, missing = sandboxdeps.sandbox(meta, tar, "tar", b"TAR")
    assert modules == {"tar": b"TAR", "bash": b"BASH", "sh": b"BASH", "gzip": b"GZ"}  # its own name wins
    assert data == {"/usr/bin/echo": b"#!/bin/sh\necho\n"} and missing == ["wasix-nope"]
    assert "pip install wasix-nope" in sandboxdeps.missing_message("tar", missing)
    bash = json.loads((site / "wasix_bash" / "_commands.json").read_text())
    bash.pop("run-deps")
    modules, _, _ = sandboxdeps.sandbox(bash, site / "wasix_bash", "bash", b"BASH")
    assert modules == {"bash": b"BASH", "sh": b"BASH"}  # bash alone still runs sh


def test_a_failed_program_leaves_no_new_empty_file(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("")
    plan = mirror.Plan()
    files = {str(tmp_path / "x.tgz"): b"", str(tmp_path / "out.txt"): b"data", str(tmp_path / "kept.txt"): b""}
    assert set(mirror.without_new_empty(plan, files)) == {str(tmp_path / "out.txt"), str(tmp_path / "kept.txt")}


def test_a_webc_with_dependencies_is_refused_by_runtime_run_with_what_to_do(tmp_path: Path) -> None:
    from wasix_backend.outputs.webc import build_webc
    from wasix_backend.runtime import SandboxError, _with_dependencies

    blob = build_webc({"package": {}, "atoms": {}, "commands": {}, "use": {"wasmer/gzip": "wasmer/gzip@^1.12.0"}}, {}, {})
    with pytest.raises(SandboxError, match="run its package directory"):
        _with_dependencies(blob)
    assert _with_dependencies(b"\0asm\1\0\0\0") is None
