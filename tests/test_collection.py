"""Every plugin's cases.toml: each case run by the Debian binary and by the package's module
under Wasmer, compared (wasix_backend.difftest). One test id per case, ``NAME::case``.

Each package is built once per session (default wasix provider) into the shared provider
store; a package is skipped only when its native binary is missing here.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from wasix_backend.difftest import (
    Case,
    CasesError,
    check_natives,
    compare,
    discover,
    load_cases,
    native_builds,
    run_native,
    run_wasix,
    with_native_builds,
)

pytestmark = pytest.mark.collection

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def _params() -> list[object]:
    params: list[object] = []
    for path in discover(PLUGINS):
        try:
            cases = load_cases(path)
        except CasesError as exc:  # one failing test names the problem; the others still run
            params.append(pytest.param(exc, id=f"{path.parent.name}::cases.toml"))
            continue
        # One package's cases on one xdist worker (--dist loadgroup): each worker builds other packages.
        params.extend(pytest.param(case, id=case.id, marks=pytest.mark.xdist_group(case.plugin)) for case in cases)
    return params


#: Per package, what its sandbox holds (collection_modules builds it): guest path -> data.
_SANDBOX_DATA: dict[str, dict[str, bytes]] = {}


def build_json(name: str, dist: Path, env: dict[str, str]) -> tuple[int, dict[str, dict]]:
    """``wasix-build build NAME --json`` in this process with ``env`` set: its exit status and
    its summary, package name -> row (``store`` is the install prefix)."""
    from wasix_backend.cli import main

    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            status = main(["build", name, "--out", str(dist), "--json"])
    finally:
        mp.undo()
    return status, {p["name"]: p for p in json.loads(out.getvalue())["packages"]}


@pytest.fixture(scope="session")
def collection_modules(provider_env, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Path]]:
    """``collection_modules(NAME)``: command -> .wasm of the package, then of the packages whose
    commands it runs (``[dependencies] run``), built once per session; their data and sandbox
    scripts are in :data:`_SANDBOX_DATA` (the ``collection_data`` fixture)."""
    from conftest import provider_problem

    from wasix_backend.plugins import load_plugins
    from wasix_backend.rundeps import sandbox_of

    built: dict[str, dict[str, Path] | str] = {}

    def get(name: str) -> dict[str, Path]:
        if name not in built:
            problem = provider_problem("wasix")
            if problem:
                built[name] = f"wasix provider unavailable: {problem}"
            else:
                root = tmp_path_factory.mktemp(f"coll-{name}")
                status, summary = build_json(name, root / "dist", provider_env("wasix"))
                assert status == 0, f"{name} did not build: {summary.get(name)}"
                loaded = load_plugins(entry_points=False)
                prefixes = {n: Path(p["store"]) for n, p in summary.items() if p.get("store")}
                built[name], _SANDBOX_DATA[name] = sandbox_of(loaded.recipes, name, prefixes, loaded.registry)
        value = built[name]
        if isinstance(value, str):
            pytest.skip(reason=value)
        return value

    return get


@pytest.fixture(scope="session")
def collection_data(collection_modules) -> Callable[[str], dict[str, bytes]]:
    """``collection_data(NAME)``: guest path -> data of the package's sandbox (its ``[outputs]
    data`` and its runtime dependencies' data and sandbox scripts)."""

    def get(name: str) -> dict[str, bytes]:
        collection_modules(name)
        return _SANDBOX_DATA.get(name, {})

    return get


@pytest.fixture(scope="session")
def collection_natives(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Path]]:
    """``collection_natives(NAME)``: binary -> the package's own sources built for this machine
    (the native side of cases saying ``native = "build:BIN"``), built once per session."""
    from wasix_backend.errors import MissingRequirement
    from wasix_backend.nativebuild import native_build
    from wasix_backend.plugins import load_plugins

    built: dict[str, dict[str, Path] | str] = {}

    def get(name: str) -> dict[str, Path]:
        if name not in built:
            loaded = load_plugins(entry_points=False)
            try:
                built[name] = native_build(loaded.recipes[name], loaded, tmp_path_factory.mktemp(f"native-{name}"))
            except MissingRequirement as exc:
                built[name] = f"{name}: no native build here: {exc.reason}"
        value = built[name]
        if isinstance(value, str):
            pytest.skip(reason=value)
        return value

    return get


@pytest.mark.parametrize("case", _params())
def test_case(
    case: Case | CasesError,
    collection_modules: Callable[[str], dict[str, Path]],
    collection_data: Callable[[str], dict[str, bytes]],
    collection_natives: Callable[[str], dict[str, Path]],
) -> None:
    if isinstance(case, CasesError):
        pytest.fail(str(case), pytrace=False)
    if native_builds([case]):
        case = with_native_builds(case, collection_natives(case.plugin))
    missing = check_natives([case])
    if missing:
        pytest.skip(reason=f"{case.plugin}: {missing}")
    modules = collection_modules(case.plugin)
    problems = compare(case, run_native(case), run_wasix(case, modules, collection_data(case.plugin)))
    if case.xfail is not None:
        if problems:
            pytest.xfail(reason=case.xfail)
        pytest.fail(f"{case.id} passes but is marked xfail ({case.xfail!r}): remove the xfail", pytrace=False)
    assert not problems, f"{case.id}:\n" + "\n".join(problems)
