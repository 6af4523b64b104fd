"""python3.11 under wasmer-sdk against Debian's /usr/bin/python3.11 (the same CPython 3.11.2):
start-up (first run with an empty module cache, then warm), a few pure-Python workloads, and
the standard library byte-compiled in folders (as shipped) against other layouts (one
``python311.zip`` with or without the sources, issue #33 item 3), run interleaved.

    WASIX_STORE=… python benchmarks/python311.py [--repeat N] [--startup]

Builds (or finds) python3.11 in the store, prints a table. Every workload's output must be
the same on both sides, else it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

NATIVE = "/usr/bin/python3.11"

NBODY = """\
import math
def nbody(steps):
    pi, days = math.pi, 365.24
    bodies = [([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 4 * pi * pi),
              ([4.84, -1.16, -0.10], [0.00166 * days, 0.00770 * days, -0.0000690 * days], 0.000954 * 4 * pi * pi),
              ([8.34, 4.12, -0.40], [-0.00277 * days, 0.00500 * days, 0.0000230 * days], 0.000286 * 4 * pi * pi),
              ([12.89, -15.11, -0.22], [0.00296 * days, 0.00237 * days, -0.0000296 * days], 0.0000437 * 4 * pi * pi),
              ([15.38, -25.92, 0.18], [0.00268 * days, 0.00163 * days, -0.0000952 * days], 0.0000515 * 4 * pi * pi)]
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]
    for _ in range(steps):
        for (p1, v1, m1), (p2, v2, m2) in pairs:
            dx, dy, dz = p1[0] - p2[0], p1[1] - p2[1], p1[2] - p2[2]
            mag = 0.01 * (dx * dx + dy * dy + dz * dz) ** -1.5
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2; v1[1] -= dy * b2; v1[2] -= dz * b2
            v2[0] += dx * b1; v2[1] += dy * b1; v2[2] += dz * b1
        for p, v, _m in bodies:
            p[0] += 0.01 * v[0]; p[1] += 0.01 * v[1]; p[2] += 0.01 * v[2]
    return bodies[0][0]
print(['%.9f' % x for x in nbody(200000)])
"""

RICHARDS = """\
class Task:
    def __init__(self, ident, prio):
        self.ident, self.prio, self.count, self.queue = ident, prio, 0, []
    def run(self, packet):
        self.count += 1
        if packet is not None:
            self.queue.append(packet)
        return self.queue.pop(0) if len(self.queue) > 3 else None
class Scheduler:
    def __init__(self, n):
        self.tasks = sorted((Task(i, (i * 7) % 11) for i in range(n)), key=lambda t: -t.prio)
    def schedule(self, rounds):
        packet, done = 0, 0
        for r in range(rounds):
            for task in self.tasks:
                out = task.run(packet if (r + task.ident) % 3 else None)
                if out is not None:
                    done += out % 5
                packet = (packet * 31 + task.ident) % 1009
        return done, sum(t.count for t in self.tasks)
print(Scheduler(50).schedule(40000))
"""

JSON = """\
import json
doc = {'items': [{'id': i, 'name': 'item %d' % i, 'tags': ['a', 'b', str(i % 7)], 'price': i * 0.25,
                  'nested': {'ok': i % 2 == 0, 'none': None}} for i in range(40000)]}
for _ in range(5):
    text = json.dumps(doc, sort_keys=True)
    doc = json.loads(text)
