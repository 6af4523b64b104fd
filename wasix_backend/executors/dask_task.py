"""What one Dask worker does for one package: build it into the worker's own store, its
dependencies pulled from the shared binary cache, and push the result there.

Importable without ``distributed`` on the client side; it runs inside a worker process.
"""

from __future__ import annotations

import io
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import BuildError, MissingRequirement
from ..session import Session, SessionOptions
from ..substitute import load_secret_key, push_entries

#: The most of a failing phase's log that travels back to the client.
LOG_LIMIT = 256 * 1024


@dataclass(frozen=True)
class TaskSpec:
    name: str
    key: str  # the client's key: a worker whose toolchain computes another refuses
    plugin_dirs: tuple[str, ...]
    provider: str | None
    caches: tuple[str, ...]  # the first is the shared one results are pushed to
    trusted: tuple[str, ...]  # public keys, NAME:BASE64
    signing_key: str | None  # a path on the worker; its own $WASIX_SIGNING_KEY wins
    strict: bool = False
    jobs: int = 1
    env: dict[str, str] = field(default_factory=dict)


def worker_store() -> Path:
    """``$WASIX_WORKER_STORE`` on the worker (shared safely by a machine's workers), else a
    store in the worker's own scratch directory."""
    if os.environ.get("WASIX_WORKER_STORE"):
        return Path(os.environ["WASIX_WORKER_STORE"])
    from distributed import get_worker

    return Path(get_worker().local_directory) / "wasix-store"


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def build_task(spec: TaskSpec, *deps: dict[str, Any]) -> dict[str, Any]:
    """Returns a result dict (never raises for a build problem: the client reports it)."""
    worker = _worker_address()
    base = {"name": spec.name, "key": spec.key, "worker": worker}
    for dep in deps:
        if not dep.get("ok"):
            return {**base, "ok": False, "blocked_by": dep["name"]}
    out = io.StringIO()
    start = time.perf_counter()
    try:
        return {**base, **_build(spec, out), "output": out.getvalue(), "seconds": time.perf_counter() - start}
    except Exception as exc:  # anything else: still per package, with the traceback
        return {**base, "ok": False, "error": f"{type(exc).__name__}: {exc}", "output": out.getvalue(),
                "log_text": traceback.format_exc(), "phase": "engine"}


def _build(spec: TaskSpec, out: io.StringIO) -> dict[str, Any]:
    console = Console(file=out, highlight=False, width=120)
    options = SessionOptions(
        plugin_dirs=tuple(Path(p) for p in spec.plugin_dirs), store=worker_store(), provider=spec.provider,
        jobs=spec.jobs, strict=spec.strict, substituters=spec.caches, trusted_keys=spec.trusted, progress=False,
    )  # fmt: skip
    session = Session(options, console=console)
    engine, store, loaded = session.engine(), session.store, session.plugins
    results, failures = engine.build([spec.name])
    failure = next((f for f in failures if f.name == spec.name), None)
    if failure is not None:
        error = failure.error
        log = getattr(error, "log", None)
        log_text = ""
        if log is not None and Path(log).is_file():
            log_text = Path(log).read_text(errors="replace")[-LOG_LIMIT:]
        return {"ok": False, "error": str(error), "phase": getattr(error, "phase", ""), "log": str(log or ""),
                "log_text": log_text, "skipped": isinstance(error, MissingRequirement) and not spec.strict,
                "how": getattr(error, "how", ""), "build_error": isinstance(error, BuildError)}
    result = results[spec.name]
    if result.key != spec.key:
        return {"ok": False, "phase": "plan", "error": (
            f"this worker's key for {spec.name} is {result.key[:16]}…, the client's {spec.key[:16]}…: "
            "its toolchain or plugins differ (install the same wasix-backend, plugins and compilers on every worker)")}
    status = "pulled" if result.pulled else "cached" if result.cached else "built"
    if status != "pulled":  # a pulled entry is in the cache already
        key = load_secret_key(Path(spec.signing_key) if spec.signing_key and not os.environ.get("WASIX_SIGNING_KEY") else None)
        push_entries([(loaded.recipes[spec.name], result.key, result.path)], spec.caches[0], key, store, console.print)
    return {"ok": True, "status": status, "store": str(store.root), "sizes": result.sizes,
            "build_seconds": result.seconds}
