"""Developer sessions: ``nox -s build`` builds every package, ``nox -s tests`` runs the tests."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def build(session: nox.Session) -> None:
    """Build every package: dist/bin/*.wasm, dist/pkg/*/ + *.webc, dist/wheels/*.whl, dist/simple/."""
    session.install("-e", ".")
    extra = session.posargs or ["--all"]
    session.run("wasix-build", "build", *extra)
    session.run("wasix-build", "wasmer", *extra)
    session.run("wasix-build", "wheel", *extra)
    session.run("wasix-build", "index")


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
