"""The cargo build system and crate vendoring: real cargo, real crates, real Wasmer runtime."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tomllib
import unicodedata
from pathlib import Path

import pytest

from tests.httpserver import serve
from wasix_backend import cargo_vendor, paths, rust
from wasix_backend.buildsystems import cargo as cargo_plugin
from wasix_backend.cargo_vendor import CrateError, CrateSources, LockedCrate
from wasix_backend.context import BuildContext
from wasix_backend.errors import BuildError, FetchError
from wasix_backend.recipe import Recipe, recipe_from_dict
from wasix_backend.runtime import run

CRABSAY_DIR = paths.builtin_plugins_dir() / "crabsay"
CRABSAY_LOCK = CRABSAY_DIR / "Cargo.lock"
DEBIAN_UNICODE_WIDTH = cargo_vendor.DEBIAN_REGISTRY / "unicode-width-0.1.10"
DEBIAN_CC = cargo_vendor.DEBIAN_REGISTRY / "cc-1.0.73"


def _toolchain() -> rust.RustToolchain | None:
    try:
        return rust.find_rust_toolchain()
    except Exception:
        return None


TOOLCHAIN = _toolchain()
needs_rust = pytest.mark.skipif(
    TOOLCHAIN is None,
    reason="no Rust toolchain with a wasm32 target: apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14",
)
#: The registry source string as Cargo writes it, taken from a real lock file (not spelled here).
REGISTRY_SOURCE = next(
    p["source"] for p in tomllib.loads(CRABSAY_LOCK.read_text())["package"] if "source" in p
)


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No mirror, no registry, a private cache: only what a test sets up is reachable."""
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache"))
    for var in (
        "WASIX_MIRROR",
        cargo_vendor.DL_ENV,
        cargo_vendor.DEBIAN_ENV,
        "WASIX_RUST_TOOLCHAIN",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def make_ctx(tmp: Path, recipe: Recipe) -> BuildContext:
    for d in ("src", "build"):
        (tmp / d).mkdir(exist_ok=True)
    log = logging.getLogger(f"test.cargo.{tmp.name}")
    return BuildContext(
        recipe=recipe,
        source_dir=tmp / "src",
        build_dir=tmp / "build",
        prefix=Path("/opt/wasix") / recipe.name,
        destdir=tmp / "dest",
        deps={},
        env=dict(os.environ),
        toolchain=None,  # type: ignore[arg-type]  # cargo builds do not use the C toolchain here
        jobs=2,
        log=log,
        log_file=tmp / "build.log",
    )


def cargo_recipe(name: str, **build: object) -> Recipe:
    return recipe_from_dict(
        {
            "package": {"name": name, "version": "0.1.0"},
            "build": {"system": "cargo", **build},
            "outputs": {"bin": [name]},
        },
        plugin=f"test-{name}",
    )


def build_all(ctx: BuildContext) -> Path:
    for phase in ("configure", "compile", "package"):
        ctx.phase = phase
        assert getattr(cargo_plugin, f"wasix_{phase}")(ctx) is True
    return ctx.stage / "bin" / f"{ctx.recipe.binaries[0]}.wasm"


def write_crate(
    root: Path, name: str, deps: str = "", main: str | None = None, lib: str | None = None
) -> None:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2018"\n\n[dependencies]\n{deps}'
    )
    if main is not None:
        (root / "src" / "main.rs").write_text(main)
    if lib is not None:
        (root / "src" / "lib.rs").write_text(lib)


def lock_text(members: list[tuple[str, list[str]]], crates: list[LockedCrate]) -> str:
    out = ["version = 3", ""]
    for name, deps in members:
        out += [
            "[[package]]",
            f'name = "{name}"',
            'version = "0.1.0"',
            "dependencies = [" + ", ".join(f'"{d}"' for d in deps) + "]",
            "",
        ]
    for c in crates:
        out += [
            "[[package]]",
            f'name = "{c.name}"',
            f'version = "{c.version}"',
            f'source = "{c.source}"',
        ]
        if c.checksum:
            out.append(f'checksum = "{c.checksum}"')
        out.append("")
    return "\n".join(out)


