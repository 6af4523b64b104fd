"""How fast the built programs run: each workload natively (Debian's program) and through the
installed wheel's command, paired, with the same input, from an empty directory.

    python benchmarks/runtime.py [--venv DIR | --dist DIR | --store DIR] [--repeat N] [--only a,b]
                                 [--packages p,q]

Without ``--venv`` the wheels are made from the store (``wasix-build wheel --all``, or only
``--packages``, e.g. ``--packages lua5.4 --only lua``) and installed into a fresh venv of this
interpreter. Pipe throughput and start-up need the tar and gzip wheels: without them they are
left out. Every pair's outputs must match (a speed-up
that changes behaviour does not count), else the row says so and is left out of the mean.
Prints a table and writes ``runtime`` into benchmarks/results-runtime.json: native and wheel
medians, the ratio per pair (median), the geometric mean, pipe throughput, start-up and
module sizes beside the native binaries'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024


@dataclass
class Workload:
    """One program on one input: ``args`` run as the native command and as the wheel's."""

    name: str
    program: str
    args: list[str]
    stdin: str | None = None  # an input file's name (made by make_inputs)
    files: str | None = None  # a directory of inputs copied into the working directory
    native: str | None = None  # the native command when it is named otherwise
    #: Compare only the exit status (tar: the sandbox keeps no file modes, see the README).
    status_only: bool = False
    #: Compare the lines in sorted order (find: directory order is the file system's).
    sort_lines: bool = False


def _text(path: Path, size: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    with path.open("w") as f:
        n = 0
        while n < size:
            line = " ".join(rng.choice(words) for _ in range(12)) + "\n"
            f.write(line)
            n += len(line)


def make_inputs(root: Path) -> None:
    """The inputs every run shares (made once, deterministic)."""
    _text(root / "text25.txt", 25 * MB)
    _text(root / "text4.txt", 4 * MB, seed=2)
    rng = random.Random(3)
    with (root / "numbers.txt").open("w") as f:
        for i in range(400_000):
            f.write(f"{i} {rng.randint(0, 10**6)} {rng.choice('abcdefgh')} {rng.random():.6f}\n")
    records = [{"id": i, "name": f"user{i}", "score": rng.randint(0, 1000), "tags": [rng.choice("xyz") for _ in range(3)]}
               for i in range(150_000)]  # fmt: skip
    (root / "data.json").write_text(json.dumps(records))
    subprocess.run(["gzip", "-9", "-k", "-f", str(root / "text25.txt")], check=True)
    subprocess.run(["xz", "-6", "-k", "-f", "-T1", str(root / "text4.txt")], check=True)
    subprocess.run(["bzip2", "-9", "-k", "-f", str(root / "text4.txt")], check=True)
    (root / "pi.bc").write_text("scale=1500; 4*a(1)\n")
    # Sizes: each CPU-bound workload takes at least a few tenths of a second natively, so the
    # wheel's start-up (about 0.1 s, its own row) does not stand in for the program's speed.
    (root / "fib.lua").write_text("local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end\nprint(fib(35))\n")
    # Errors caught by pcall (setjmp/longjmp in the interpreter), strings and a sort.
    (root / "pcall.lua").write_text(
        "local ok = 0\n"
        "for i = 1, 200000 do\n"
        "  if pcall(function(x) if x % 7 == 0 then error(\"e\" .. x) end return x end, i) then ok = ok + 1 end\n"
        "end\n"
        "local t = {} for i = 1, 200000 do t[#t + 1] = string.format(\"%d:%s\", i, tostring(i * 3)) end\n"
        "table.sort(t) print(ok, #table.concat(t, \",\"))\n"
    )
    (root / "sql.txt").write_text(
        "create table t(a integer, b text, c real);\n"
        "with recursive n(i) as (select 1 union all select i+1 from n where i < 300000)\n"
        "  insert into t select i, hex(i * 2654435761 % 4294967296), (i * 7919) % 1000 / 7.0 from n;\n"
        "select count(*), sum(a), round(avg(c), 3) from t;\n"
        "select b from t order by b limit 3;\n"
        "select c, count(*) from t group by c order by 2 desc, 1 limit 3;\n"
    )
    (root / "sum.awk").write_text("{ s += $2; n[$3]++; for (i = 1; i <= NF; i++) t += length($i); u[$1 % 1000] += $4 }\n"
                                  "END { print s, t; for (k in n) c++; print c, length(u) }\n")
    (root / "loop.sh").write_text("i=0; s=0; while [ $i -lt 200000 ]; do s=$((s + i % 7)); i=$((i + 1)); done; echo $s\n")
    tree = root / "tree"
    for d in range(20):
        for f in range(50):
            p = tree / f"d{d:02}" / f"f{f:02}.txt"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"file {d} {f}\n" * 20)
    big = root / "pipe"
    big.mkdir(exist_ok=True)
    _text(big / "blob.txt", 64 * MB, seed=4)
    subprocess.run(["tar", "-cf", str(root / "blob.tar"), "-C", str(big), "blob.txt"], check=True)
    shutil.rmtree(big)


