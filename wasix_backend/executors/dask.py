"""``--executor dask://HOST:PORT``: every package one Dask task, its build dependencies the
task's dependencies (Dask's futures carry the graph; there is no scheduler of ours).

Workers build into their own stores and meet through the shared binary cache (the first
``--substituter``): a task pulls what its package needs from it and pushes its result to it;
the client then pulls the finished entries and writes ``dist/`` as a local build would. A
worker that dies mid-build loses only its staging tree (never committed, never pushed); Dask
runs the task again on another worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BuildError, MissingRequirement, WasixError
from .dask_task import TaskSpec, build_task

if TYPE_CHECKING:
    from ..engine import BuildFailure, BuildResult, Engine
    from ..session import Session


def scheduler_address(executor: str) -> str:
    """``tcp://HOST:PORT`` of ``dask://HOST:PORT``, or one :class:`WasixError` saying what is
    wrong with it (never a ValueError from deep inside Dask)."""
    import re
    from urllib.parse import urlsplit

    rest = executor.removeprefix("dask://")
    usage = f"--executor {executor!r}: expected dask://HOST:PORT (a Dask scheduler, e.g. dask://127.0.0.1:8786)"
    if not rest or any(c in rest for c in "/?#@ \\") or not rest.isprintable():
        raise WasixError(usage)
    try:
        parts = urlsplit("tcp://" + rest)
        port = parts.port
    except ValueError as exc:
        raise WasixError(f"{usage}: {exc}") from None
    host = parts.hostname or ""
    if port is None or not 0 < port < 65536:
        raise WasixError(f"{usage}: no port")
    bracketed = rest.startswith("[")
    if not host or not (bracketed or re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", host)):
        raise WasixError(f"{usage}: {host!r} is not a host name or address")
    return f"tcp://{'[' + host + ']' if bracketed else host}:{port}"


def _client(address: str):  # type: ignore[no-untyped-def]
    target = scheduler_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise WasixError("--executor dask needs Dask's `distributed`: pip install 'wasix-backend[dask]'") from None
    try:
        return Client(target, timeout=float(os.environ.get("WASIX_DASK_TIMEOUT", "20")))
    except (OSError, TimeoutError) as exc:
        raise WasixError(f"cannot reach the Dask scheduler at {target}: {exc} "
                         "(start one with `dask scheduler` and workers with `dask worker HOST:8786`)") from None


def build_on_dask(session: Session, targets: list[str],
                  address: str) -> tuple[dict[str, BuildResult], list[BuildFailure]]:
    """Build ``targets`` on the cluster at ``address`` with the session's plugins, provider
    and caches; each worker assembles the same session from a :class:`TaskSpec`."""
    from ..substitute import load_secret_key

    options = session.options
    engine = session.engine()
    if not options.substituters or engine.substituter is None:
        raise WasixError("--executor dask needs a binary cache every worker can reach: pass --substituter URL "
                         "(file:// on a shared file system, http(s):// accepting PUT, or s3://)")
    secret = os.environ.get("WASIX_SIGNING_KEY")
    load_secret_key(None)  # fail here, not on every worker, when there is none
    order, keys, problems = engine.plan(targets)
    failures = [engine.failure(n, exc) for n, exc in problems.items()]
    recipes = engine.plugins.recipes
    public = _public_keys()
    spec_args = {
        "plugin_dirs": tuple(str(Path(p).absolute()) for p in options.plugin_dirs),
        "provider": options.provider, "caches": options.substituters, "trusted": public,
        "signing_key": str(Path(secret).absolute()) if secret else None, "strict": options.strict,
    }
    client = _client(address)
    try:
        futures: dict[str, Any] = {}
        for name in order:
            if name not in keys:
                continue
            spec = TaskSpec(name=name, key=keys[name], **spec_args)  # type: ignore[arg-type]
            deps = [futures[d.name] for d in recipes[name].deps if d.name in futures]
            futures[name] = client.submit(build_task, spec, *deps, key=f"wasix-build-{name}-{keys[name][:16]}",
                                          pure=False, retries=2)
        outcomes = _gather(engine, client, futures)
    finally:
        client.close()
    return _collect(engine, order, keys, outcomes, failures)


def _public_keys() -> tuple[str, ...]:
    """The client's trusted keys, handed to the workers (public, not secret)."""
    import base64

    from ..substitute import trusted_keys

    return tuple(f"{n}:{base64.b64encode(k).decode()}" for n, k in trusted_keys().items())


