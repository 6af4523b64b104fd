"""Shared fixtures, the suite's tiers and its stores.

Tiers (markers registered in pyproject.toml; README, Development):

* unmarked — the **unit** tier: seconds, no compiler, no sysroot build. Its tests run with a
  fake LLVM (:func:`fake_toolchain`: a clang that names its version and refuses to compile,
  and an empty sysroot), so a build one of them starts never builds wasix-libc, and one that
  compiles fails saying to mark it ``build``;
* ``build`` — real small builds: a compiler, small generated projects, ncurses and nano, the
  wasix-libc sysroot (built on first use into the user's store, once per machine);
* ``collection`` — the collection's packages and their ``cases.toml``, and the big
  venv/wheel tests.

Both ``build`` and ``collection`` tests are also ``slow``: ``-m "not slow"`` is the unit tier.

Stores: packages of the collection (nano, bash …) are built into one persistent,
content-addressed test store per provider (:func:`stores_root`: ``$WASIX_TEST_STORES``, else
``<user cache>/wasix-backend/test-stores``), so an unchanged package is built once per machine,
whatever the checkout; ``--cold-store`` gives the session a fresh empty one (the sysroot stays
in the user's store). Per-key locks make it safe for xdist workers and concurrent sessions; no
test cleans, collects or damages it (those use private stores). Tests that exercise the store
itself get a private one each (the ``store`` fixture), and so do the tests that prove a cold
build. Caches that never change results (zig's compiler-rt, the launcher's library, downloaded
sources) stay in the user cache across runs.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
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
#: The providers behaviour tests that compile run on: one since the zig provider was retired
#: (the PyPI-only route is the wasix provider on ziglang's LLVM, tests/test_zig_llvm.py).
PROVIDERS = ("wasix",)
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
    from wasix_backend.toolchain.sysroot import no_llvm_reason, pypi_llvm, system_llvm

    # Without a system clang the wasix provider takes ziglang's (PyPI): the same tests run.
    if system_llvm() is None and pypi_llvm() is None:
        return no_llvm_reason()
    return None


# ------------------------------------------------------------------------------- tiers ---
TIERS = ("build", "collection")
#: Fixtures that compile (a provider's toolchain, the sysroot): no unit test may use them.
COMPILING_FIXTURES = frozenset({"provider", "provider_env", "provider_store", "wasix_sysroot", "built_nano"})
#: Fixtures that build the collection's packages: the collection tier's.
COLLECTION_FIXTURES = frozenset({"collection_modules"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cold-store", action="store_true", default=False,
        help="build packages into a fresh, empty test store in this session's temp directory instead of the "
             "persistent one ($WASIX_TEST_STORES, else <user cache>/wasix-backend/test-stores)",
    )  # fmt: skip


def tier(item: pytest.Item) -> str | None:
    """``build``, ``collection``, or ``None`` for the unit tier."""
    marked = [name for name in TIERS if item.get_closest_marker(name)]
    return marked[0] if marked else None


@pytest.hookimpl(tryfirst=True)  # before -m deselects: `slow` must be on the items by then
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test is in one tier; ``build`` and ``collection`` tests are also ``slow``. A test
    that breaks the rules fails (at its setup, before any fixture), saying what to mark."""
    for item in items:
        marked = [name for name in TIERS if item.get_closest_marker(name)]
        fixtures = set(getattr(item, "fixturenames", ()))
        problem = None
        if len(marked) > 1:
            problem = f"marked {' and '.join(marked)}; a test is in one tier"
        elif not marked and item.get_closest_marker("slow"):
            problem = "marked slow; mark it build or collection (slow follows from them)"
        elif not marked and fixtures & (COMPILING_FIXTURES | COLLECTION_FIXTURES):
            used = ", ".join(sorted(fixtures & (COMPILING_FIXTURES | COLLECTION_FIXTURES)))
            problem = f"a unit test using {used}; mark it build (or collection)"
        elif marked == ["build"] and fixtures & COLLECTION_FIXTURES:
            problem = f"uses {', '.join(sorted(fixtures & COLLECTION_FIXTURES))}; mark it collection"
        if problem:
            item.stash[_TIER_PROBLEM] = problem
        if marked:
            item.add_marker(pytest.mark.slow)


_TIER_PROBLEM = pytest.StashKey[str]()