#: grep's and rg's pattern: a regular expression with work to do on every line (a plain
#: literal such as "zz" took 0.01 to 0.04 s natively, less than the wheel's start-up).
REGEX = "[aeiou]{3}|q[a-z]*z"

WORKLOADS = [
    Workload("gzip -9", "gzip", ["-9", "-n", "-c"], stdin="text25.txt"),
    Workload("gzip -d", "gzip", ["-d", "-c"], stdin="text25.txt.gz"),
    Workload("bzip2 -d", "bzip2", ["-d", "-c"], stdin="text4.txt.bz2"),
    Workload("xz -6 -T1", "xz", ["-6", "-T1", "-c"], stdin="text4.txt"),
    Workload("xz -d", "xz", ["-d", "-c"], stdin="text4.txt.xz"),
    Workload("bc -l, 1500 digits of pi", "bc", ["-l"], stdin="pi.bc"),
    Workload("lua fib(35)", "lua", ["-"], stdin="fib.lua", native="lua5.4"),
    Workload("lua pcall errors, strings, sort", "lua", ["-"], stdin="pcall.lua", native="lua5.4"),
    Workload("sqlite3 300k inserts, aggregates, sort", "sqlite3", [":memory:"], stdin="sql.txt"),
    Workload("gawk fields, lengths, 2 arrays, 400k lines", "gawk", ["-f", "/dev/stdin"], stdin=None, files=None),
    Workload("bash arithmetic loop, 200k", "bash", ["-s"], stdin="loop.sh"),
    Workload("grep -cE regex over 25 MB", "grep", ["-c", "-E", REGEX], stdin="text25.txt"),
    Workload("sed s/// over 25 MB", "sed", ["s/a/A/g"], stdin="text25.txt"),
    Workload("rg -c regex over 25 MB", "rg", ["-c", REGEX], stdin="text25.txt"),
    Workload("sd over 25 MB", "sd", ["a", "A"], stdin="text25.txt"),
    Workload("jq over 20 MB of JSON", "jq", ["-c", "[.[] | select(.score > 500) | .score] | add"], stdin="data.json"),
    Workload("diff of two 4 MB texts", "diff", ["text4.txt", "text4b.txt"], files="difffiles"),
    Workload("find over 1000 files", "find", [".", "-name", "f1*", "-type", "f"], files="tree", sort_lines=True),
    Workload("tar -c of 1000 files", "tar", ["-cf", "-", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                                             "--numeric-owner", "."], files="tree", status_only=True),
]  # fmt: skip


def _fix_workloads(inputs: Path) -> None:
    # gawk reads its program from a file argument and the data from stdin.
    for w in WORKLOADS:
        if w.program == "gawk":
            w.args, w.stdin, w.files = ["-f", "sum.awk"], "numbers.txt", "awkfiles"
    (inputs / "awkfiles").mkdir(exist_ok=True)
    shutil.copy(inputs / "sum.awk", inputs / "awkfiles" / "sum.awk")
    diff = inputs / "difffiles"
    diff.mkdir(exist_ok=True)
    text = (inputs / "text4.txt").read_text().splitlines(keepends=True)
    shutil.copy(inputs / "text4.txt", diff / "text4.txt")
    (diff / "text4b.txt").write_text("".join(line.upper() if i % 97 == 0 else line for i, line in enumerate(text)))