def make_dot_crate(dest: Path, name: str, version: str, lib: str) -> str:
    """Write ``dest/NAME-VERSION.crate`` (a gzipped tar, as cargo packages crates); its sha256."""
    files = {
        "Cargo.toml": f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2018"\n',
        "src/lib.rs": lib,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}-{version}.crate"
    path.write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def generate_lock(ctx: BuildContext, tmp: Path, debian_crates: list[Path]) -> None:
    """Let cargo write the lock file, resolving against a directory source made of Debian's
    crates (the way a maintainer would run `cargo generate-lockfile`)."""
    assert TOOLCHAIN is not None
    resolve_src = tmp / "resolve"
    for crate in debian_crates:
        shutil.copytree(crate, resolve_src / crate.name)
        cargo_vendor.write_checksums(resolve_src / crate.name, None)
    home = cargo_vendor.write_cargo_config(tmp / "resolve-home", resolve_src).parent
    subprocess.run(
        [str(TOOLCHAIN.cargo), "generate-lockfile", "--offline"],
        cwd=ctx.source_dir,
        check=True,
        env={**os.environ, **TOOLCHAIN.env(), "CARGO_HOME": str(home)},
    )


CRAB = [
    "    \\",
    "     \\",
    "        _~^~^~_",
    "    \\) /  o o  \\ (/",
    "      '_   -   _'",
    "      / '-----' \\",
]


def expected_bubble(message: str) -> str:
    width = len(message) + 2
    return "\n".join([" " + "_" * width, f"< {message} >", " " + "-" * width, *CRAB]) + "\n"


CRABSAY_LIKE = (
    "fn main() {\n"
    '    let msg = std::env::args().skip(1).collect::<Vec<_>>().join(" ");\n'
    "    let width = msg.chars().count() + 2;\n"
    '    println!(" {}", "_".repeat(width));\n'
    '    println!("< {} >", msg);\n'
    '    println!(" {}", "-".repeat(width));\n'
    + "".join(f"    println!({json.dumps(line)});\n" for line in CRAB)
    + "}\n"
)


# --- (1) a program without crates ---------------------------------------------------------


@pytest.mark.build
@needs_rust
def test_crabsay_like_program_builds_and_runs_under_wasmer(isolated: Path) -> None:
    ctx = make_ctx(isolated, cargo_recipe("crabby"))
    write_crate(ctx.source_dir, "crabby", main=CRABSAY_LIKE)
    (ctx.source_dir / "Cargo.lock").write_text(lock_text([("crabby", [])], []))
    wasm = build_all(ctx)
    assert wasm.read_bytes()[:4] == b"\0asm"
    result = run(wasm, ["hello", "wasix"])
    assert result.exit_code == 0, result.stderr
    assert result.text == expected_bubble("hello wasix")
    # Everything cargo used stayed inside the build tree.
    assert (ctx.build_dir / "cargo-home" / "config.toml").is_file()
    assert (ctx.build_dir / "target").is_dir()


# --- (1b) linked against wasix-libc: a real working directory, no $PWD patch ---------------

CWD_PROGRAM = r"""
use std::io::Write;
fn main() {
    let cwd = std::env::current_dir().unwrap();
    println!("cwd {}", cwd.display());
    println!("read {:?}", std::fs::read_to_string("data.txt").map_err(|e| e.kind()));
    std::fs::write("out.txt", b"written here\n").unwrap();
    println!("chdir missing {:?}", std::env::set_current_dir("missing").map_err(|e| e.kind()));
    std::env::set_current_dir("..").unwrap();
    println!("after chdir {}", std::env::current_dir().unwrap().display());
    println!("read {:?}", std::fs::read_to_string("data.txt").map_err(|e| e.kind()));
    std::io::stdout().flush().unwrap();
    more();
}
"""
#: The libc crate has no processes for wasm32-wasi; wasix-libc has them (asyncify does fork).
FORK = r"""
extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn _exit(code: i32) -> !;
}
fn more() {
    let pid = unsafe { fork() };
    if pid == 0 {
        std::fs::write("from-child.txt", b"child\n").unwrap();
        unsafe { _exit(7) };
    }
    let mut status = 0;
    let waited = unsafe { waitpid(pid, &mut status, 0) };
    println!("child {} exit {}", waited == pid && pid > 0, (status >> 8) & 0xff);
}
"""
CWD_FILES = {"/workspace/data.txt": "top\n", "/workspace/sub/data.txt": "sub\n"}


