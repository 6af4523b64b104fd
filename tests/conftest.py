"""Shared fixtures: an isolated store per test, and small upstream projects made on the fly.

Caches that are slow to fill and never change results (zig's wasi-libc build, the compat
library, downloaded sources) stay in the user cache across runs; the build store, which is
what the tests exercise, is private to each test.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store"
    monkeypatch.setenv("WASIX_STORE", str(path))
    return path


def make_tarball(dest: Path, top: str, files: dict[str, str | bytes]) -> str:
    """Write ``dest`` (.tar.gz) holding ``top/<name>`` for each file; return its sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        for name, content in sorted(files.items()):
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(dest.read_bytes()).hexdigest()


def package_recipe(
    name: str, url: str, sha: str, *, system: str = "make", kind: str = "program", deps: str = "",
    build_extra: str = "", outputs: str | None = None,
) -> str:
    """A small recipe.toml for a generated package: one archive source, one build system."""
    if outputs is None:
        outputs = f'bin = ["{name}"]' if kind == "program" else 'lib = ["libgreet.a"]'
    return (
        f'[package]\nname = "{name}"\nversion = "1.0"\nkind = "{kind}"\n'
        f'description = "test package {name}"\nlicense = "MIT"\n\n'
        f'[[source]]\nurl = "{url}"\nsha256 = "{sha}"\n\n'
        f"[dependencies]\nbuild = [{deps}]\n\n"
        f'[build]\nsystem = "{system}"\n{build_extra}\n\n'
        f"[outputs]\n{outputs}\n"
    )