@dataclass
class Result:
    name: str
    native: list[float] = field(default_factory=list)
    wheel: list[float] = field(default_factory=list)
    same_output: bool = True
    note: str = ""
    #: CPU seconds (user + system, all threads) of the same runs: far less disturbed than the
    #: wall time by other work on a busy machine.
    native_cpu: list[float] = field(default_factory=list)
    wheel_cpu: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [w / n for w, n in zip(self.wheel, self.native, strict=False) if n > 0]

    @property
    def cpu_ratios(self) -> list[float]:
        return [w / n for w, n in zip(self.wheel_cpu, self.native_cpu, strict=False) if n > 0]


def _run(cmd: list[str], stdin: Path | None, cwd: Path, env: dict[str, str], sort_lines: bool = False) -> tuple[float, int, str]:
    seconds, _, status, digest = _run_timed(cmd, stdin, cwd, env, sort_lines)
    return seconds, status, digest


def _run_timed(cmd: list[str], stdin: Path | None, cwd: Path, env: dict[str, str],
               sort_lines: bool = False) -> tuple[float, float, int, str]:  # fmt: skip
    """Wall seconds, CPU seconds (the process's and its children's, user + system), exit
    status and the digest of stdout."""
    with (stdin.open("rb") if stdin else open(os.devnull, "rb")) as inp, tempfile.TemporaryFile() as out:
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdin=inp, stdout=out, stderr=subprocess.PIPE, cwd=cwd, env=env)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
        out.seek(0)
        digest = hashlib.sha256()
        if sort_lines:
            digest.update(b"".join(sorted(out.read().splitlines(keepends=True))))
        while chunk := out.read(MB):
            digest.update(chunk)
    return seconds, cpu, proc.returncode, digest.hexdigest()


def _workdir(root: Path, files: str | None, inputs: Path) -> Path:
    work = root / "work"
    if work.exists():
        shutil.rmtree(work)
    if files:
        shutil.copytree(inputs / files, work)
    else:
        work.mkdir()
    return work


def measure(venv: Path, inputs: Path, scratch: Path, repeat: int, only: set[str]) -> list[Result]:
    env = {**os.environ, "WASIX_RUNTIME": "sdk"}
    results = []
    for w in WORKLOADS:
        if only and w.program not in only:
            continue
        wheel_cmd = venv / "bin" / w.program
        native = shutil.which(w.native or w.program)
        res = Result(w.name)
        if not wheel_cmd.is_file() or native is None:
            res.note = "no wheel command" if not wheel_cmd.is_file() else f"no native {w.native or w.program}"
            results.append(res)
            continue
        stdin = inputs / w.stdin if w.stdin else None
        print(f"  {w.name} …", file=sys.stderr, flush=True)
        # One warm-up each (the compile cache, the page cache), then pairs back to back.
        for cmd in ([native, *w.args], [str(wheel_cmd), *w.args]):
            _run(cmd, stdin, _workdir(scratch, w.files, inputs), env)
        for _ in range(repeat):
            n, nc, ns, nd = _run_timed([native, *w.args], stdin, _workdir(scratch, w.files, inputs), env, w.sort_lines)
            t, tc, ws, wd = _run_timed([str(wheel_cmd), *w.args], stdin, _workdir(scratch, w.files, inputs), env,
                                       w.sort_lines)  # fmt: skip
            res.native.append(n)
            res.wheel.append(t)
            res.native_cpu.append(nc)
            res.wheel_cpu.append(tc)
            if ns != ws or (nd != wd and not w.status_only):
                res.same_output = False
                res.note = f"outputs differ (status {ns} vs {ws})"
        results.append(res)
    return results


