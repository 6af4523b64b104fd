"""Developer sessions: ``nox -s build`` builds every package, ``nox -s tests`` runs the tests."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def build(session: nox.Session) -> None:
    """Build every package: dist/bin/*.wasm, dist/pkg/*/ + *.webc, dist/wheels/*.whl, dist/simple/.

    Each step keeps going past a package that cannot be built (its error is printed), so
    everything that can be built is; the last step, a no-op when everything is in the store,
    fails the session if anything did not build.
    """
    session.install("-e", ".")
    targets = session.posargs or ["--all"]
    for step in ("build", "wasmer", "wheel"):
        session.run("wasix-build", step, *targets, "--keep-going", success_codes=[0, 1])
    session.run("wasix-build", "index")
    session.run("wasix-build", "build", *targets)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (real compiler, real Wasmer runtime, real pip)."""
    session.install("-e", ".[test]")
    session.run("pytest", *(session.posargs or ["-ra"]))


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of the tests): writes benchmarks/results.json and prints a table."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