print(len(text), doc['items'][-1]['name'])
"""

IMPORTS = "import json, decimal, datetime, collections, re, sqlite3, subprocess, threading, argparse, email.message"


def _sandbox() -> tuple[dict[str, Path], dict[str, bytes]]:
    from wasix_backend.cli import main
    from wasix_backend.plugins import load_plugins
    from wasix_backend.rundeps import sandbox_of

    with tempfile.TemporaryDirectory() as out, contextlib.redirect_stdout(io.StringIO()) as log:
        status = main(["build", "python3.11", "--out", out, "--json"])
    if status:
        sys.exit(f"python3.11 did not build:\n{log.getvalue()}")
    prefixes = {p["name"]: Path(p["store"]) for p in json.loads(log.getvalue())["packages"] if p.get("store")}
    loaded = load_plugins(entry_points=False)
    return sandbox_of(loaded.recipes, "python3.11", prefixes, loaded.registry)


def _zipped(data: Mapping[str, bytes], sources: bool = False) -> dict[str, bytes]:
    """The same library as one /usr/lib/python311.zip of its .pyc files (sys.path's first
    library entry), with ``sources`` its .py files too (without them a traceback through the
    library shows no source lines); os.py stays a file, the landmark getpath finds the prefix by."""
    lib = "/usr/lib/python3.11/"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path, blob in sorted(data.items()):
            if not path.startswith(lib) or "/lib-dynload/" in path:
                continue
            rel = PurePosixPath(path[len(lib):])
            if rel.suffix == ".pyc" and rel.parent.name == "__pycache__":  # a/__pycache__/m.cpython-311.pyc -> a/m.pyc
                zf.writestr(str(rel.parent.parent / (rel.name.split(".")[0] + ".pyc")), blob)
            elif sources and rel.suffix == ".py":
                zf.writestr(str(rel), blob)
    kept = {p: b for p, b in data.items() if not p.startswith(lib) or "/lib-dynload/" in p or p == lib + "os.py"}
    return {**kept, "/usr/lib/python311.zip": buf.getvalue()}


def _unchecked(data: Mapping[str, bytes]) -> dict[str, bytes]:
    """The folders as shipped, each ``.pyc`` flagged unchecked-hash (PEP 552): the build writes
    checked-hash ones (flags 3, as compileall under SOURCE_DATE_EPOCH), for which every import also reads and hashes the .py."""
    return {p: (b[:4] + bytes([b[4] & ~2]) + b[5:] if p.endswith(".pyc") else b) for p, b in data.items()}


def _wasix(modules, data, code: str, cache: str | None = None) -> tuple[float, bytes]:
    from wasix_backend.runtime import Invocation, run_steps

    if cache:
        os.environ["WASIX_WASMER_CACHE"] = cache
    try:
        start = time.monotonic()
        (res,) = run_steps(modules, [Invocation("python3.11", ["-c", code], b"", {"WASIX_HOST_TTYS": "-"})], data=data,
                           timeout=600)  # fmt: skip
        took = time.monotonic() - start
    finally:
        os.environ.pop("WASIX_WASMER_CACHE", None)
    if res.exit_code:
        sys.exit(f"python3.11 under Wasmer failed ({res.exit_code}): {res.stderr.decode()[-2000:]}")
    return took, res.stdout


def _native(code: str) -> tuple[float, bytes]:
    start = time.monotonic()
    out = subprocess.run([NATIVE, "-c", code], capture_output=True, check=True).stdout
    return time.monotonic() - start, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--startup", action="store_true", help="only the warm start-up rows (folders against zip)")
    args = parser.parse_args()
    modules, data = _sandbox()
    wasm = modules["python3.11"]
    lib = {p: b for p, b in data.items() if p.startswith("/usr/lib/python3.11/")}
    print(f"python3.11.wasm {wasm.stat().st_size / 1e6:.1f} MB; standard library {sum(map(len, lib.values())) / 1e6:.1f} MB "
          f"in {len(lib)} files ({sum(len(b) for p, b in lib.items() if p.endswith('.pyc')) / 1e6:.1f} MB of .pyc)")  # fmt: skip
    rows: list[tuple[str, float, float | None]] = []
    if not args.startup:
        with tempfile.TemporaryDirectory() as cold:
            rows.append(("-c pass, first run (empty module cache)", _wasix(modules, data, "pass", cache=cold)[0], None))
    zipped, with_sources = _zipped(data), _zipped(data, sources=True)
    print(f"python311.zip {len(zipped['/usr/lib/python311.zip']) / 1e6:.1f} MB of .pyc, "
          f"{len(with_sources['/usr/lib/python311.zip']) / 1e6:.1f} MB of .py and .pyc")  # fmt: skip
    layouts = (("folders of .py and .pyc (shipped)", data), ("python311.zip of .pyc", zipped),
               ("python311.zip of .py and .pyc", with_sources),
               ("folders, unchecked-hash .pyc", _unchecked(data)),
               # Tracebacks find the .py files by the code's file name, which is the folders' path.
               ("python311.zip of .pyc, .py in folders", {**zipped, **{p: b for p, b in data.items() if p.endswith(".py")}}))  # fmt: skip
    for _label, layout in (*layouts[1:3], layouts[4]):  # the zip is what is imported from
        probe = _wasix(modules, layout, "import json; print(json.__file__)")[1]
        assert probe.startswith(b"/usr/lib/python311.zip/"), probe
    codes = (("-c pass", "pass"), (f"-c '{IMPORTS[:30]}…'", IMPORTS))
    _wasix(modules, data, "pass")  # the module cache warm before the first timed run
    # Interleaved (ABC BCA CAB …): a change of load on the shared machine falls on every layout alike.
    times: dict[tuple[str, str], list[float]] = {}
    print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    for i in range(args.repeat):
        for what, code in codes:
            for label, layout in layouts[i % len(layouts) :] + layouts[: i % len(layouts)]:  # each layout first in turn
                times.setdefault((what, label), []).append(_wasix(modules, layout, code)[0])
    print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
    for what, code in codes:
        native = statistics.median(_native(code)[0] for _ in range(args.repeat))
        for label, _layout in layouts:
            each = times[what, label]
            # Each round's time over the same round's folders time: the load of that moment cancels.
            paired = statistics.median(t / f for t, f in zip(each, times[what, layouts[0][0]], strict=True))
            print(f"{what}, {label}: " + " ".join(f"{t:.2f}" for t in each) + f"; median of per-round "
                  f"ratios to folders {paired:.2f}", file=sys.stderr)  # fmt: skip
            rows.append((f"{what}, warm, {label} (x{paired:.2f} folders)", statistics.median(each), native))
    for name, code in () if args.startup else (("nbody", NBODY), ("richards-like", RICHARDS), ("json dumps/loads", JSON)):
        wasix = [_wasix(modules, data, code) for _ in range(args.repeat)]
        native = [_native(code) for _ in range(args.repeat)]
        if wasix[0][1] != native[0][1]:
            sys.exit(f"{name}: outputs differ: {wasix[0][1]!r} != {native[0][1]!r}")
        rows.append((name, statistics.median(t for t, _ in wasix), statistics.median(t for t, _ in native)))
    print("| run | WASIX s | native s | ratio |\n|---|---|---|---|")
    for name, w, n in rows:
        print(f"| {name} | {w:.2f} | {'' if n is None else f'{n:.2f}'} | {'' if n is None else f'{w / n:.1f}x'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
