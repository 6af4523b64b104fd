"""The front door: the README's set-up commands, run verbatim as a newcomer would.

The slow test runs the build command in a fresh clone of this checkout's HEAD with a fresh
HOME (empty caches and store), only Debian's own tools on PATH and no Rust among them. Only
the downloaded-sources cache and the sysroot are shared, so the cost is the collection's cold
build, not a download of every source.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_skips import tools_without_rust

from wasix_backend import paths

REPO = Path(__file__).resolve().parents[1]


def setup_commands() -> dict[str, str]:
    """The README's set-up commands by nox session: ``{"build": "python3 …", "tests": …}``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    lines = [ln for block in re.findall(r"```sh\n(.*?)```", section, re.S) for ln in block.splitlines()]
    found = {}
    for line in lines:
        session = re.search(r"\bnox -s (\w+)", line)
        if session:
            found[session.group(1)] = line.split(" #", 1)[0].strip()
    return found


def test_the_readme_has_the_two_setup_commands_for_a_plain_python3() -> None:
    commands = setup_commands()
    assert set(commands) == {"build", "tests"}
    for command in commands.values():
        # Debian 12 has no `python` and refuses `pip install` outside a venv (PEP 668).
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install")
        assert not re.search(r"(^|[;&|]\s*)(python|pip|nox)\b", command)


def setup_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("## Set-up", 1)[1].split("\n## ", 1)[0]


def apt_lines() -> list[list[str]]:
    """The packages of the README's ``sudo apt-get satisfy`` lines: [to build, for the tests]."""
    return [line.split()[3:] for line in setup_section().splitlines() if line.startswith("sudo apt-get satisfy ")]


#: A Debian package name (Debian Policy 5.6.1); `+` also appears in virtual crate packages.
DEBIAN_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def test_the_readme_has_two_well_formed_apt_lines_build_and_tests() -> None:
    lines = apt_lines()
    assert len(lines) == 2, "one line for building the collection, one for what the tests add"
    build, tests = lines
    for packages in lines:
        assert packages and all(DEBIAN_NAME.fullmatch(p) for p in packages), packages  # names only, no options
        assert len(set(packages)) == len(packages), "a package listed twice"
    assert not set(build) & set(tests), "what the tests add is not already in the build line"
    # Each line alone in its own block, so it can be copied as it is.
    blocks = re.findall(r"```sh\n(.*?)```", setup_section(), re.S)
    assert sum(1 for b in blocks if b.strip().startswith("sudo apt-get satisfy ") and len(b.strip().splitlines()) == 1) == 2


def test_the_build_line_has_what_the_skips_tell_to_install() -> None:
    """A skipped package's remedy names packages of the build line: following it gives what
    the README promised, and the line has every package of the table that explains it."""
    from wasix_backend import hosttools, rust
    from wasix_backend.toolchain.sysroot import INSTALL_HINT

    build, tests = apt_lines()
    programs = ["gcc", "make", "patch", "git", "autoreconf", "autoconf", "automake", "libtoolize", "autopoint", "tclsh"]
    wanted = {hosttools.DEBIAN_PACKAGES[p] for p in programs} | set(rust.DEBIAN_PACKAGES.split())
    wanted |= set(INSTALL_HINT.split()[2:])
    assert wanted <= set(build), wanted - set(build)
    assert "cmake" not in build + tests  # it comes from PyPI with wasix-backend
    table = setup_section().split("| Debian packages |", 1)[1]
    for package in build:
        assert package.startswith("librust-") or re.search(rf"[` ]{re.escape(package)}[` ]", table), package


