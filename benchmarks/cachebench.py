"""Binary cache and Dask executor figures (registered in run.py as ``cache`` and ``dask``).

- cache: a second machine's cold ``build nano`` — an empty store, pulling ncurses and nano
  from a warm file:// binary cache — against compiling both in an empty store (and empty
  configure cache), interleaved pair by pair. Target: under 0.05x.
- dask: a generated graph of four packages in two chains (a1 <- a2, b1 <- b2), cold, on a
  Dask LocalCluster of two single-threaded worker processes (each its own store, meeting
  through a file:// cache) against the engine's own threads with -j2: the executor's cost.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from harness import BenchError, Row, Section, ratio_row, store_records

if TYPE_CHECKING:
    from run import Bench

CHAINS = {"dchain-a1": None, "dchain-a2": "dchain-a1", "dchain-b1": None, "dchain-b2": "dchain-b1"}


def _keys(b: Bench, where: Path) -> dict[str, str]:
    """A signing key made by ``wasix-build cache keygen``: env for pushing and trusting it."""
    public = b.wb("cache", "keygen", "bench", "--out", str(where)).stdout.strip()
    return {"WASIX_SIGNING_KEY": str(where / "bench.secret"), "WASIX_TRUSTED_KEYS": public,
            "WASIX_TRUSTED_KEYS_FILE": str(where / "none"), "WASIX_SUBSTITUTERS": None}


def measure_cache(b: Bench) -> Section:
    """Cold ``build nano``: pulled from a warm binary cache against compiled."""
    sec = Section("cache", "Binary cache: cold `build nano` pulled from a warm file:// cache vs compiled")
    if not b.nano_ok:
        sec.status = "not measured (nano did not build)"
        return sec
    env = _keys(b, b.scratch("keys"))
    cache = b.scratch("cache")
    b.wb("push", "nano", "--to", cache.as_uri(), env=env)  # from the warm default store
    pulls, compiles = [], []
    for i in range(b.cold_repeat):
        for mode in (("pull", "compile") if i % 2 == 0 else ("compile", "pull")):
            store, out, conf = b.scratch("store"), b.scratch("out"), b.scratch("confcache")
            extra = ["--substituter", cache.as_uri()] if mode == "pull" else []
            wall = b.wb("build", "nano", "-j2", "--store", str(store), "--out", str(out), *extra,
                        env={**env, "WASIX_CONFIGURE_CACHE": str(conf)}).seconds
            records = store_records(store)
            pulled = [r for r in records if "pulled" in r]
            if (mode == "pull") != (len(pulled) == 2):
                raise BenchError(f"{mode} run: expected {'2' if mode == 'pull' else 'no'} pulled entries, found {len(pulled)}")
            (pulls if mode == "pull" else compiles).append(wall)
            for d in (store, out, conf):
                shutil.rmtree(d, ignore_errors=True)
    size = sum(p.stat().st_size for p in cache.glob("*.tar.gz"))
    sec.rows += [
        Row("pull ncurses + nano (empty store, warm cache)", pulls, "s"),
        Row("compile ncurses + nano (empty store and configure cache)", compiles, "s"),
        ratio_row("pull / compile", pulls, compiles, target=0.05),
    ]
    sec.notes.append(f"cache: file:// on the same disk; archives {size / 1024:.0f} KiB in all; "
                     "each wall time includes wasix-build's start-up and writing dist/")
    return sec


def _chain_plugins(root: Path) -> Path:
    import synthetic

    plugins = synthetic.write_plugins(root, list(CHAINS), units=8)
    for name, dep in CHAINS.items():
        if dep:
            with open(plugins / name / "recipe.toml", "a") as fh:
                fh.write(f'\n[dependencies]\nbuild = ["{dep}"]\n')
    return plugins


def measure_dask(b: Bench) -> Section:
    """Four generated packages in two chains, cold: Dask with 2 workers vs -j2 threads."""
    sec = Section("dask", "Executor: `--executor dask` (LocalCluster, 2 workers) vs local threads, 4 packages in 2 chains")
    try:
        import distributed
    except ImportError:
        sec.status = "not measured (distributed is not installed: pip install 'wasix-backend[dask]')"
        return sec
    env = _keys(b, b.scratch("keys"))
    here = Path(__file__).resolve().parents[1]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")]))
    threads, dasks = [], []
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  local_directory=str(b.scratch("dask"))) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        for i in range(b.cold_repeat):
            for mode in (("dask", "threads") if i % 2 == 0 else ("threads", "dask")):
                root = b.scratch(f"chains-{mode}")
                plugins = _chain_plugins(root)  # a fresh nonce: new keys, nothing cached anywhere
                extra = ["--executor", address, "--substituter", (root / "cache").as_uri()] if mode == "dask" else []
                wall = b.wb("build", *CHAINS, "-j2", "--plugin-dir", str(plugins), "--store", str(root / "store"),
                            "--out", str(root / "out"), *extra, env=env).seconds
                (dasks if mode == "dask" else threads).append(wall)
                shutil.rmtree(root, ignore_errors=True)
    sec.rows += [
        Row("local threads, -j2", threads, "s"),
        Row("--executor dask, 2 local workers", dasks, "s"),
        ratio_row("dask / threads", dasks, threads, target=None),
    ]
    sec.notes.append("packages: generated `make` projects of 8 C files (benchmarks/synthetic.py); the dask "
                     "time includes connecting, each task's push and the client's pulls; the cluster "
                     "is started once, outside the timings")
    return sec