def pipe_throughput(venv: Path, inputs: Path, scratch: Path, repeat: int) -> dict[str, object]:
    """MB/s through an installed command that only copies (``tar -xOf -`` of a 64 MB member),
    its start-up (``--version``) subtracted."""
    env = {**os.environ, "WASIX_RUNTIME": "sdk"}
    tar = str(venv / "bin" / "tar")
    size = 64 * MB
    work = _workdir(scratch, None, inputs)
    runs, starts = [], []
    _run([tar, "-xOf", "-"], inputs / "blob.tar", work, env)
    for _ in range(repeat):
        runs.append(_run([tar, "-xOf", "-"], inputs / "blob.tar", work, env)[0])
        starts.append(_run([tar, "--version"], None, work, env)[0])
    native = [_run(["tar", "-xOf", "-"], inputs / "blob.tar", work, env)[0] for _ in range(repeat)]
    data = statistics.median(runs) - statistics.median(starts)
    return {
        "bytes": size,
        "wheel_seconds": runs,
        "startup_seconds": starts,
        "native_seconds": native,
        "wheel_mb_per_s": size / MB / max(data, 1e-6),
        "native_mb_per_s": size / MB / statistics.median(native),
    }


def startup(venv: Path, scratch: Path, repeat: int) -> dict[str, object]:
    """``gzip --version``: warm, and first run with an empty compile cache."""
    gzip = str(venv / "bin" / "gzip")
    warm, first, warm_cpu, native_cpu = [], [], [], []
    cache = scratch / "warm-cache"
    env = {**os.environ, "WASIX_RUNTIME": "sdk", "WASIX_WHEELS_CACHE": str(cache)}
    work = scratch / "empty"
    work.mkdir(exist_ok=True)
    _run([gzip, "--version"], None, work, env)
    for i in range(repeat):
        seconds, cpu, _, _ = _run_timed([gzip, "--version"], None, work, env)
        warm.append(seconds)
        warm_cpu.append(cpu)
        cold = scratch / f"cold-{i}"
        first.append(_run([gzip, "--version"], None, work, {**env, "WASIX_WHEELS_CACHE": str(cold)})[0])
        shutil.rmtree(cold, ignore_errors=True)
    native = []
    for _ in range(repeat):
        seconds, cpu, _, _ = _run_timed(["gzip", "--version"], None, work, env)
        native.append(seconds)
        native_cpu.append(cpu)
    return {"native": native, "warm": warm, "first_run": first, "native_cpu": native_cpu, "warm_cpu": warm_cpu}


def sizes(venv: Path) -> list[dict[str, object]]:
    """Each command's module size beside the native binary's."""
    rows = []
    site = next((venv / "lib").glob("python3*/site-packages"))
    for w in WORKLOADS:
        modules = sorted(site.glob(f"wasix_*/bin/{w.program}.wasm"))
        native = shutil.which(w.native or w.program)
        if modules and native and not any(r["program"] == w.program for r in rows):
            rows.append({"program": w.program, "wasm": modules[0].stat().st_size, "native": Path(native).resolve().stat().st_size})
    return rows