def test_ci_installs_exactly_the_readme_lines_and_has_no_list_of_its_own() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    code = [line for line in ci.splitlines() if not line.lstrip().startswith("#")]
    installs = [line for line in code if re.match(r"\s*(sudo\s+)?apt-get\s+satisfy\b", line)]
    assert installs, ".ci/run installs nothing"
    for line in installs:  # options and the README's packages, nothing else
        words = re.split(r"apt-get\s+satisfy", line, maxsplit=1)[1].split()
        assert all(w.startswith(("-", ">")) or w in ("$packages", "\\") for w in words), line
    every = {p for line in apt_lines() for p in line} - {"grep", "make", "bash"}  # also commands it runs
    named = {w for line in code for w in re.findall(r"[A-Za-z0-9+.-]+", line)} & every
    assert named == set(), f".ci/run names packages itself: {sorted(named)}"
    # Its own extraction, run on the README, gives exactly the two lines.
    extract = next(line for line in code if line.startswith("packages="))
    done = subprocess.run(["bash", "-c", f'{extract}\nprintf "%s\\n" "$packages"'], cwd=REPO,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert [line.split() for line in done.stdout.splitlines()] == apt_lines()
    assert re.search(r"^\s*apt-get satisfy [^\n]*\$packages\b", ci, re.M)


def _newcomer_env(home: Path, tools: Path, **extra: str) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": str(tools), "LANG": "C.UTF-8", **extra}
    # The machine's pip and proxy settings are its configuration, not the user's caches.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower().endswith("_proxy")})
    mirror = os.environ.get("WASIX_MIRROR") or str(REPO.parent / "shared" / "mirror")
    if Path(mirror).is_dir():
        env["WASIX_MIRROR"] = mirror
    return env


def _fresh_clone_and_home(tmp_path: Path) -> tuple[Path, Path]:
    """A clone of this checkout's HEAD and an empty HOME whose only cache is the user's
    verified downloads (saves fetching, changes nothing: every file is checked by sha256)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    home = tmp_path / "home"
    cache = home / ".cache" / "wasix-backend"
    cache.mkdir(parents=True)
    shared = paths.sources_dir()
    shared.mkdir(parents=True, exist_ok=True)
    (cache / "sources").symlink_to(shared)
    return clone, home


def _run_readme_build(clone: Path, env: dict[str, str], timeout: int) -> str:
    done = subprocess.run(
        ["bash", "-c", setup_commands()["build"]], cwd=clone, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    return output


def summary_tables(output: str) -> list[dict[str, str]]:
    """Each summary table of ``output`` (build, wasmer, wheel): package -> status."""
    tables: list[dict[str, str]] = []
    for line in output.splitlines():
        if line.split()[:3] == ["package", "version", "status"]:
            tables.append({})
        row = re.match(r"(\S+)\s+\S+\s+(built|cached|pulled|skipped|failed)\s", line)
        if row and tables:
            tables[-1][row.group(1)] = row.group(2)
    return tables


def _seed_sysroot(store: Path, sysroot: Path) -> None:
    """Put the session's wasix-libc entry into ``store`` unless it is there: a store entry is
    named by its key (content-addressed), so the same entry under another store is the same
    sysroot, and the README's command finds it instead of building it a second time."""
    target = store / sysroot.name
    if target.exists():
        return
    staging = store / "tmp" / f"seed-{os.getpid()}-{sysroot.name}"
    shutil.copytree(sysroot, staging, symlinks=True)
    try:
        os.rename(staging, target)  # whole or not at all, as the store commits entries
    except OSError:  # another worker put it there first
        shutil.rmtree(staging, ignore_errors=True)


#: What the newcomer's machine lacks besides Rust: autoreconf (jq, make regenerate configure)
#: and a system CMake (it comes from PyPI with wasix-backend).
NOT_INSTALLED = {"autoreconf", "cmake", "cmake3", "ctest", "cpack"}


#: The packages that need what the newcomer lacks, or depend on one that does.
NEEDS_MISSING = {"ripgrep", "sd", "crabsay", "jq", "make", "shell-tools"}


def _store_without(store: Path, shared: Path, leave_out: set[str]) -> None:
    """Give ``store`` every finished entry of ``shared`` but those of ``leave_out``, as hard
    links (a committed entry is never written again; a copy where links cannot be made)."""
    import json

    store.mkdir(parents=True, exist_ok=True)
    for entry in shared.iterdir():
        record = entry / ".wasix-build.json"
        if not record.is_file() or json.loads(record.read_text()).get("name") in leave_out:
            continue
        try:
            shutil.copytree(entry, store / entry.name, symlinks=True, copy_function=os.link)
        except OSError:  # another file system
            shutil.rmtree(store / entry.name, ignore_errors=True)
            shutil.copytree(entry, store / entry.name, symlinks=True)


@pytest.mark.collection
def test_readme_build_command_builds_everything_but_what_is_missing_and_says_how(
    tmp_path: Path, provider_store, provider_env, wasix_sysroot: Path
) -> None:
    """The README's build command, verbatim, in a fresh clone with a fresh HOME on a machine
    with the README's compiler but without Rust, autoreconf or a system CMake. It exits 0;
    each package that needs what is missing is skipped with its reason and the install
    command, oniguruma builds with PyPI's CMake, everything else builds.

    Its store holds what the session's store of the wasix provider has (built there first,
    where missing, as the collection's tests would) except the packages that need what is
    missing, so those are tried and skipped, and nothing is compiled twice.
    """
    import contextlib
    import io

    from wasix_backend.cli import main
    from wasix_backend.plugins import load_plugins

    shared = provider_store("wasix")
    others = sorted(set(load_plugins([], entry_points=False).recipes) - NEEDS_MISSING - {"wasix-libc"})
    with pytest.MonkeyPatch.context() as mp:
        for key, value in provider_env("wasix").items():
            mp.setenv(key, value)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["build", *others, "--keep-going", "--store", str(shared), "--out", str(tmp_path / "prefill")]) == 0
    clone, home = _fresh_clone_and_home(tmp_path)
    store = tmp_path / "store"
    _store_without(store, shared, NEEDS_MISSING)
    _seed_sysroot(store, wasix_sysroot)
    tools = tools_without_rust(tmp_path / "tools", ["/usr/local/bin", "/usr/bin", "/bin"], hidden=NOT_INSTALLED)
    assert not any((tools / t).exists() for t in ("rustc", "cargo", "autoreconf", "cmake"))
    assert (tools / "python3").resolve() == Path("/usr/bin/python3").resolve()

    output = _run_readme_build(clone, _newcomer_env(home, tools, WASIX_STORE=str(store), WASIX_HOST_PATH=str(tools)), timeout=2 * 3600)
    build, *outputs = summary_tables(output)
    skipped = NEEDS_MISSING
    assert {n for n, s in build.items() if s == "skipped"} == skipped, output[-8000:]
    assert all(s in {"built", "cached"} for n, s in build.items() if n not in skipped), build
    assert build["oniguruma"] in {"built", "cached"}  # CMake from PyPI
    assert "wasix-libc" in build
    for table in outputs:  # the Wasmer packages and wheels: the same skips, nothing failed
        assert "failed" not in table.values() and {n for n, s in table.items() if s == "skipped"} <= skipped
    # The reasons, and how to get what is missing: the README's build line has it all.
    assert "skipped: ripgrep: rust-toolchain=system: not usable: no rustc on PATH" in output
    assert "skipped: jq: regenerating configure (autoreconf) needs autoreconf, which is not on PATH" in output
    assert "skipped: shell-tools: not built because its dependency 'make' was skipped" in output
    hints = dict(re.findall(r"^to build ([^:]+): (.*)$", output, re.M))
    by_package = {name: how for names, how in hints.items() for name in names.split(", ")}
    rust_line = "on Debian/Ubuntu `apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14` (wasm32-wasi, offline)"
    assert by_package["ripgrep"] == by_package["sd"] == rust_line and by_package["crabsay"].startswith(rust_line)
    for name in ("jq", "make", "shell-tools"):
        assert by_package[name] == "on Debian/Ubuntu `apt-get install autoconf`"
    dist = clone / "dist"
    for program in ("nano", "bash", "sqlite3", "git"):
        assert (dist / "bin" / f"{program}.wasm").is_file(), program
    assert not list(dist.rglob("*ripgrep*")) and not list(dist.rglob("wasix_jq*"))
    assert (dist / "simple" / "wasix-nano" / "index.html").is_file()