def _gather(engine: Engine, client: Any, futures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from distributed import as_completed

    by_future = {f.key: n for n, f in futures.items()}
    outcomes: dict[str, dict[str, Any]] = {}
    for fut in as_completed(list(futures.values())):
        name = by_future[fut.key]
        try:
            outcome = fut.result()
        except Exception as exc:  # the task itself died (a worker lost too often): Dask says why
            outcome = {"name": name, "ok": False, "phase": "dask", "worker": "?", "error": f"{type(exc).__name__}: {exc}"}
        outcomes[name] = outcome
        recipe = engine.plugins.recipes[name]
        if outcome.get("ok"):
            engine.console.print(f"[green]✓[/] {name} {recipe.version} {outcome['status']} on {outcome['worker']} "
                                 f"in {outcome.get('seconds', 0):.1f}s")
        elif "blocked_by" not in outcome:
            engine.console.print(f"[red]✗[/] {name} {recipe.version} failed on {outcome.get('worker')}")
    return outcomes


def _collect(engine: Engine, order: list[str], keys: dict[str, str], outcomes: dict[str, dict[str, Any]],
             failures: list[BuildFailure]) -> tuple[dict[str, BuildResult], list[BuildFailure]]:
    """Pull what the workers finished into the local store; failures with their logs."""
    results: dict[str, BuildResult] = {}
    recipes = engine.plugins.recipes
    assert engine.substituter is not None
    for name in order:
        if name not in keys:
            if not any(f.name == name for f in failures):
                failures.append(engine.failure(name, WasixError(f"{name}: not built because a dependency cannot be planned")))
            continue
        outcome, recipe = outcomes.get(name, {}), recipes[name]
        if outcome.get("ok"):
            key = keys[name]
            with engine.store.locked(key):
                path = engine.store.lookup(recipe, key) or engine.substituter.pull(recipe, key, engine.store, engine.console.print)
            if path is None:
                failures.append(engine.failure(name, WasixError(
                    f"{name}: built on {outcome['worker']}, but its entry cannot be pulled from {outcome.get('cache', 'the cache')} (see above)")))
                continue
            from ..engine import BuildResult

            status = outcome["status"]
            results[name] = BuildResult(name, recipe.version, key, path, status == "cached", outcome.get("seconds", 0.0),
                                        0.0, outcome.get("sizes", {}), pulled=status == "pulled",
                                        notes=[str(n) for n in engine.store.record(path).get("notes", [])])
        elif "blocked_by" in outcome:
            failures.append(engine.failure(name, WasixError(
                f"{name}: not built because its dependency {outcome['blocked_by']!r} failed")))
        else:
            failures.append(engine.failure(name, _error(engine, name, keys[name], outcome)))
    return results, failures


def _error(engine: Engine, name: str, key: str, outcome: dict[str, Any]) -> WasixError:
    """The worker's failure, its log copied into the local store's log folder."""
    worker, phase = outcome.get("worker", "?"), outcome.get("phase") or "build"
    first = str(outcome.get("error", "failed")).splitlines()[0]
    first = first.removeprefix(f"{name}: ").removeprefix(f"{phase} failed: ")
    message = f"{first} (on Dask worker {worker}"
    if outcome.get("log"):
        message += f", whose log is {outcome['log']}"
    message += ")"
    if outcome.get("skipped"):
        return MissingRequirement(message, how=outcome.get("how", ""), reason=message.splitlines()[0])
    local_log = None
    if outcome.get("log_text"):
        recipe = engine.plugins.recipes[name]
        log_dir = engine.store.log_dir(recipe, key)
        log_dir.mkdir(parents=True, exist_ok=True)
        local_log = log_dir / f"{outcome.get('phase') or 'worker'}.worker.log"
        local_log.write_text(outcome["log_text"])
    tail = "\n".join(outcome.get("log_text", "").splitlines()[-15:])
    return BuildError(name, phase, message, local_log, tail)