def write_plugin(root: Path, name: str, recipe: str, plugin_py: str | None = None, patches: dict[str, str] | None = None) -> Path:
    """A plugin folder: recipe.toml, optional plugin.py and patches/."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.toml").write_text(textwrap.dedent(recipe))
    if plugin_py is not None:
        (folder / "plugin.py").write_text(textwrap.dedent(plugin_py))
    for pname, text in (patches or {}).items():
        (folder / "patches").mkdir(exist_ok=True)
        (folder / "patches" / pname).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def wb():
    """``wasix-build`` in-process: ``wb("build", "x")`` returns the exit status."""
    from wasix_backend import cli

    return lambda *args: cli.main(list(args))


# ------------------------------------------------------------------ toolchain providers ---
#: Every behaviour test that compiles runs once per provider.
PROVIDERS = ("wasix", "zig")
_REPO = Path(__file__).resolve().parents[1]


def _default_mirror() -> None:
    # The shared source mirror next to the checkout (where CI and the helpers keep it).
    import os

    # ../shared/mirror of the checkout (or of the folder holding a worktree).
    for parent in _REPO.parents[:2]:
        mirror = parent / "shared" / "mirror"
        if not os.environ.get("WASIX_MIRROR") and mirror.is_dir():
            os.environ["WASIX_MIRROR"] = str(mirror)


_default_mirror()


def provider_problem(provider: str) -> str | None:
    """Why ``provider`` cannot run here (the reason a test skips), or ``None``."""
    if provider == "zig":
        try:
            import ziglang  # noqa: F401
        except ImportError:
            return "ziglang is not installed (pip install ziglang)"
        return None
    from wasix_backend.toolchain.sysroot import no_llvm_reason, system_llvm

    if system_llvm() is None:
        return no_llvm_reason()
    return None


@pytest.fixture(scope="session")
def provider_store(tmp_path_factory: pytest.TempPathFactory):
    """``provider_store(name)``: the one store per provider shared by every test of the session
    that builds real packages (content-addressed and locked: sharing is safe)."""
    import os

    # $WASIX_TEST_STORES keeps them across sessions (a developer's re-runs); CI starts empty.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one set for all xdist workers, not one each
        base = base.parent
    root = Path(os.environ.get("WASIX_TEST_STORES") or base / "provider-stores")

    def get(provider: str) -> Path:
        return root / provider

    return get


@pytest.fixture(scope="session")
def wasix_sysroot() -> Path:
    """The wasix-libc sysroot, built by the engine from its pinned source into the user's
    store — once per machine, like zig's wasi-libc in zig's cache: it never changes results."""
    problem = provider_problem("wasix")
    if problem:
        pytest.skip(f"wasix provider unavailable: {problem}")
    from wasix_backend.paths import store_dir
    from wasix_backend.store import Store
    from wasix_backend.toolchain.sysroot import ensure_sysroot

    return ensure_sysroot(Store(_USER_STORE or store_dir()))


#: The user's store as the session started (tests move $WASIX_STORE to private ones).
_USER_STORE: Path | None = None


@pytest.fixture(scope="session", autouse=True)
def _session_sysroot(request: pytest.FixtureRequest) -> None:
    """Builds that do not name a provider get the default (auto: wasix where a suitable
    clang exists) without each private test store building its own sysroot."""
    import os

    global _USER_STORE
    from wasix_backend.paths import store_dir

    _USER_STORE = store_dir()
    if provider_problem("wasix") is None and not os.environ.get("WASIXCC_SYSROOT"):
        os.environ["WASIXCC_SYSROOT"] = str(request.getfixturevalue("wasix_sysroot"))


@pytest.fixture(scope="session", params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    """Each provider in turn (a session parameter, so its builds are shared)."""
    problem = provider_problem(request.param)
    if problem:
        pytest.skip(f"{request.param} provider unavailable: {problem}")
    if request.param == "wasix":
        request.getfixturevalue("wasix_sysroot")
    return request.param


@pytest.fixture(scope="session")
def provider_env(provider_store):
    """``provider_env(name)``: variables that make wasix-build and wasixcc use that provider
    and its session store (and, for wasix, the session's sysroot)."""

    def get(provider: str) -> dict[str, str]:
        env = {"WASIX_PROVIDER": provider, "WASIXCC_PROVIDER": provider, "WASIX_STORE": str(provider_store(provider))}
        if provider == "wasix":
            import os

            env["WASIXCC_SYSROOT"] = os.environ["WASIXCC_SYSROOT"]  # set by _session_sysroot
        return env

    return get


@pytest.fixture(scope="session")
def built_nano(provider: str, provider_env, provider_store, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """ncurses and nano built with ``provider`` into its session store, once per session."""
    import contextlib
    import json

    from wasix_backend.cli import main

    root = tmp_path_factory.mktemp(f"nano-{provider}")
    mp = pytest.MonkeyPatch()
    for key, value in provider_env(provider).items():
        mp.setenv(key, value)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = main(["build", "nano", "--out", str(root / "dist"), "--json"])
        assert status == 0
        summary = json.loads(out.getvalue())
    finally:
        mp.undo()
    packages = {p["name"]: p for p in summary["packages"]}
    return {
        "provider": provider,
        "root": root,
        "store": provider_store(provider),
        "nano": root / "dist" / "bin" / "nano.wasm",
        "ncurses": Path(packages["ncurses"]["store"]),
        "summary": packages,
    }


def venv_with_wheels(root: Path, names: list[str], build_env: dict[str, str], wheelhouse: Path) -> Path:
    """``wasix-build wheel NAMES`` (from the store ``build_env`` points at) into ``root/dist``,
    then ``pip install wasix-NAME…`` into a fresh venv ``root/venv``, with no index; its bin/."""
    import contextlib
    import venv

    from wasix_backend.cli import main

    mp = pytest.MonkeyPatch()
    for key, value in build_env.items():
        mp.setenv(key, value)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["wheel", *names, "--out", str(root / "dist")]) == 0
    finally:
        mp.undo()
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    res = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                          "--no-index", "--find-links", str(root / "dist" / "wheels"), "--find-links", str(wheelhouse),
                          *(f"wasix-{name}" for name in names)], capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return env_dir / "bin"
