"""Crates pinned by git commit (``[build] crates-git``): packaged as ``cargo package`` would,
vendored unverified, and said so. Unit tier: git and files only, no compiler."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from wasix_backend import cargo_vendor
from wasix_backend.cargo_git import GitCrateError, GitPin, crate_files, package_crate, parse_pins
from wasix_backend.cargo_vendor import CrateSources, LockedCrate
from wasix_backend.engine import BuildResult
from wasix_backend.errors import FetchError, RecipeError, SourcesUnreachable
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.summary import Summary

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git (apt-get install git)")

#: The registry source string as Cargo writes it, taken from a real lock file (not spelled here).
REGISTRY = next(
    p["source"]
    for p in tomllib.loads((Path(__file__).parents[1] / "plugins/crabsay/Cargo.lock").read_text())["package"]
    if "source" in p
)
REV = "0123456789abcdef0123456789abcdef01234567"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def git_commit(repo: Path) -> str:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), *ident, "commit", "-q", "-m", "c"], check=True, env=env)
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()


def bundle(repo: Path, rev: str, dest: Path) -> Path:
    subprocess.run(["git", "-C", str(repo), "branch", "wasix-pin", rev], check=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "-C", str(repo), "bundle", "create", "-q", str(dest), "wasix-pin"], check=True)
    return dest


def lock_file(path: Path, crates: list[LockedCrate]) -> cargo_vendor.Lockfile:
    lines = ["version = 3", ""]
    for c in crates:
        lines += ["[[package]]", f'name = "{c.name}"', f'version = "{c.version}"', f'source = "{c.source}"']
        lines += [f'checksum = "{c.checksum}"'] if c.checksum else []
        lines.append("")
    path.write_text("\n".join(lines))
    return cargo_vendor.read_lock(path)


WORKSPACE = {
    "Cargo.toml": (
        '[workspace]\nmembers = ["crates/*"]\n\n[workspace.package]\nversion = "1.2.3"\nedition = "2021"\n\n'
        '[workspace.dependencies]\nhelper = { version = "0.5", path = "crates/helper" }\n'
    ),
    "crates/thing/Cargo.toml": (
        '[package]\nname = "thing"\nversion.workspace = true\nedition.workspace = true\n'
        'exclude = ["benches/", "*.png"]\n\n'
        '[dependencies]\nhelper = { workspace = true, features = ["x"] }\nother = { version = "2", path = "../other" }\n\n'
        '[dev-dependencies]\nlocal-only = { path = "../local-only" }\n'
    ),
    "crates/thing/src/lib.rs": "pub fn f() {}\n",
    "crates/thing/benches/b.rs": "\n",
    "crates/thing/logo.png": "png",
    "crates/thing/docs/logo.png": "png",
    "crates/thing/README.md": "# thing\n",
    "crates/thing/fuzz/Cargo.toml": '[package]\nname = "thing-fuzz"\nversion = "0.0.0"\n',
    "crates/thing/fuzz/src/main.rs": "fn main() {}\n",
    "crates/thing/Cargo.lock": "# not published for a library\n",
    "crates/helper/Cargo.toml": '[package]\nname = "helper"\nversion = "0.5.0"\n',
    "crates/helper/src/lib.rs": "\n",
}


def test_a_workspace_member_is_packaged_as_cargo_package_would(tmp_path: Path) -> None:
    tree = write(tmp_path / "tree", WORKSPACE)
    pin = GitPin("thing", "https://example.invalid/thing", REV)
    out = package_crate(tree, "thing", "1.2.3", pin, tmp_path / "out")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # nested package (fuzz/), excluded folders and globs at any depth, the lock file: gone
    assert files == [".cargo_vcs_info.json", "Cargo.toml", "Cargo.toml.orig", "README.md", "src/lib.rs"]
    assert (out / "Cargo.toml.orig").read_text() == WORKSPACE["crates/thing/Cargo.toml"]
    manifest = tomllib.loads((out / "Cargo.toml").read_text())
    assert manifest["package"]["version"] == "1.2.3" and manifest["package"]["edition"] == "2021"
    assert manifest["dependencies"]["helper"] == {"version": "0.5", "features": ["x"]}
    assert manifest["dependencies"]["other"] == {"version": "2"}
    assert "local-only" not in manifest.get("dev-dependencies", {})
    assert "workspace" not in manifest
    info = json.loads((out / ".cargo_vcs_info.json").read_text())
    assert info == {"git": {"sha1": REV}, "path_in_vcs": "crates/thing"}


def test_include_wins_over_exclude_and_keeps_the_manifest(tmp_path: Path) -> None:
    crate = write(tmp_path / "c", {
        "Cargo.toml": '[package]\nname = "c"\nversion = "0.1.0"\ninclude = ["/src/**", "LICENSE*"]\nexclude = ["src"]\n',
        "src/lib.rs": "", "src/a/b.rs": "", "LICENSE-MIT": "", "tests/t.rs": "", "x/LICENSE": "",
    })  # fmt: skip
    manifest = tomllib.loads((crate / "Cargo.toml").read_text())
    assert crate_files(crate, manifest) == ["Cargo.toml", "LICENSE-MIT", "src/a/b.rs", "src/lib.rs", "x/LICENSE"]


def test_wrong_version_or_missing_package_is_an_error_naming_the_commit(tmp_path: Path) -> None:
    tree = write(tmp_path / "tree", WORKSPACE)
    pin = GitPin("thing", "https://example.invalid/thing", REV)
    with pytest.raises(GitCrateError, match=rf"crate thing 1\.0\.0: commit {REV} .* is version 1\.2\.3, not 1\.0\.0"):
        package_crate(tree, "thing", "1.0.0", pin, tmp_path / "a")
    with pytest.raises(GitCrateError, match="has no package named 'nothing'"):
        package_crate(tree, "nothing", "1.0.0", pin, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_path_only_dependency_cannot_be_published(tmp_path: Path) -> None:
    tree = write(tmp_path / "t", {"Cargo.toml": '[package]\nname = "p"\nversion = "1.0.0"\n[dependencies]\nq = { path = "q" }\n'})
    with pytest.raises(GitCrateError, match="dependency q has no version"):
        package_crate(tree, "p", "1.0.0", GitPin("p", "u", REV), tmp_path / "out")


def test_pins_are_validated_by_the_recipe_schema() -> None:
    def recipe(pins: object) -> object:
        return recipe_from_dict({"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]},
                                 "build": {"system": "cargo", "crates-git": pins}}, plugin="x")  # fmt: skip

    ok = recipe({"a": {"git": "https://example.invalid/a", "rev": REV}})
    assert parse_pins(ok.build["crates-git"]) == {"a": GitPin("a", "https://example.invalid/a", REV)}  # type: ignore[attr-defined]
    with pytest.raises(RecipeError, match=r"crates-git\.a\.rev.*required"):
        recipe({"a": {"git": "https://example.invalid/a"}})
    with pytest.raises(RecipeError, match=r"crates-git\.a\.tag.*unknown key"):
        recipe({"a": {"git": "u", "rev": REV, "tag": "v1"}})
    with pytest.raises(RecipeError, match="expected table of tables"):
        recipe({"a": "https://example.invalid/a"})
    with pytest.raises(ValueError, match="full commit id"):
        parse_pins({"a": {"git": "u", "rev": "v1.0"}})


def test_plan_a_verified_crate_wins_then_the_commit_never_debian(tmp_path: Path) -> None:
    crate = LockedCrate("pinned", "1.0.0", REGISTRY, "ab" * 32)
    lock = lock_file(tmp_path / "Cargo.lock", [crate])
    deb = write(tmp_path / "deb" / "pinned-1.0.0", {"Cargo.toml": '[package]\nname = "pinned"\nversion = "1.0.0"\n'})
    pins = {"pinned": GitPin("pinned", "https://example.invalid/pinned", REV)}
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(None, tmp_path / "cache", deb.parent, None), pins)
    [entry] = plan.crates
    assert (entry.origin, entry.verified, entry.pin) == ("git", False, pins["pinned"])
    assert f"pinned by commit {REV}, NOT verified against the registry's checksum" in plan.summary()
    assert plan.git_note() == "crates pinned by git commit, not verified against the registry's checksum: pinned 1.0.0"
    template = "http://127.0.0.1:9/{crate}-{version}.crate"
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(None, tmp_path / "cache", None, template), pins)
    assert (plan.crates[0].origin, plan.crates[0].verified) == ("registry", True) and not plan.git_note()
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "pinned-1.0.0.crate").write_bytes(b"")
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(tmp_path / "mirror", tmp_path / "cache", None, None), pins)
    assert plan.crates[0].origin == "mirror"
    with pytest.raises(FetchError, match=r"crates-git pins typo, which Cargo\.lock does not have"):
        cargo_vendor.plan_vendoring(lock, CrateSources(None, tmp_path / "c", None, None), {"typo": pins["pinned"]})


@needs_git
def test_a_pinned_crate_comes_from_the_mirrors_bundle_unverified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    repo = write(tmp_path / "upstream", {
        "Cargo.toml": '[package]\nname = "crab-lib"\nversion = "0.3.0"\n\n[workspace]\nmembers = ["cli"]\n',
        "src/lib.rs": "pub fn crab() {}\n", "cli/Cargo.toml": '[package]\nname = "crab-cli"\nversion = "0.0.1"\n',
        ".gitattributes": "src/lib.rs export-ignore\n",
    })  # fmt: skip
    rev = git_commit(repo)
    mirror = tmp_path / "mirror"
    # named by the crate, though the repository is called otherwise
    bundle(repo, rev, mirror / f"crab-lib-{rev}.bundle")
    crate = LockedCrate("crab-lib", "0.3.0", REGISTRY, "cd" * 32)
    lock = lock_file(tmp_path / "Cargo.lock", [crate])
    pin = GitPin("crab-lib", "https://example.invalid/rust-crab", rev)
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(mirror, tmp_path / "cache", None, None), {"crab-lib": pin})
    assert f"from mirror bundle {mirror / f'crab-lib-{rev}.bundle'}" in plan.summary()
    vendor = cargo_vendor.vendor(plan, tmp_path / "vendor")
    out = vendor / "crab-lib-0.3.0"
    assert (out / "src" / "lib.rs").read_text() == "pub fn crab() {}\n"  # the commit's blobs, exactly
    assert not (out / "cli").exists()
    checksums = json.loads((out / ".cargo-checksum.json").read_text())
    assert checksums["package"] is None  # as cargo vendor writes for git sources
    assert set(checksums["files"]) >= {"Cargo.toml", "Cargo.toml.orig", "src/lib.rs", ".cargo_vcs_info.json"}
    assert cargo_vendor.drop_unverified_checksums(lock.path, plan) == ["crab-lib 0.3.0"]
    assert "checksum" not in lock.path.read_text()


@needs_git
def test_an_unreachable_commit_skips_naming_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    lock = lock_file(tmp_path / "Cargo.lock", [LockedCrate("gone", "1.0.0", REGISTRY, "ef" * 32)])
    pin = GitPin("gone", (tmp_path / "no-such-repo").as_uri(), REV)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(mirror, tmp_path / "cache", None, None), {"gone": pin})
    with pytest.raises(SourcesUnreachable, match=f"gone-{REV}.bundle"):
        cargo_vendor.vendor(plan, tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


def test_the_summary_shows_a_builds_notes() -> None:
    result = BuildResult("crabsay", "0.1.1", "k", Path("/store/x"), False, notes=["crates pinned by git commit: a 1"])
    summary = Summary({"crabsay": result}, [])
    [row] = summary.as_json()
    assert row["status"] == "built" and row["reason"] == "crates pinned by git commit: a 1"


def test_git_dependencies_of_the_lock_are_planned_from_their_commit(tmp_path: Path) -> None:
    src = f"git+https://example.invalid/org/dep.git?branch=main%2Fx#{REV}"
    crates = [LockedCrate("dep", "0.1.0", src, None), LockedCrate("reg", "1.0.0", REGISTRY, "ab" * 32)]
    lock = lock_file(tmp_path / "Cargo.lock", crates)
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(None, tmp_path / "cache", None, None))
    entry = plan.crates[0]
    assert (entry.origin, entry.pin) == ("git", GitPin("dep", "https://example.invalid/org/dep.git", REV))
    with pytest.raises(FetchError, match=r"crates-git pins dep, which Cargo\.lock does not have from a registry"):
        cargo_vendor.plan_vendoring(lock, CrateSources(None, tmp_path / "c", None, None), {"dep": entry.pin})  # type: ignore[dict-item]
    config = cargo_vendor.write_cargo_config(tmp_path / "home", tmp_path / "vendor", lock.crates)
    sources = tomllib.loads(config.read_text())["source"]
    assert sources[src.partition("#")[0]] == {
        "git": "https://example.invalid/org/dep.git", "branch": "main/x", "replace-with": cargo_vendor.VENDOR_SOURCE}  # fmt: skip
    assert sources["crates-io"] == {"replace-with": cargo_vendor.VENDOR_SOURCE}
    # one vendor directory cannot hold the same name and version from two places
    with pytest.raises(cargo_vendor.CrateError, match="comes from two sources"):
        lock_file(tmp_path / "Cargo.lock", [LockedCrate("dep", "0.1.0", REGISTRY, "ab" * 32), crates[0]])