#: The environment as the session started (tests move $WASIX_STORE and others to private ones).
_START_ENV = dict(os.environ)
_ENV_KEY = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The toolchain each tier sees, set before the test's fixtures: the unit tier gets the
    fake one; the others get the real wasix-libc sysroot, built on the first such test."""
    mp = item.stash[_ENV_KEY] = pytest.MonkeyPatch()
    problem = item.stash.get(_TIER_PROBLEM, None)
    if problem:
        pytest.fail(f"tests/conftest.py, tiers: {problem}", pytrace=False)
    if tier(item) is None:
        fake = fake_toolchain()
        mp.setenv("WASIXCC_LLVM_LOCATION", str(fake / "llvm"))
        mp.setenv("WASIXCC_SYSROOT", str(fake / "sysroot"))
        # zig cannot compile without its lib directory; its error names this one.
        mp.setenv("ZIG_LIB_DIR", str(fake / "no-zig-lib--the-unit-tier-compiles-nothing"))
        mp.delenv("WASIX_PROVIDER", raising=False)  # auto: the fake wasix toolchain, on every machine
        mp.delenv("WASIXCC_PROVIDER", raising=False)
    elif not _START_ENV.get("WASIXCC_SYSROOT") and provider_problem("wasix") is None:
        # Builds that do not name a provider get the default (auto: wasix where a suitable clang
        # exists) without each private test store building its own sysroot.
        mp.setenv("WASIXCC_SYSROOT", str(real_sysroot()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    try:
        return (yield)  # the fixtures that end with this test see its environment
    finally:
        mp = item.stash.get(_ENV_KEY, None)
        if mp is not None:
            mp.undo()


# The unit tier's LLVM: answers --version as a suitable clang 19 (so the wasix provider is
# chosen on every machine, clang installed or not) and fails any real use, naming the fix.
_FAKE_TOOL = """\
#!/bin/sh
# The unit tier's {tool} (tests/conftest.py): it names its version and compiles nothing.
for arg in "$@"; do
  if [ "$arg" = --version ]; then echo "{version}"; exit 0; fi
done
echo "unit tier: a test ran {tool} $*; mark it build (tests/conftest.py)" >&2
exit 1
"""
_FAKE_VERSIONS = {
    "clang": "clang version 19.1.7 (fake: the unit tier compiles nothing)",
    "clang++": "clang version 19.1.7 (fake: the unit tier compiles nothing)",
    "wasm-ld": "LLD 19.1.7 (fake: the unit tier links nothing)",
    "llvm-ar": "LLVM version 19.1.7 (fake)",
    "llvm-nm": "LLVM version 19.1.7 (fake)",
    "llvm-ranlib": "LLVM version 19.1.7 (fake)",
}


def fake_toolchain() -> Path:
    """``llvm/`` and ``sysroot/`` of the unit tier's toolchain, made once per machine under the
    user cache at a path named by its content (tool versions are remembered by path)."""
    from wasix_backend.paths import cache_root

    files = {f"llvm/bin/{tool}": _FAKE_TOOL.format(tool=tool, version=v) for tool, v in _FAKE_VERSIONS.items()}
    files["llvm/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a"] = "!<arch>\n"
    files["sysroot/include/.keep"] = files["sysroot/lib/wasm32-wasi/.keep"] = ""
    tag = hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest()[:16]
    root = Path(_START_ENV.get("WASIX_CACHE") or cache_root()).absolute() / "test-toolchain" / tag
    if not root.is_dir():
        import tempfile

        root.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=root.parent, prefix=".staged-"))
        for rel, text in files.items():
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            (staged / rel).write_text(text)
            if "/bin/" in rel:
                (staged / rel).chmod(0o755)
        try:
            staged.rename(root)
        except OSError:  # another process made it first: the same content
            import shutil

            shutil.rmtree(staged, ignore_errors=True)
    return root


# -------------------------------------------------------------------------- the stores ---
def stores_root(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory | None = None) -> Path | None:
    """Where the per-provider test stores live: ``$WASIX_TEST_STORES``, else
    ``<user cache>/wasix-backend/test-stores``; with ``--cold-store``, a fresh directory in the
    session's temp directory (``None`` without ``tmp_path_factory``)."""
    if config.getoption("cold_store"):
        if tmp_path_factory is None:
            return None
        base = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # one for all xdist workers, not one each
            base = base.parent
        return base / "test-stores"
    from wasix_backend.paths import cache_root

    return Path(_START_ENV.get("WASIX_TEST_STORES") or cache_root() / "test-stores").absolute()


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Whether this session starts warm: the test store's entries, and the sysroot."""
    from wasix_backend.store import Store

    root = stores_root(config)
    if root is None:
        lines = ["test store: a fresh one in this session's temp directory (--cold-store): cold"]
    else:
        counts = {p: len(Store(root / p).entries()) for p in PROVIDERS}
        warm = ", ".join(f"{p} {n} entries" for p, n in counts.items() if n)
        lines = [f"test store: {root} ({f'warm: {warm}' if warm else 'cold'})"]
    problem = provider_problem("wasix")
    if problem:
        lines.append(f"wasix-libc sysroot: none (wasix provider unavailable: {problem})")
    elif _START_ENV.get("WASIXCC_SYSROOT"):
        lines.append(f"wasix-libc sysroot: {_START_ENV['WASIXCC_SYSROOT']} ($WASIXCC_SYSROOT)")
    else:
        from wasix_backend.toolchain.sysroot import find_sysroot

        try:
            found = find_sysroot(Store(_user_store()))
        except Exception as exc:  # the header never stops the session
            found, problem = None, str(exc).splitlines()[0]
        lines.append(f"wasix-libc sysroot: {found}" if found else
                     f"wasix-libc sysroot: not built yet{f' ({problem})' if problem else ''}; the first build-tier test builds it")  # fmt: skip
    return lines