def build_cwd_program(
    tmp: Path,
    wasix_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    more: str,
    **build: object,
) -> Path:
    """The program above plus ``more`` (a ``fn more()``), built with the wasix provider."""
    from wasix_backend.toolchain import get_toolchain

    for key, value in wasix_env.items():
        monkeypatch.setenv(key, value)
    toolchain = get_toolchain("wasix")
    ctx = make_ctx(tmp, cargo_recipe("cwdprog", **build))
    ctx.toolchain = toolchain
    ctx.env.update(toolchain.env())
    write_crate(ctx.source_dir, "cwdprog", main=CWD_PROGRAM + more)
    (ctx.source_dir / "Cargo.lock").write_text(lock_text([("cwdprog", [])], []))
    return build_all(ctx)


@pytest.mark.build
@needs_rust
def test_rust_program_linked_against_wasix_libc_works_in_the_directory_it_starts_in(
    isolated: Path, wasix_sysroot: Path, provider_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wasix_backend.inspect import inspect_module

    wasm = build_cwd_program(isolated, provider_env("wasix"), monkeypatch, FORK)
    info = inspect_module(wasm)
    assert "getcwd" in info.imports["wasix_32v1"]  # wasix-libc's, not Rust's own wasi-libc
    assert ("__wasix_mirror_v1", "func") in info.exports  # the launcher's mirror step
    assert [m["shared"] for m in info.memories if m.get("imported")] == [True]
    assert ("asyncify_start_unwind", "func") in info.exports  # the C programs' post-link pass
    # Started in a subdirectory, with a $PWD naming somewhere else: nothing follows $PWD.
    result = run(wasm, cwd="/workspace/sub", env={"PWD": "/elsewhere"}, files=CWD_FILES,
                 read_back=["/workspace/sub/out.txt", "/workspace/out.txt", "/workspace/from-child.txt"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.text.splitlines() == [
        "cwd /workspace/sub",
        'read Ok("sub\\n")',
        "chdir missing Err(NotFound)",  # errno read back from wasix-libc's chdir
        "after chdir /workspace",
        'read Ok("top\\n")',
        "child true exit 7",
    ]
    assert result.files == {
        "/workspace/sub/out.txt": b"written here\n",
        "/workspace/from-child.txt": b"child\n",  # the child inherited the working directory
    }


@pytest.mark.build
@needs_rust
def test_rust_program_can_keep_rusts_own_wasi_libc(
    isolated: Path, wasix_sysroot: Path, provider_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[build] wasix-libc = false``: plain WASI, whose working directory is always "/"."""
    from wasix_backend.inspect import inspect_module

    wasm = build_cwd_program(
        isolated, provider_env("wasix"), monkeypatch, "fn more() {}\n", **{"wasix-libc": False}
    )
    assert "wasix_32v1" not in inspect_module(wasm).imports
    result = run(wasm, cwd="/workspace/sub", files=CWD_FILES)
    assert result.text.splitlines()[:2] == ["cwd /", "read Err(NotFound)"]


@needs_rust
def test_missing_lock_file_is_an_error_saying_what_to_do(isolated: Path) -> None:
    ctx = make_ctx(isolated, cargo_recipe("nolock"))
    write_crate(ctx.source_dir, "nolock", main="fn main() {}\n")
    ctx.phase = "configure"
    with pytest.raises(BuildError, match=r"no Cargo\.lock.*cargo-lock"):
        cargo_plugin.wasix_configure(ctx)


def test_other_build_systems_are_left_alone() -> None:
    """The cargo hooks are called for cargo recipes only (the loader scopes them)."""
    from wasix_backend.buildsystems import autotools
    from wasix_backend.plugins import load_plugins

    loaded = load_plugins(entry_points=False)  # ncurses: autotools; crabsay: cargo
    for phase in ("configure", "compile", "package"):
        ncurses = [i.plugin for i in loaded.hook_for("ncurses", phase).get_hookimpls()]
        crabsay = [i.plugin for i in loaded.hook_for("crabsay", phase).get_hookimpls()]
        assert cargo_plugin not in ncurses and autotools in ncurses
        assert cargo_plugin in crabsay and autotools not in crabsay


# --- (2) a crate from Debian's packaged registry ------------------------------------------


@pytest.mark.build
@needs_rust
@pytest.mark.skipif(
    not DEBIAN_UNICODE_WIDTH.is_dir(),
    reason=f"needs Debian's unicode-width sources ({DEBIAN_UNICODE_WIDTH}): apt-get install librust-unicode-width-dev",
)
def test_crate_depending_on_a_debian_packaged_crate(isolated: Path) -> None:
    assert TOOLCHAIN is not None
    ctx = make_ctx(isolated, cargo_recipe("widths"))
    write_crate(
        ctx.source_dir,
        "widths",
        deps='unicode-width = "0.1"\n',
        main=(
            "use unicode_width::UnicodeWidthStr;\n"
            "fn main() {\n"
            '    for a in std::env::args().skip(1) { println!("{} {} {}", a, a.chars().count(), a.width()); }\n'
            "}\n"
        ),
    )
    generate_lock(ctx, isolated, [DEBIAN_UNICODE_WIDTH])
    wasm = build_all(ctx)

    plan = json.loads((ctx.build_dir / "vendor-plan.json").read_text())
    [entry] = plan["crates"]
    assert (entry["name"], entry["version"], entry["origin"], entry["verified"]) == (
        "unicode-width",
        "0.1.10",
        "debian",
        False,
    )
    sums = json.loads(
        (ctx.build_dir / "vendor" / "unicode-width-0.1.10" / ".cargo-checksum.json").read_text()
    )
    assert sums["package"] is None
    lib = ctx.build_dir / "vendor" / "unicode-width-0.1.10" / "src" / "lib.rs"
    assert sums["files"]["src/lib.rs"] == hashlib.sha256(lib.read_bytes()).hexdigest()

    words = [
        "crab",
        "héllo",
        "世界",
        "\uff57\uff41\uff53\uff4d",
    ]  # the last is "wasm" in fullwidth letters
    result = run(wasm, words)
    assert result.exit_code == 0, result.stderr

    def width(s: str) -> int:  # East Asian Wide/Fullwidth characters take two columns
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    assert result.text.splitlines() == [f"{w} {len(w)} {width(w)}" for w in words]


# --- crates from git commits, end to end ---------------------------------------------------


def _git_repo_with_crate(root: Path, name: str, version: str, lib: str) -> str:
    """A repository whose one commit holds crate NAME VERSION; returns the commit id."""
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2018"\n')
    (root / "src" / "lib.rs").write_text(lib)
    env = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "v"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, env=env,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


@pytest.mark.build
@needs_rust
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_dependency_and_git_pinned_registry_crate_build_from_mirror_bundles(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `git = …` dependency (Cargo.lock pins its commit) and a registry crate that the
    recipe pins by commit ([build] crates-git), both from bundles in the mirror."""
    mirror = isolated / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("WASIX_MIRROR", str(mirror))
    revs = {}
    for name, text in (("gitdep", "hi from a git dependency"), ("pinned", "hi from a pinned crate")):
        repo = isolated / "upstream" / name
        revs[name] = _git_repo_with_crate(repo, name, "0.3.1", f'pub fn say() -> &\'static str {{ "{text}" }}\n')
        subprocess.run(["git", "-C", str(repo), "branch", "wasix-pin", revs[name]], check=True)
        subprocess.run(["git", "-C", str(repo), "bundle", "create", "-q", str(mirror / f"{name}-{revs[name]}.bundle"),
                        "wasix-pin"], check=True)  # fmt: skip
    pins = {"pinned": {"git": "https://example.invalid/pinned", "rev": revs["pinned"]}}
    ctx = make_ctx(isolated, cargo_recipe("app", **{"crates-git": pins}))
    url = "https://example.invalid/gitdep"
    write_crate(
        ctx.source_dir, "app",
        deps=f'gitdep = {{ git = "{url}", rev = "{revs["gitdep"]}" }}\npinned = "0.3"\n',
        main='fn main() { println!("{} / {}", gitdep::say(), pinned::say()); }\n',
    )  # fmt: skip
    git_source = f"git+{url}?rev={revs['gitdep']}#{revs['gitdep']}"
    (ctx.source_dir / "Cargo.lock").write_text(lock_text(
        [("app", ["gitdep", "pinned"])],
        [LockedCrate("gitdep", "0.3.1", git_source, None), LockedCrate("pinned", "0.3.1", REGISTRY_SOURCE, "ab" * 32)],
    ))  # fmt: skip
    wasm = build_all(ctx)
    result = run(wasm, [])
    assert result.exit_code == 0, result.stderr
    assert result.text == "hi from a git dependency / hi from a pinned crate\n"
    plan = {c["name"]: c for c in json.loads((ctx.build_dir / "vendor-plan.json").read_text())["crates"]}
    for name in revs:
        assert (plan[name]["origin"], plan[name]["verified"], plan[name]["rev"]) == ("git", False, revs[name])
    assert ctx.state["notes"] == [
        "crates pinned by git commit, not verified against the registry's checksum: gitdep 0.3.1, pinned 0.3.1"
    ]
    config = tomllib.loads((ctx.build_dir / "cargo-home" / "config.toml").read_text())
    assert config["source"][git_source.partition("#")[0]] == {
        "git": url, "rev": revs["gitdep"], "replace-with": cargo_vendor.VENDOR_SOURCE}  # fmt: skip


# --- a crate from the mirror, verified, end to end ----------------------------------------


@pytest.mark.build
@needs_rust
def test_crate_from_the_mirror_is_verified_and_used(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = isolated / "mirror"
    sha = make_dot_crate(
        mirror, "greeting", "1.2.3", 'pub fn greet(n: &str) -> String { format!("hi, {}!", n) }\n'
    )
    monkeypatch.setenv("WASIX_MIRROR", str(mirror))
    ctx = make_ctx(isolated, cargo_recipe("greeter"))
    write_crate(
        ctx.source_dir,
        "greeter",
        deps='greeting = "1"\n',
        main='fn main() { println!("{}", greeting::greet(&std::env::args().nth(1).unwrap())); }\n',
    )
    crate = LockedCrate("greeting", "1.2.3", REGISTRY_SOURCE, sha)
    (ctx.source_dir / "Cargo.lock").write_text(lock_text([("greeter", ["greeting"])], [crate]))
    wasm = build_all(ctx)
    assert run(wasm, ["ferris"]).text == "hi, ferris!\n"
    sums = json.loads(
        (ctx.build_dir / "vendor" / "greeting-1.2.3" / ".cargo-checksum.json").read_text()
    )
    assert sums["package"] == sha  # verified: cargo can check it against the lock too
    assert f'checksum = "{sha}"' in (ctx.source_dir / "Cargo.lock").read_text()


# --- C code inside a crate goes through the project's compiler driver ---------------------


@pytest.mark.build
@needs_rust
@pytest.mark.skipif(
    not DEBIAN_CC.is_dir() or not shutil.which("wasixcc"),
    reason=f"needs Debian's cc crate ({DEBIAN_CC}: apt-get install librust-cc-dev) and the wasixcc driver",
)
def test_c_code_in_a_crate_compiles_with_wasixcc(isolated: Path) -> None:
    assert TOOLCHAIN is not None
    ctx = make_ctx(isolated, cargo_recipe("adder"))
    ctx.env.update(CC="wasixcc", AR="wasixar")  # as the toolchain's env() gives them
    write_crate(
        ctx.source_dir,
        "adder",
        main=(
            'extern "C" { fn mul_add(a: i32, b: i32, c: i32) -> i32; fn c_compiler() -> *const u8; }\n'
            "fn main() {\n"
            "    let v: Vec<i32> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();\n"
            "    let ok = unsafe { *c_compiler() } != 0;\n"
            '    println!("{} {}", unsafe { mul_add(v[0], v[1], v[2]) }, ok);\n'
            "}\n"
        ),
    )
    with (ctx.source_dir / "Cargo.toml").open("a") as fh:
        fh.write('\n[build-dependencies]\ncc = "1"\n')
    (ctx.source_dir / "build.rs").write_text(
        'fn main() { cc::Build::new().file("madd.c").compile("madd"); }\n'
    )
    (ctx.source_dir / "madd.c").write_text(
        "int mul_add(int a, int b, int c) { return a * b + c; }\n"
        "const char *c_compiler(void) { return __VERSION__; }\n"
    )
    generate_lock(ctx, isolated, [DEBIAN_CC])
    env = cargo_plugin.cargo_env(ctx, TOOLCHAIN)
    suffix = TOOLCHAIN.target.replace("-", "_")
    assert (
        env[f"CC_{suffix}"] == shutil.which("wasixcc") and Path(env[f"CC_{suffix}"]).is_absolute()
    )
    assert env[f"AR_{suffix}"] == shutil.which("wasixar")
    wasm = build_all(ctx)
    result = run(wasm, ["6", "7", "-2"])
    assert result.exit_code == 0, result.stderr
    assert result.text == f"{6 * 7 - 2} true\n"
    # The cc crate really ran the driver for the target (not the host compiler).
    assert "wasixcc" in (
        ctx.log_file.read_text() if ctx.log_file and ctx.log_file.exists() else ""
    ) or any(
        "wasixcc" in p.read_text(errors="replace")
        for p in (ctx.build_dir / "target").glob("*/release/build/adder-*/output")
    )


# --- (3) crabsay's vendoring plan ---------------------------------------------------------


def test_crabsay_recipe_uses_cargo_and_its_lock() -> None:
    from wasix_backend.plugins import load_plugins

    loaded = load_plugins(builtins=True, entry_points=False)
    recipe = loaded.recipes["crabsay"]
    assert recipe.build_system == "cargo"
    assert recipe.binaries == ("crabsay",)
    assert (CRABSAY_DIR / recipe.build["cargo-lock"]).resolve() == CRABSAY_LOCK.resolve()


def test_crabsay_vendoring_plan(isolated: Path) -> None:
    lock = cargo_vendor.read_lock(CRABSAY_LOCK)
    raw = tomllib.loads(CRABSAY_LOCK.read_text())["package"]
    expected = {(p["name"], p["version"]): p["checksum"] for p in raw if "source" in p}
    assert lock.members == ("crabsay",)
    assert {(c.name, c.version): c.checksum for c in lock.crates} == expected
    assert {c.name for c in lock.crates} == {
        "ferris-says",
        "smallvec",
        "smawk",
        "textwrap",
        "unicode-width",
    }

    debian = cargo_vendor.DEBIAN_REGISTRY
    sources = CrateSources(
        mirror=isolated / "mirror", cache=isolated / "cache", debian=debian, download=None
    )
    plan = cargo_vendor.plan_vendoring(lock, sources)
    origins = {c.crate.name: c.origin for c in plan.crates}
    for c in plan.crates:
        in_debian = (debian / c.crate.key / "Cargo.toml").is_file()
        assert c.origin == ("debian" if in_debian else "missing"), c
        if (
            c.origin == "debian"
        ):  # honest: Debian's copy cannot be checked against the .crate's sha256
            assert not c.verified and "cannot be checked" in c.note
    # Debian has unicode-width, but 0.1.10, not the locked 0.1.9: versions must match exactly.
    assert origins["unicode-width"] == "missing"
    assert "NOT verified" in plan.summary() or not plan.unverified

    # With a registry download template every crate not elsewhere would be downloaded, verified.
    template = "http://127.0.0.1:9/crates/{crate}/{crate}-{version}.crate"
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(None, isolated / "cache", None, template))
    for c in plan.crates:
        assert (c.origin, c.verified) == ("registry", True)
        assert c.location == f"http://127.0.0.1:9/crates/{c.crate.name}/{c.crate.key}.crate"

    # The recipe pins four of them by commit: taken from git where no .crate is at hand.
    from wasix_backend.cargo_git import parse_pins

    pins = parse_pins(tomllib.loads((CRABSAY_DIR / "recipe.toml").read_text())["build"]["crates-git"])
    assert set(pins) == {"ferris-says", "smallvec", "textwrap", "unicode-width"}
    plan = cargo_vendor.plan_vendoring(lock, sources, pins)
    assert {c.crate.name: c.origin for c in plan.crates} == {
        **dict.fromkeys(pins, "git"),
        "smawk": "debian" if (debian / "smawk-0.3.1" / "Cargo.toml").is_file() else "missing",
    }

    # A file in the mirror comes first.
    make_dot_crate(isolated / "mirror", "smallvec", "0.4.5", "")
    plan = cargo_vendor.plan_vendoring(lock, sources)
    assert {c.crate.name: c.origin for c in plan.crates}["smallvec"] == "mirror"


def test_download_url_markers() -> None:
    crate = LockedCrate("serde", "1.0.0", REGISTRY_SOURCE, "ab" * 32)
    assert (
        cargo_vendor.download_url("https://r/{prefix}/{crate}/{version}", crate)
        == "https://r/se/rd/serde/1.0.0"
    )
    assert (
        cargo_vendor.download_url("https://r/api/v1/crates", crate)
        == "https://r/api/v1/crates/serde/1.0.0/download"
    )
    assert cargo_vendor.download_url("x/{sha256-checksum}", crate) == "x/" + "ab" * 32


# --- (4) errors name the crate and version ------------------------------------------------


def _lock_with(tmp: Path, crate: LockedCrate) -> cargo_vendor.Lockfile:
    path = tmp / "Cargo.lock"
    path.write_text(lock_text([("app", [crate.name])], [crate]))
    return cargo_vendor.read_lock(path)


def test_mismatched_mirror_crate_is_an_error_naming_crate_and_version(isolated: Path) -> None:
    mirror = isolated / "mirror"
    make_dot_crate(mirror, "tampered", "0.3.0", "pub fn f() {}\n")
    wrong = hashlib.sha256(b"the published crate").hexdigest()
    lock = _lock_with(isolated, LockedCrate("tampered", "0.3.0", REGISTRY_SOURCE, wrong))
    plan = cargo_vendor.plan_vendoring(lock, CrateSources(mirror, isolated / "cache", None, None))
    with pytest.raises(
        CrateError, match=r"crate tampered 0\.3\.0: .*does not match Cargo.lock"
    ) as info:
        cargo_vendor.vendor(plan, isolated / "vendor")
    assert wrong in str(info.value)
    assert not (isolated / "vendor").exists()  # nothing half-done looks finished


def test_missing_crate_is_an_error_naming_crate_version_and_remedies(isolated: Path) -> None:
    lock = _lock_with(isolated, LockedCrate("nowhere", "9.9.9", REGISTRY_SOURCE, "cd" * 32))
    plan = cargo_vendor.plan_vendoring(
        lock, CrateSources(isolated / "m", isolated / "cache", isolated / "deb", None)
    )
    assert [c.origin for c in plan.crates] == ["missing"]
    with pytest.raises(CrateError, match=r"nowhere 9\.9\.9") as info:
        cargo_vendor.vendor(plan, isolated / "vendor")
    text = str(info.value)
    assert "WASIX_MIRROR" in text and cargo_vendor.DL_ENV in text and "librust-" in text


def test_registry_download_is_verified(isolated: Path) -> None:
    served = isolated / "served" / "crates"
    good = make_dot_crate(served, "fromnet", "0.1.0", "pub const X: u8 = 1;\n")
    make_dot_crate(served, "badnet", "0.1.0", "pub const X: u8 = 2;\n")
    with serve(isolated / "served") as srv:
        template = srv.url + "/crates/{crate}-{version}.crate"
        sources = CrateSources(None, isolated / "cache", None, template)
        ok = _lock_with(isolated, LockedCrate("fromnet", "0.1.0", REGISTRY_SOURCE, good))
        dest = cargo_vendor.vendor(
            cargo_vendor.plan_vendoring(ok, sources), isolated / "vendor", cache=sources.cache
        )
        assert (dest / "fromnet-0.1.0" / "src" / "lib.rs").read_text() == "pub const X: u8 = 1;\n"
        assert (isolated / "cache" / "fromnet-0.1.0.crate").is_file()  # kept for the next build

        bad = _lock_with(isolated, LockedCrate("badnet", "0.1.0", REGISTRY_SOURCE, good))
        with pytest.raises(FetchError, match=r"crate badnet 0\.1\.0"):
            cargo_vendor.vendor(
                cargo_vendor.plan_vendoring(bad, sources), isolated / "vendor2", cache=sources.cache
            )
    assert not (isolated / "cache" / "badnet-0.1.0.crate").exists()

    # The verified download is now a cache hit: no server needed.
    plan = cargo_vendor.plan_vendoring(ok, CrateSources(None, isolated / "cache", None, None))
    assert [c.origin for c in plan.crates] == ["cache"]


def test_git_dependencies_without_their_full_commit_are_refused_by_name(isolated: Path) -> None:
    path = isolated / "Cargo.lock"
    path.write_text(
        'version = 3\n[[package]]\nname = "gitdep"\nversion = "0.2.0"\nsource = "git+file:///x#abc"\n'
    )
    with pytest.raises(CrateError, match=r"crate gitdep 0\.2\.0: comes from 'git\+"):
        cargo_vendor.read_lock(path)
    path.write_text('version = 3\n[[package]]\nname = "p"\nversion = "1.0.0"\nsource = "path+file:///x"\n')
    with pytest.raises(CrateError, match=r"only registry crates and git commits can be vendored offline"):
        cargo_vendor.read_lock(path)


def test_unverified_checksums_are_dropped_from_the_build_lock(isolated: Path) -> None:
    deb = isolated / "deb" / "plain-1.0.0"
    write_crate(deb, "plain", lib="")
    (deb / "Cargo.toml").write_text('[package]\nname = "plain"\nversion = "1.0.0"\n')
    lock = _lock_with(isolated, LockedCrate("plain", "1.0.0", REGISTRY_SOURCE, "ef" * 32))
    plan = cargo_vendor.plan_vendoring(
        lock, CrateSources(None, isolated / "cache", isolated / "deb", None)
    )
    assert cargo_vendor.drop_unverified_checksums(lock.path, plan) == ["plain 1.0.0"]
    text = lock.path.read_text()
    assert "checksum" not in text and 'name = "plain"' in text


# --- (5) crabsay itself -------------------------------------------------------------------


CRABSAY_REV = "2ed8af9b16dc1e8d04851b62314e878536112ca9"


def _crabsay_unavailable() -> str:
    if TOOLCHAIN is None:
        return "no Rust toolchain with a wasm32 target"
    mirror = paths.mirror_dir()
    wanted = (f"crabsay-{CRABSAY_REV}.bundle", "crabsay.git", "crabsay")
    if mirror is None or not any((mirror / name).exists() for name in wanted):
        return (
            "crabsay's repository (GitHub) is not reachable here: set WASIX_MIRROR to a directory "
            f"holding crabsay-{CRABSAY_REV}.bundle (see plugins/crabsay/recipe.toml)"
        )
    from wasix_backend.cargo_git import parse_pins
    from wasix_backend.recipe import load_recipe

    pins = parse_pins(load_recipe(CRABSAY_DIR / "recipe.toml").build.get("crates-git"))
    plan = cargo_vendor.plan_vendoring(cargo_vendor.read_lock(CRABSAY_LOCK), pins=pins)
    if plan.missing:
        return "crates not available offline: " + ", ".join(
            f"{c.crate.name} {c.crate.version}" for c in plan.missing
        )
    return ""


@pytest.mark.collection
@pytest.mark.skipif(bool(_crabsay_unavailable()), reason=_crabsay_unavailable() or "available")
def test_crabsay_builds_and_speaks(tmp_path: Path) -> None:
    from wasix_backend.buildsystems import fetching
    from wasix_backend.plugins import load_plugins

    recipe = load_plugins(entry_points=False).recipes["crabsay"]
    ctx = make_ctx(tmp_path, recipe)
    ctx.phase = "fetch"
    assert fetching.wasix_fetch(ctx) is True
    wasm = build_all(ctx)
    result = run(wasm, ["hello"])
    assert result.exit_code == 0, result.stderr
    assert "< hello >" in result.text


def test_crabsay_fetch_gets_its_commit_or_says_how_to_provide_it(isolated: Path) -> None:
    from wasix_backend.buildsystems import fetching
    from wasix_backend.plugins import load_plugins

    loaded = load_plugins(entry_points=False)
    recipe = loaded.recipes["crabsay"]
    [source] = recipe.sources  # pinned by commit, nothing taken from the environment
    assert (source.git, source.rev) == ("https://github.com/Zaechus/crabsay", CRABSAY_REV)
    ctx = make_ctx(isolated, recipe)
    ctx.phase = "fetch"
    try:
        fetching.wasix_fetch(ctx)
    except FetchError as exc:  # no mirror here; GitHub unreachable (as where this was written)
        text = str(exc)
        assert text.startswith(f"crabsay: could not get commit {CRABSAY_REV} of {source.git}")
        assert f"git bundle create crabsay-{CRABSAY_REV}.bundle" in text
        assert "$WASIX_MIRROR" in text
        assert not any(ctx.source_dir.iterdir())  # nothing half-written
    else:  # GitHub reachable: the tree is upstream's 0.1.1
        manifest = tomllib.loads((ctx.source_dir / "Cargo.toml").read_text())
        assert (manifest["package"]["name"], manifest["package"]["version"]) == ("crabsay", "0.1.1")