def _venv_from(dist: Path | None, store: Path | None, scratch: Path, packages: list[str]) -> Path:
    if dist is None:
        dist = scratch / "dist"
        cmd = [str(Path(sys.executable).parent / "wasix-build"), "wheel", *(packages or ["--all"]), "--keep-going",
               "--out", str(dist)]  # fmt: skip
        subprocess.run([*cmd, *(["--store", str(store)] if store else [])], check=False)
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheels = sorted(str(p) for p in (dist / "wheels").glob("*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *wheels], check=True)
    return venv


def _gmean(values: list[float]) -> float:
    return math.exp(sum(math.log(max(x, 1e-9)) for x in values) / len(values))


def _fmt(results: list[Result], pipe: dict[str, object] | None, start: dict[str, object] | None,
         size_rows: list[dict[str, object]]) -> str:  # fmt: skip
    # "less start-up": the wheel's time less its warm start-up (gzip --version), against the
    # native time: the program's own speed, without what every run of the launcher costs.
    # Without the gzip wheel there is no start-up figure: that column is left out ("—").
    warm = statistics.median(start["warm"]) if start else None  # type: ignore[arg-type]
    lines = [f"{'workload':44} {'native':>8} {'wheel':>8} {'ratio':>7} {'less start-up':>14} {'CPU ratio':>10}"]
    ratios, own, cpus = [], [], []
    for r in results:
        if not r.native:
            lines.append(f"{r.name:44} {'—':>8} {'—':>8} {'—':>7}  {r.note}")
            continue
        ratio = statistics.median(r.ratios)
        native, wheel = statistics.median(r.native), statistics.median(r.wheel)
        net = max(wheel - warm, 0.0) / native if native > 0 and warm is not None else None
        if r.same_output:
            ratios.append(ratio)
            if net is not None:
                own.append(net)
        shown = f"{net:13.2f}x" if net is not None else f"{'—':>14}"
        cpu = f"{statistics.median(r.cpu_ratios):9.2f}x" if r.cpu_ratios else f"{'—':>10}"
        if r.same_output and r.cpu_ratios:
            cpus.append(statistics.median(r.cpu_ratios))
        lines.append(f"{r.name:44} {native:7.2f}s {wheel:7.2f}s {ratio:6.2f}x {shown} {cpu}  {r.note}".rstrip())
    if ratios:
        net_mean = f"{_gmean(own):13.2f}x" if own else f"{'—':>14}"
        net_worst = f" / {max(own):.2f}x" if own else ""
        cpu_mean = f"{_gmean(cpus):9.2f}x" if cpus else f"{'—':>10}"
        lines.append(f"{'geometric mean (' + str(len(ratios)) + ' workloads)':44} {'':8} {'':8} {_gmean(ratios):6.2f}x "
                     f"{net_mean} {cpu_mean}  worst {max(ratios):.2f}x{net_worst}")  # fmt: skip
    if pipe:
        lines.append(f"pipe throughput (tar -xOf -, 64 MB): wheel {pipe['wheel_mb_per_s']:.0f} MB/s, native {pipe['native_mb_per_s']:.0f} MB/s")
    if start:
        lines.append(f"start-up (gzip --version): native {statistics.median(start['native']):.3f}s, wheel warm "  # type: ignore[arg-type]
                     f"{statistics.median(start['warm']):.3f}s, first run {statistics.median(start['first_run']):.3f}s; "  # type: ignore[arg-type]
                     f"CPU native {statistics.median(start['native_cpu']):.3f}s, wheel warm "  # type: ignore[arg-type]
                     f"{statistics.median(start['warm_cpu']):.3f}s")  # type: ignore[arg-type]
    lines.append("sizes: " + ", ".join(f"{s['program']} {int(s['wasm']) / 1024:.0f}K/{int(s['native']) / 1024:.0f}K" for s in size_rows)
                 + " (module / native binary)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="a venv with the wheels installed")
    parser.add_argument("--dist", type=Path, help="a folder with wheels/ (from `wasix-build wheel`)")
    parser.add_argument("--store", type=Path, help="store to make the wheels from")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated programs")
    parser.add_argument("--packages", default="", help="comma-separated packages to make wheels of (default: all)")
    parser.add_argument("--output", type=Path, default=HERE / "results-runtime.json")
    parser.add_argument("--label", default="", help="a name for this run in the results file (e.g. before, after)")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="wasix-runtime-bench-"))
    try:
        packages = [p for p in args.packages.split(",") if p]
        venv = args.venv or _venv_from(args.dist, args.store, scratch, packages)
        inputs = scratch / "inputs"
        inputs.mkdir()
        print("making inputs …", file=sys.stderr)
        make_inputs(inputs)
        _fix_workloads(inputs)
        load_before = os.getloadavg()[0]
        results = measure(venv, inputs, scratch, args.repeat, {p for p in args.only.split(",") if p})
        has = {name: (venv / "bin" / name).exists() for name in ("tar", "gzip")}
        pipe = pipe_throughput(venv, inputs, scratch, args.repeat) if has["tar"] else None
        start = startup(venv, scratch, args.repeat) if has["gzip"] else None
        size_rows = sizes(venv)
        print(_fmt(results, pipe, start, size_rows))
        doc = json.loads(args.output.read_text()) if args.output.is_file() else {}
        doc[args.label or "latest"] = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "load_average": [load_before, os.getloadavg()[0]],
            "command": " ".join([Path(sys.executable).name, "benchmarks/runtime.py", *(argv if argv is not None else sys.argv[1:])]),
            "workloads": [r.__dict__ | {"ratios": r.ratios, "cpu_ratios": r.cpu_ratios} for r in results],
            "pipe": pipe,
            "startup": start,
            "sizes": size_rows,
        }
        args.output.write_text(json.dumps(doc, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
