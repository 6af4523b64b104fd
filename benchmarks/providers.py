"""The two LLVM routes of the wasix provider side by side: one small CPU-bound C program
(recursive fib and a loop over an array) built by ``wasixcc`` with each, then run under
wasmer-sdk, interleaved, best of N.

    python benchmarks/providers.py [--repeat N] [--configs wasix-pypi,wasix-system] [--binaryen pypi]

Configurations (each skipped, saying why, where it cannot build here):

- ``wasix-pypi``: wasix-libc on ziglang's LLVM (``WASIXCC_LLVM_LOCATION=zig``), PyPI alone;
- ``wasix-system``: wasix-libc on the system's clang (Debian's clang-19), the default.

The retired zig provider's figures (results-providers.json, ``zig``: within 10% of both) are
what it was retired on; this script no longer builds it.

Each module is then given the size pass every package's module gets (wasix_backend/finalize.py:
``wasm-opt -Os --strip-debug`` with the provider's features), so it is what the collection
ships. The post-link passes come from the same binaryen for every configuration (the system's
``wasm-opt`` where installed, else binaryen's C API from PyPI; ``--binaryen pypi`` forces the
latter). The program times its two parts itself (``clock_gettime``), so the figures are the
guest's CPU work, not the sandbox's start-up; the wall time of the whole run is shown too.
Writes ``providers`` into benchmarks/results-providers.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 32;
    size_t len = argc > 2 ? (size_t)atol(argv[2]) : (size_t)1 << 22;
    int rounds = argc > 3 ? atoi(argv[3]) : 20;
    double t0 = now();
    unsigned f = fib(n);
    double t1 = now();
    unsigned *a = malloc(len * sizeof *a);
    if (!a) return 2;
    for (size_t i = 0; i < len; i++) a[i] = (unsigned)i * 2654435761u;
    unsigned long long sum = 0;
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < len; i++) {
            a[i] = a[i] * 1103515245u + 12345u;
            sum += a[i] >> 16;
        }
    double t2 = now();
    printf("fib %u %.6f\nloop %llu %.6f\n", f, t1 - t0, sum, t2 - t1);
    free(a);
    return 0;
}
"""

ARGS = ["35", str(1 << 22), "25"]

CONFIGS: dict[str, dict[str, str]] = {
    "wasix-pypi": {
        "WASIX_PROVIDER": "wasix",
        "WASIXCC_PROVIDER": "wasix",
        "WASIXCC_LLVM_LOCATION": "zig",
    },
    "wasix-system": {"WASIX_PROVIDER": "wasix", "WASIXCC_PROVIDER": "wasix"},
}


@dataclass
class Built:
    config: str
    module: Path | None = None
    size: int = 0
    linked: int = 0  # wasixcc's output, before the size pass
    note: str = ""
    fib: list[float] = field(default_factory=list)
    loop: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    output: str = ""


def _wasixcc() -> str:
    here = Path(sys.executable).parent / "wasixcc"
    return str(here) if here.is_file() else "wasixcc"


def build(config: str, src: Path, out: Path, extra_env: dict[str, str]) -> Built:
    env = {**os.environ, **CONFIGS[config], **extra_env}
    env.pop("WASIXCC_SYSROOT", None)  # each configuration finds (or builds) its own sysroot
    if config == "wasix-system":
        env.pop("WASIXCC_LLVM_LOCATION", None)
    linked = out / f"bench-{config}.linked.wasm"
    done = subprocess.run(
        [_wasixcc(), "-O2", str(src), "-o", str(linked)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return Built(config, note="did not build: " + " | ".join(tail))
    # The toolchain as the engine sees it: its identity, and the size pass of finalize.py.
    query = ("import json; from wasix_backend.toolchain import get_toolchain; t = get_toolchain(); "
             "print(json.dumps([str(t.wasm_opt or ''), list(t.wasm_opt_features), t.identity]))")  # fmt: skip
    got = subprocess.run(
        [sys.executable, "-c", query], env=env, capture_output=True, text=True, check=True
    )
    wasm_opt, features, identity = json.loads(got.stdout.strip().splitlines()[-1])
    module = out / f"bench-{config}.wasm"
    if not wasm_opt:
        return Built(config, note="no wasm-opt here (neither the system's nor binaryen from PyPI)")
    subprocess.run([wasm_opt, *features, "-Os", "--strip-debug", str(linked), "-o", str(module)],
                   env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return Built(config, module, module.stat().st_size, linked.stat().st_size, note=identity[:600])


def measure(built: list[Built], repeat: int) -> None:
    from time import perf_counter

    from wasix_backend.runtime import run

    ready = [b for b in built if b.module is not None]
    for b in ready:  # warm: wasmer-sdk compiles and caches each module once
        run(b.module, ARGS, timeout=600)
    for i in range(repeat):
        order = (
            ready[i % len(ready) :] + ready[: i % len(ready)] if ready else []
        )  # rotate who goes first
        for b in order:
            start = perf_counter()
            res = run(b.module, ARGS, timeout=600)
            b.wall.append(perf_counter() - start)
            if res.exit_code != 0:
                b.note = (
                    f"exit status {res.exit_code}: {res.stderr.decode(errors='replace')[-200:]}"
                )
                continue
            lines = dict(line.split(" ", 1) for line in res.text.strip().splitlines())
            b.output = f"fib {lines['fib'].split()[0]}, loop {lines['loop'].split()[0]}"
            b.fib.append(float(lines["fib"].split()[1]))
            b.loop.append(float(lines["loop"].split()[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--binaryen", choices=["default", "pypi"], default="default")
    parser.add_argument("--output", type=Path, default=HERE / "results-providers.json")
    args = parser.parse_args(argv)
    extra = {"WASIXCC_BINARYEN_LOCATION": "pypi"} if args.binaryen == "pypi" else {}
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="provbench-") as tmp:
        src = Path(tmp) / "bench.c"
        src.write_text(PROGRAM)
        built = [build(c, src, Path(tmp), extra) for c in configs]
        measure(built, args.repeat)
    load1 = os.getloadavg()[0]
    outputs = {b.output for b in built if b.output}
    print(f"program: fib({ARGS[0]}) and {ARGS[2]} rounds over {int(ARGS[1]) >> 20}M unsigned ints; "
          f"best of {args.repeat}; load {load0:.1f} -> {load1:.1f}")  # fmt: skip
    if len(outputs) > 1:
        print(f"OUTPUTS DIFFER: {sorted(outputs)}")
    print(
        f"{'configuration':<14} {'linked':>9} {'module':>9} {'fib s':>8} {'loop s':>8} {'wall s':>8}"
    )
    for b in built:
        if not b.fib:
            print(f"{b.config:<14} {'-':>9} not measured: {b.note}")
            continue
        print(
            f"{b.config:<14} {b.linked:>9} {b.size:>9} {min(b.fib):>8.3f} {min(b.loop):>8.3f} {min(b.wall):>8.3f}"
        )
    doc = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average": [load0, load1],
        "binaryen": args.binaryen,
        "args": ARGS,
        "repeat": args.repeat,
        "same_output": len(outputs) <= 1,
        "configs": [
            {"config": b.config, "size": b.size, "linked": b.linked, "toolchain": b.note, "fib": b.fib, "loop": b.loop, "wall": b.wall,
             "best": {"fib": min(b.fib), "loop": min(b.loop), "wall": min(b.wall)} if b.fib else None}
            for b in built
        ],
    }  # fmt: skip
    args.output.write_text(json.dumps({"providers": doc}, indent=2) + "\n")
    return 0 if all(b.fib for b in built) else 1


if __name__ == "__main__":
    sys.exit(main())
