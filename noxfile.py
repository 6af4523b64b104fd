"""Developer sessions: ``nox -s build`` builds every package, ``nox -s tests`` runs the tests."""

from __future__ import annotations

import nox
from nox.command import CommandFailed

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def build(session: nox.Session) -> None:
    """Build every package that can be built here: dist/bin/*.wasm, dist/pkg/*/ + *.webc,
    dist/wheels/*.whl, then the index dist/simple/.

    A package whose requirements are missing on this machine (no Rust for WASI, sources
    unreachable) is skipped, and each step's table says how to get what is missing; each
    step goes on past a package that fails (--keep-going). The session fails at the end
    when something *failed*; skips alone do not fail it (``nox -s build -- --all --strict``
    makes them). Arguments after ``--`` replace ``--all`` (e.g. ``-- nano``).
    """
    session.install("-e", ".")
    args = session.posargs or ["--all"]
    failed: list[str] = []
    for step in ("build", "wasmer", "wheel"):
        try:
            session.run("wasix-build", step, *args, "--keep-going")
        except CommandFailed:  # go on: the other packages' outputs and the index still matter
            failed.append(step)
    session.run("wasix-build", "index")
    if failed:
        session.error(f"`wasix-build {' / '.join(failed)}`: some packages failed (see the tables above)")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (real compiler, real Wasmer runtime, real pip).

    Arguments after ``--`` are added to the defaults (a later ``-n 0`` wins over ``-n 2``):
    ``nox -s tests -- -m "not slow"`` runs the unit tier on two workers. pytest's header says
    whether the test store was warm (tests/conftest.py); ``--durations=30`` ends the run
    with its 30 slowest tests, where CI's time went.
    """
    session.install("-e", ".[test]")
    # Two workers: while one runs a configure script (one core), the other keeps the second busy.
    session.run("pytest", "-ra", "-n", "2", "--dist", "loadgroup", "--durations=30", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    # The package itself too, with the extras its optional modules import (binary caches over
    # HTTP, the Dask executor): mypy checks its code against its dependencies' types.
    session.install("-e", ".[lint,http,dask]")
    session.run("ruff", "check", ".")
    session.run("mypy", "wasix_backend")
    # The direction of imports between layers ([tool.importlinter] in pyproject.toml).
    session.run("lint-imports", "--no-cache")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): writes benchmarks/results.json and prints a table."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
