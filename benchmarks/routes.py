"""The wasix provider's two LLVM routes on real programs: the same packages built with
ziglang's clang (PyPI, ``WASIXCC_LLVM_LOCATION=zig``) and with the system's clang-19, each
installed as wheels into a venv of its own, then runtime.py's workloads for them run through
both and natively, interleaved (order rotated), outputs compared; module sizes side by side.

    python benchmarks/routes.py --dist-a DIR --dist-b DIR [--label-a zig-llvm] [--label-b clang-19]
                                [--only gzip,lua,sqlite3,gawk] [--repeat N]

Each DIR holds ``wheels/`` (``wasix-build wheel NAME… --out DIR`` with that route's store and
environment). Writes ``routes`` (or ``--label``) into benchmarks/results-routes.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import runtime  # noqa: E402  (the workloads, their inputs and the timed runner)


def measure(venvs: dict[str, Path], inputs: Path, scratch: Path, repeat: int, only: set[str]) -> list[dict[str, object]]:
    env = {**os.environ, "WASIX_RUNTIME": "sdk"}
    rows: list[dict[str, object]] = []
    for w in runtime.WORKLOADS:
        if only and w.program not in only:
            continue
        native = shutil.which(w.native or w.program)
        cmds = {label: str(venv / "bin" / w.program) for label, venv in venvs.items()}
        missing = [label for label, cmd in cmds.items() if not Path(cmd).is_file()]
        if native is None or missing:
            rows.append({"name": w.name, "note": f"no native {w.program}" if native is None else f"no wheel command in {missing}"})
            continue
        cmds = {"native": native, **cmds}
        stdin = inputs / w.stdin if w.stdin else None
        print(f"  {w.name} …", file=sys.stderr, flush=True)
        for cmd in cmds.values():  # warm: the compile cache, the page cache
            runtime._run([cmd, *w.args], stdin, runtime._workdir(scratch, w.files, inputs), env)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        same = {k: True for k in cmds if k != "native"}
        keys = list(cmds)
        for i in range(repeat):
            got = {}
            for key in keys[i % len(keys) :] + keys[: i % len(keys)]:
                seconds, status, digest = runtime._run([cmds[key], *w.args], stdin, runtime._workdir(scratch, w.files, inputs),
                                                       env, w.sort_lines)  # fmt: skip
                times[key].append(seconds)
                got[key] = (status, None if w.status_only else digest)
            for key in same:
                same[key] = same[key] and got[key] == got["native"]
        rows.append({"name": w.name, "program": w.program, "seconds": times, "same_output": same})
    return rows


def sizes(venvs: dict[str, Path]) -> list[dict[str, object]]:
    by_program: dict[str, dict[str, object]] = {}
    for label, venv in venvs.items():
        for row in runtime.sizes(venv):
            entry = by_program.setdefault(str(row["program"]), {"program": row["program"], "native": row["native"]})
            entry[label] = row["wasm"]
    return list(by_program.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist-a", type=Path, required=True)
    parser.add_argument("--dist-b", type=Path, required=True)
    parser.add_argument("--label-a", default="zig-llvm")
    parser.add_argument("--label-b", default="clang-19")
    parser.add_argument("--only", default="gzip,lua,sqlite3,gawk", help="comma-separated programs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=HERE / "results-routes.json")
    parser.add_argument("--label", default="routes", help="a name for this run in the results file")
    args = parser.parse_args(argv)
    a, b = args.label_a, args.label_b
    scratch = Path(tempfile.mkdtemp(prefix="wasix-routes-bench-"))
    try:
        venvs = {}
        for label, dist in ((a, args.dist_a), (b, args.dist_b)):
            (scratch / label).mkdir()
            venvs[label] = runtime._venv_from(dist, None, scratch / label)
        inputs = scratch / "inputs"
        inputs.mkdir()
        print("making inputs …", file=sys.stderr)
        runtime.make_inputs(inputs)
        runtime._fix_workloads(inputs)
        load0 = os.getloadavg()[0]
        rows = measure(venvs, inputs, scratch, args.repeat, {p for p in args.only.split(",") if p})
        load1 = os.getloadavg()[0]
        size_rows = sizes(venvs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'workload':44} {'native':>8} {a:>10} {b:>10} {a + '/' + b:>18}")
    for row in rows:
        if "seconds" not in row:
            print(f"{row['name']:44} not measured: {row['note']}")
            continue
        med = {k: statistics.median(v) for k, v in row["seconds"].items()}  # type: ignore[union-attr]
        flag = "" if all(row["same_output"].values()) else "  OUTPUTS DIFFER"  # type: ignore[union-attr]
        print(f"{row['name']:44} {med['native']:7.2f}s {med[a]:9.2f}s {med[b]:9.2f}s {med[a] / med[b]:17.2f}x{flag}")
    for s in size_rows:
        print(f"size {s['program']}: {a} {s.get(a)} B, {b} {s.get(b)} B, native {s['native']} B")
    doc = json.loads(args.output.read_text()) if args.output.is_file() else {}
    doc[args.label] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average": [load0, load1],
        "repeat": args.repeat,
        "labels": [a, b],
        "workloads": rows,
        "sizes": size_rows,
    }
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