@pytest.fixture(scope="session")
def provider_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """``provider_store(name)``: the test store of a provider, shared by every test that builds
    the collection's packages (content-addressed and locked: sharing is safe), kept across
    sessions and checkouts unless ``--cold-store``."""
    root = stores_root(request.config, tmp_path_factory)
    assert root is not None

    def get(provider: str) -> Path:
        return root / provider

    return get


def _user_store() -> Path:
    from wasix_backend.paths import store_dir

    return Path(_START_ENV.get("WASIX_STORE") or store_dir()).absolute()


_SYSROOT: Path | Exception | None = None


def real_sysroot() -> Path:
    """The wasix-libc sysroot, built by the engine from its pinned source into the user's
    store — once per machine: it never changes results.
    Concurrent workers and sessions wait on the store's lock for one build."""
    global _SYSROOT
    if _SYSROOT is None:
        from wasix_backend.store import Store
        from wasix_backend.toolchain.sysroot import ensure_sysroot

        try:
            _SYSROOT = ensure_sysroot(Store(_user_store()))
        except Exception as exc:
            _SYSROOT = exc
    if isinstance(_SYSROOT, Exception):
        raise RuntimeError(f"the wasix-libc sysroot did not build: {_SYSROOT}") from _SYSROOT
    return _SYSROOT


@pytest.fixture(scope="session")
def wasix_sysroot() -> Path:
    """The real wasix-libc sysroot (see :func:`real_sysroot`); skips where the wasix provider
    cannot run."""
    problem = provider_problem("wasix")
    if problem:
        pytest.skip(reason=f"wasix provider unavailable: {problem}")
    return real_sysroot()


@pytest.fixture(scope="session", params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    """Each provider in turn (a session parameter, so its builds are shared)."""
    problem = provider_problem(request.param)
    if problem:
        pytest.skip(reason=f"{request.param} provider unavailable: {problem}")
    if request.param == "wasix":
        request.getfixturevalue("wasix_sysroot")
    return request.param


@pytest.fixture(scope="session")
def provider_env(provider_store):
    """``provider_env(name)``: variables that make wasix-build and wasixcc use that provider
    and its test store (and, for wasix, the real sysroot)."""

    def get(provider: str) -> dict[str, str]:
        env = {"WASIX_PROVIDER": provider, "WASIXCC_PROVIDER": provider, "WASIX_STORE": str(provider_store(provider))}
        problem = provider_problem(provider)
        if problem:
            pytest.skip(reason=f"{provider} provider unavailable: {problem}")
        if provider == "wasix":
            env["WASIXCC_SYSROOT"] = _START_ENV.get("WASIXCC_SYSROOT") or str(real_sysroot())
        return env

    return get


@pytest.fixture(scope="session")
def built_nano(provider: str, provider_env, provider_store, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """ncurses and nano built with ``provider`` into its test store (once per machine while
    their keys hold; the session still asks the store, once)."""
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


@pytest.fixture(scope="session")
def runtime_wheelhouse(tmp_path_factory) -> Path:
    """wasmer-sdk's wheel, so the venv installs without an index (pip download: PyPI once)."""
    house = tmp_path_factory.mktemp("wheelhouse")
    local = list(Path(os.environ.get("WASIX_TEST_WHEELHOUSE", "/nonexistent")).glob("wasmer_sdk-*.whl"))
    if local:
        for w in local:
            (house / w.name).write_bytes(w.read_bytes())
        return house
    res = subprocess.run([sys.executable, "-m", "pip", "download", "--only-binary", ":all:",
                          "--no-deps", "-d", str(house), "wasmer-sdk>=0.5"], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(reason=f"cannot download wasmer-sdk for the test venv: {res.stderr[-300:]}")
    return house


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
