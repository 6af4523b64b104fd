"""Benchmarks of wasix-backend: driver overhead, cache speed, engine overhead, parallel speed-up,
launcher start-up, module size and the cold build against doing it by hand, each measured side
by side with its baseline in one run.

    python benchmarks/run.py [--repeat N] [--cold-repeat M] [--quick] [--only KEY,...]

Writes ``benchmarks/results.json`` and prints a table. Targets are judged on the median; a
missed target is reported as missed. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The folder is not a package: run.py puts it on sys.path above.
import cachebench
from harness import (
    BenchError,
    Row,
    Section,
    last_error_line,
    ratio_row,
    run_timed,
    store_records,
    wasix_build,
)

HERE = Path(__file__).resolve().parent
NANO_MISSING = "not measured (nano did not build)"
#: The packages whose build the overhead figure measures (nano depends on ncurses).
COLD_PACKAGES = ["ncurses", "nano"]
PARALLEL_PACKAGES = ["parbench-a", "parbench-b"]


@dataclass
class Bench:
    """Settings and facts shared by the measurements."""

    repeat: int
    cold_repeat: int
    tmp: Path
    cli: list[str] = field(default_factory=wasix_build)
    packages: list[str] = field(default_factory=list)
    #: ``--packages``: prepare only these (and what they need); empty means every package.
    only_packages: list[str] = field(default_factory=list)
    buildable: list[str] = field(default_factory=list)
    unbuildable: dict[str, str] = field(default_factory=dict)
    provider: str = "unknown"
    #: The caller's shell had PYTHONDONTWRITEBYTECODE set (measured as an extra row).
    dont_write_bytecode: bool = False

    def wb(self, *args: str, env: dict[str, str | None] | None = None, what: str = ""):
        return run_timed([*self.cli, *args], env=env, what=what or f"wasix-build {' '.join(args[:3])}")

    def scratch(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))

    @property
    def nano_ok(self) -> bool:
        return "nano" in self.buildable


# ------------------------------------------------------------------------ preparation ---
def prepare(b: Bench) -> None:
    """Fill the default store with everything that builds; find out what does not.

    This is also the warm-up: sources are downloaded and the wasix-libc sysroot is built here, so no
    measurement below pays for them.
    """
    listing = json.loads(b.wb("list", "--json").stdout)
    b.packages = sorted(row["name"] for row in listing if not b.only_packages or row["name"] in b.only_packages)
    out = b.scratch("prepare-out")
    targets = b.packages if b.only_packages else ["--all"]
    try:
        b.wb("build", *targets, "--keep-going", "--out", str(out), what=f"wasix-build build {' '.join(targets)}")
        b.buildable = list(b.packages)
    except BenchError:
        for name in b.packages:
            try:
                b.wb("build", name, "--out", str(out), what=f"wasix-build build {name}")
                b.buildable.append(name)
            except BenchError as exc:
                b.unbuildable[name] = textwrap.shorten(last_error_line(str(exc)), 200)
    try:
        from wasix_backend.toolchain import get_toolchain

        b.provider = get_toolchain().provider
    except Exception as exc:  # the toolchain itself is under construction: say so, go on
        b.provider = f"unknown ({type(exc).__name__}: {exc})"


# ----------------------------------------------------------------------- measurements ---
def measure_noop(b: Bench) -> Section:
    """A rebuild with everything cached, against a bare ``import wasix_backend``."""
    sec = Section("noop", "No-op rebuild (everything cached)")
    if not b.buildable:
        sec.status = "not measured (no package builds)"
        return sec
    if b.only_packages:
        cmd = ["build", *b.buildable]
        sec.notes.append(f"`wasix-build build {' '.join(b.buildable)}`: the packages --packages prepared")
    elif b.unbuildable:
        cmd = ["build", *b.buildable]
        sec.notes.append(
            f"`wasix-build build {' '.join(b.buildable)}` instead of `--all`: "
            + "; ".join(f"{n} does not build here ({why})" for n, why in b.unbuildable.items())
        )
    else:
        cmd = ["build", "--all"]
        sec.notes.append(f"`wasix-build build --all` ({', '.join(b.buildable)})")
    label = "wasix-build " + " ".join(cmd)
    cmd += ["--out", str(b.scratch("noop-out"))]
    bare = [sys.executable, "-c", "import wasix_backend"]
    run_timed(bare)  # warm the OS file cache for both
    b.wb(*cmd)
    rebuild, imports = [], []
    for _ in range(b.repeat):  # interleaved, so drift hits both alike
        rebuild.append(b.wb(*cmd).seconds)
        imports.append(run_timed(bare).seconds)
    sec.rows += [
        Row(label, rebuild, "s"),
        Row("python -c 'import wasix_backend'", imports, "s"),
        ratio_row("no-op rebuild / bare import", rebuild, imports, target=2),
    ]
    sec.notes.append("Python bytecode cached, as for any pip-installed code")
    if b.dont_write_bytecode:
        nocache: dict[str, str | None] = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": None}
        slow, slow_imports = [], []
        for _ in range(b.repeat):
            slow.append(b.wb(*cmd, env=nocache).seconds)
            slow_imports.append(run_timed(bare, env=nocache).seconds)
        sec.rows += [
            Row("same, with this shell's PYTHONDONTWRITEBYTECODE=1", slow, "s"),
            ratio_row("  its ratio to a bare import (no target)", slow, slow_imports, target=None),
        ]
    return sec


def _usable_providers() -> dict[str, str]:
    """Provider name -> why it cannot be measured here ("" when it can): the one provider."""
    from wasix_backend.toolchain.providers import WasixProvider
    from wasix_backend.toolchain.settings import parse_settings

    settings, _ = parse_settings([], {**os.environ, "WASIXCC_PROVIDER": "wasix"})
    return {"wasix": WasixProvider(settings).problem() or ""}


def measure_driver(b: Bench) -> Section:
    """One compiler call through wasixcc against the provider's own command for it."""
    from wasix_backend.toolchain import get_toolchain
    from wasix_backend.toolchain.providers import WasixProvider, parse_invocation
    from wasix_backend.toolchain.settings import parse_settings

    sec = Section("driver", "Driver overhead: `wasixcc -O2 c.c -o a.wasm` (empty main)")
    args = ["-O2", "c.c", "-o", "a.wasm"]
    runs = max(10, 2 * b.repeat)
    for name, problem in _usable_providers().items():
        if problem:
            sec.notes.append(f"{name} provider not measured: {problem}")
            continue
        work = b.scratch(f"driver-{name}")
        (work / "c.c").write_text("int main(void) { return 0; }\n")
        # As during configure, where nearly all compiler calls happen: no wasm-opt.
        env = {**os.environ, "WASIXCC_PROVIDER": name, "WASIXCC_RUN_WASM_OPT": "no"}
        saved = dict(os.environ)
        os.environ.update(env)
        try:
            tc = get_toolchain(name)
            settings, _ = parse_settings([], env)
            provider = WasixProvider(settings)
            own = provider.compile_command(parse_invocation(args, cxx=False))
            own_env = env
            wrapper, python = tc.bin_dir / "wasixcc", tc.driver_dir / "wasixcc"
        finally:
            os.environ.clear()
            os.environ.update(saved)
        cmds = {"wrapper": ([str(wrapper), *args], env), "own": (own, own_env), "python": ([str(python), *args], env)}
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        for cmd, cmd_env in cmds.values():  # warm: the OS file cache
            run_timed(cmd, env=cmd_env, cwd=work)
        for i in range(runs):  # interleaved, the order rotated against drift
            keys = list(cmds)
            for key in keys[i % 3 :] + keys[: i % 3]:
                cmd, cmd_env = cmds[key]
                samples[key].append(run_timed(cmd, env=cmd_env, cwd=work).seconds)
        shutil.rmtree(work, ignore_errors=True)
        sec.rows += [
            Row(f"{name}: wasixcc (resolved wrapper)", samples["wrapper"], "s"),
            Row(f"{name}: the provider's own command", samples["own"], "s"),
            ratio_row(f"{name}: wasixcc / own command", samples["wrapper"], samples["own"], target=1.15),
            Row(f"{name}: Python driver (the reference)", samples["python"], "s"),
            ratio_row(f"{name}: Python driver / own command (no target)", samples["python"], samples["own"], target=None),
        ]
        if wrapper == python:
            sec.notes.append(f"{name}: no resolved wrappers (the provider's commands could not be baked)")
    sec.notes.append(f"{runs} paired runs; WASIXCC_RUN_WASM_OPT=no on every side, as configure runs it; "
                     "the own command is what the provider's compile_command returns for these arguments")
    return sec


def _seed_toolchain(provider: str, store: Path) -> None:
    """Link the built wasix-libc sysroot into the fresh ``store``: the toolchain is warm for
    both sides (by hand compiles against it too)."""
    if provider != "wasix":
        return
    from wasix_backend.paths import store_dir
    from wasix_backend.store import Store
    from wasix_backend.toolchain.sysroot import find_sysroot

    sysroot = find_sysroot(Store(store_dir()))
    if sysroot is not None:
        store.mkdir(parents=True, exist_ok=True)
        shutil.copytree(sysroot, store / sysroot.name, copy_function=os.link, symlinks=True)


def measure_byhand(b: Bench) -> Section:
    """Cold ncurses + nano, -j2: the engine against the same build done by hand."""
    import byhand

    sec = Section("byhand", "Cold ncurses + nano, -j2: engine against by hand (./configure && make -j2)")
    if not b.nano_ok:
        sec.status = NANO_MISSING
        return sec
    for name, problem in _usable_providers().items():
        if problem:
            sec.notes.append(f"{name} provider not measured: {problem}")
            continue
        engine, hand, hand_linked = [], [], []
        post_links = 0
        env = {"WASIXCC_PROVIDER": name}
        try:
            for i in range(b.cold_repeat):
                for side in (("engine", "hand") if i % 2 == 0 else ("hand", "engine")):
                    work = b.scratch(f"cold-{side}-{name}")
                    if side == "engine":
                        # Empty store and empty configure cache: nothing from an earlier build.
                        cold = {**env, "WASIX_CONFIGURE_CACHE": str(work / "configure-cache")}
                        _seed_toolchain(name, work / "store")
                        engine.append(b.wb("build", *COLD_PACKAGES, "-j2", "--provider", name, "--store", str(work / "store"),
                                           "--out", str(work / "out"), env=cold).seconds)  # fmt: skip
                    else:
                        start = time.perf_counter()
                        prefixes = byhand.build_by_hand("nano", work, name, jobs=2)
                        hand.append(time.perf_counter() - start)
                        post_links = byhand.post_link_by_hand("nano", prefixes, name)
                        hand_linked.append(time.perf_counter() - start)
                    shutil.rmtree(work, ignore_errors=True)
        except BenchError as exc:  # one provider failing says so and leaves the other's figures
            sec.notes.append(f"{name} provider not measured: {textwrap.shorten(str(exc), 600)}")
            continue
        sec.rows += [
            Row(f"{name}: engine, `wasix-build build ncurses nano -j2`", engine, "s"),
            Row(f"{name}: by hand, same sources, compiler and flags", hand, "s"),
            ratio_row(f"{name}: engine / by hand", engine, hand, target=0.8),
        ]
        if post_links:  # the wasix provider: by hand's nano is not asyncified until this runs
            sec.rows += [
                Row(f"{name}: by hand + the post-link wasm-opt (the shipped module)", hand_linked, "s"),
                ratio_row(f"{name}: engine / by hand + post-link", engine, hand_linked, target=0.8),
            ]
    sec.notes.append("by hand: unpack, patch, ./configure --host … && make -j2 && make install per package, "
                     "CC/CPPFLAGS/LIBS/AR made of the provider's own commands (benchmarks/byhand.py), no "
                     "driver, no cache; engine: fresh --store and an empty configure cache; the toolchain (the "
                     "wasix-libc sysroot, linked into the fresh store) and the source cache warm for both; "
                     "'+ post-link': by hand then runs the provider's wasm-opt step (asyncify + -O2) once on nano, "
                     "as wasixcc does after a link: without it by hand's nano.wasm cannot fork (nano imports "
                     "proc_fork), so only then is it the module the engine ships")
    return sec


def measure_overhead(b: Bench) -> Section:
    """Cold ``-j1`` build of ncurses + nano in a fresh store: time not spent in the toolchain."""
    sec = Section("overhead", "Engine overhead, cold build of ncurses + nano, -j1")
    if not b.nano_ok:
        sec.status = NANO_MISSING
        return sec
    walls, subs, engine_in, startup = [], [], [], []
    for _ in range(b.cold_repeat):
        store, out = b.scratch("cold-store"), b.scratch("cold-out")
        try:
            wall = b.wb("build", *COLD_PACKAGES, "-j1", "--store", str(store), "--out", str(out), "--json").seconds
            records = store_records(store)
            if sorted(r["name"] for r in records) != sorted(COLD_PACKAGES):
                raise BenchError(f"expected fresh builds of {COLD_PACKAGES} in {store}, found {records}")
            sub = sum(float(r["subprocess_seconds"]) for r in records)
            inside = sum(float(r["seconds"]) for r in records)
        finally:
            shutil.rmtree(store, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
        walls.append(wall)
        subs.append(sub)
        engine_in.append(inside - sub)
        startup.append(wall - inside)
    overhead = [100 * (w - s) / w for w, s in zip(walls, subs, strict=True)]
    pct = Row("overhead: (wall - toolchain) / wall", overhead, "%", target="< 3%")
    pct.met = pct.median < 3
    sec.rows += [
        Row("wall time of `wasix-build build ncurses nano -j1`", walls, "s"),
        Row("inside toolchain subprocesses (configure, make, cc)", subs, "s"),
        Row("engine, during builds (fetch/unpack, patch, finalize…)", engine_in, "s"),
        Row("engine, around builds (start-up, plugins, keys, copy-out)", startup, "s"),
        pct,
    ]
    sec.notes.append("fresh --store per run; source download cache and zig cache warm")
    return sec


def measure_parallel(b: Bench) -> Section:
    """Cold build of two independent generated projects with ``-j2`` against ``-j1``."""
    import synthetic

    sec = Section("parallel", "Parallel speed-up, two independent packages, cold")
    cores = os.cpu_count() or 1
    units = 24
    serial, parallel, per_pkg = [], [], []
    cached: list[Path] = []
    for i in range(b.cold_repeat):
        for jobs in ((1, 2) if i % 2 == 0 else (2, 1)):  # alternate order against drift
            root = b.scratch(f"par-j{jobs}")
            plugins = synthetic.write_plugins(root, PARALLEL_PACKAGES, units=units)
            cached += _cached_copies(root / "src")
            store = root / "store"
            wall = b.wb("build", *PARALLEL_PACKAGES, f"-j{jobs}", "--plugin-dir", str(plugins),
                        "--store", str(store), "--out", str(root / "out")).seconds
            if jobs == 1:
                serial.append(wall)
                per_pkg += [float(r["seconds"]) for r in store_records(store)]
            else:
                parallel.append(wall)
            shutil.rmtree(root, ignore_errors=True)
    for path in cached:  # the generated tarballs' copies in the source cache: never reused
        path.unlink(missing_ok=True)
    target_note = "" if cores >= 2 else f"only {cores} core here: the target assumes 2"
    sec.rows += [
        Row("-j1 wall", serial, "s"),
        Row("-j2 wall", parallel, "s"),
        Row("one package alone (from the -j1 runs)", per_pkg, "s"),
        ratio_row("speed-up -j1 / -j2", serial, parallel, target=1.7, below=False, note=target_note),
    ]
    sec.notes.append(
        f"packages: {', '.join(PARALLEL_PACKAGES)}, generated `make` projects of {units} C files "
        "each (benchmarks/synthetic.py), a fresh nonce per build so no compiler cache can hit"
    )
    return sec


def _cached_copies(src: Path) -> list[Path]:
    """Where the source cache will keep the tarballs in ``src`` (and their lock files)."""
    from wasix_backend.paths import sources_dir
    from wasix_backend.store import file_sha256

    paths = []
    for tarball in sorted(src.glob("*.tar.gz")):
        copy = sources_dir() / f"{file_sha256(tarball)}-{tarball.name}"
        paths += [copy, copy.with_name(copy.name + ".lock")]
    return paths


_DIRECT_SDK = """\
# The baseline: the same module run through wasmer-sdk with nothing around it.
import asyncio, os, sys
from pathlib import Path
from wasmer_sdk import Wasmer

async def main():
    wasm = Path(sys.argv[1]).read_bytes()
    async with Wasmer(cache_root=Path(sys.argv[2])) as wasmer:
        pkg = await wasmer.packages.load(wasm)
        async with await wasmer.sandboxes.create(packages=[pkg]) as sb:
            out = await sb.command(pkg, sys.argv[3:]).run(check=False)
    sys.stdout.buffer.write(out.stdout.bytes)
    return out.exit_code

code = asyncio.run(main())
sys.stdout.flush()
# As the launcher does: the runtime's threads can abort a normal interpreter shutdown.
os._exit(code)
"""


def _wheel_venv(b: Bench) -> tuple[Path, Path]:
    """Build nano's wheel, install it into a fresh venv; its ``nano`` script and module."""
    root = b.scratch("launcher")
    b.wb("wheel", "nano", "--out", str(root / "dist"))
    wheel = next((root / "dist" / "wheels").glob("wasix_nano-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    if subprocess.run([py, "-c", "import wasmer_sdk"], capture_output=True).returncode != 0:
        # Running inside a venv (e.g. nox's): its packages are not the "system" ones.
        import wasmer_sdk

        site = Path(wasmer_sdk.__file__).resolve().parent.parent
        purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        Path(purelib, "bench-wasmer-sdk.pth").write_text(f"{site}\n")
    run_timed([py, "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)], what="pip install")
    module = Path(subprocess.run(
        [py, "-c", "import wasix_nano, pathlib; print(pathlib.Path(wasix_nano.__file__).parent / 'bin' / 'nano.wasm')"],
        capture_output=True, text=True, check=True).stdout.strip())
    return venv / "bin" / "nano", module


def measure_launcher(b: Bench) -> Section:
    """``nano --version`` through the wheel's console script against wasmer-sdk directly."""
    sec = Section("launcher", "Launcher start-up: `nano --version`")
    if not b.nano_ok:
        sec.status = NANO_MISSING
        return sec
    script, module = _wheel_venv(b)
    direct = b.scratch("direct") / "direct.py"
    direct.write_text(_DIRECT_SDK)
    warm_cache, direct_cache = b.scratch("wheels-cache"), b.scratch("sdk-cache")
    env = {"WASIX_RUNTIME": "sdk", "WASIX_WHEELS_CACHE": str(warm_cache)}
    launcher_cmd = [str(script), "--version"]
    direct_cmd = [sys.executable, str(direct), str(module), str(direct_cache), "--version"]
    for cmd, cmd_env in ((launcher_cmd, env), (direct_cmd, None)):  # warm both caches, check both
        text = run_timed(cmd, env=cmd_env).stdout
        if "GNU nano, version" not in text:
            raise BenchError(f"{cmd[0]} --version printed {text[:200]!r}, not nano's version")
    warm, sdk, first = [], [], []
    for _ in range(b.repeat):
        warm.append(run_timed(launcher_cmd, env=env).seconds)
        sdk.append(run_timed(direct_cmd).seconds)
        fresh = b.scratch("wheels-cold")
        first.append(run_timed(launcher_cmd, env={**env, "WASIX_WHEELS_CACHE": str(fresh)}).seconds)
        shutil.rmtree(fresh, ignore_errors=True)
    sec.rows += [
        Row("console script `nano --version`, warm", warm, "s"),
        Row("wasmer-sdk directly, minimal script, warm", sdk, "s"),
        ratio_row("launcher / direct", warm, sdk, target=1.3),
        Row("console script, first run (empty $WASIX_WHEELS_CACHE)", first, "s"),
        ratio_row("first run / warm run", first, warm, target=None),
    ]
    sec.notes.append("wheel from `wasix-build wheel nano`, pip install --no-deps into a "
                     "--system-site-packages venv; WASIX_RUNTIME=sdk")
    return sec


def measure_size(b: Bench) -> Section:
    """``nano.wasm`` against a native ``gcc -Os`` build of the same sources and flags."""
    import native

    sec = Section("size", "Size: nano.wasm against native nano (gcc -Os, static ncurses)")
    if not b.nano_ok:
        sec.status = NANO_MISSING
        return sec
    out = b.scratch("size-out")
    summary = json.loads(b.wb("build", "nano", "--out", str(out), "--json").stdout)
    wasm = Path(summary["outputs"]["nano"])
    work = b.scratch("native")
    prefixes = native.build_native("nano", work)
    binary = prefixes["nano"] / "bin" / "nano"
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    if "ncurses" in linked or "tinfo" in linked:
        raise BenchError(f"native nano links a shared ncurses, not the static one just built:\n{linked}")
    wasm_size, native_full = wasm.stat().st_size, binary.stat().st_size
    native_stripped = native.stripped_size(binary, work)
    shutil.rmtree(work, ignore_errors=True)
    ratio = wasm_size / native_stripped
    sec.rows += [
        Row("nano.wasm", [wasm_size], "B"),
        Row("native nano, stripped", [native_stripped], "B"),
        Row("native nano, as installed (symbols kept)", [native_full], "B"),
        Row("nano.wasm / native stripped", [ratio], "x", target="< 1.5x", met=ratio < 1.5),
    ]
    sec.notes.append("native: host gcc -Os, the recipes' sources, patches and configure "
                     "arguments; ncursesw static, the C library shared (nano.wasm carries its libc)")
    return sec


def measure_runtime(b: Bench) -> Section:
    """The built programs' own speed: each workload natively and through its installed wheel."""
    import runtime

    sec = Section("runtime", "Runtime: the collection's programs, native against the installed wheel")
    dist = b.scratch("runtime-dist")
    b.wb("wheel", *b.buildable, "--out", str(dist), what="wasix-build wheel (every buildable package)")
    scratch = b.scratch("runtime")
    venv = runtime._venv_from(dist, None, scratch)
    inputs = scratch / "inputs"
    inputs.mkdir()
    runtime.make_inputs(inputs)
    runtime._fix_workloads(inputs)
    results = runtime.measure(venv, inputs, scratch, b.repeat, set())
    ratios = []
    for r in results:
        if not r.native:
            sec.notes.append(f"{r.name}: {r.note}")
            continue
        sec.rows.append(ratio_row(f"{r.name}: wheel / native", r.wheel, r.native, target=3.0,
                                  note=r.note or f"native {statistics.median(r.native):.2f}s"))  # fmt: skip
        if r.same_output:
            ratios.append(statistics.median(r.ratios))
    if ratios:
        gmean = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        row = Row(f"geometric mean of {len(ratios)} workloads", [gmean], "x", target="< 1.5x", met=gmean < 1.5)
        sec.rows.append(row)
    pipe = runtime.pipe_throughput(venv, inputs, scratch, b.repeat)
    mbps = float(pipe["wheel_mb_per_s"])  # type: ignore[arg-type]
    sec.rows.append(Row("pipe throughput, tar -xOf - of 64 MB (MB/s)", [mbps], "x", target="≥ 200", met=mbps >= 200))
    start = runtime.startup(venv, scratch, b.repeat)
    sec.rows += [Row("gzip --version, warm", start["warm"], "s"),  # type: ignore[arg-type]
                 Row("gzip --version, first run (empty compile cache)", start["first_run"], "s")]  # type: ignore[arg-type]
    for size in runtime.sizes(venv):
        sec.rows.append(Row(f"{size['program']}.wasm / native binary", [int(size["wasm"]) / int(size["native"])], "x"))  # type: ignore[call-overload]
    sec.notes.append("wheels installed into a fresh venv; WASIX_RUNTIME=sdk; each pair back to back from an empty "
                     "directory (or one holding the workload's files); rows whose outputs differ are left out of the mean")
    return sec


MEASUREMENTS: dict[str, Callable[[Bench], Section]] = {
    "driver": measure_driver,
    "noop": measure_noop,
    "overhead": measure_overhead,
    "parallel": measure_parallel,
    "launcher": measure_launcher,
    "size": measure_size,
    "byhand": measure_byhand,
    "cache": cachebench.measure_cache,
    "dask": cachebench.measure_dask,
    "runtime": measure_runtime,
}


# ---------------------------------------------------------------------------- output ---
def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.2f} %"
    if unit == "B":
        return f"{value:,.0f} B"
    return f"{value:g}"


def print_table(sections: list[Section], machine: dict[str, object]) -> None:
    """The results as one rich table; each section's notes are listed under it."""
    from rich.console import Console
    from rich.table import Table

    # Not a terminal (nox, CI logs): rich would wrap at 80 columns and mangle the rows.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    table = Table(title="wasix-backend benchmarks", title_justify="left")
    for col, justify in (("figure", "left"), ("min", "right"), ("median", "right"),
                         ("max", "right"), ("target", "right"), ("result", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    notes: list[str] = []
    for sec in sections:
        table.add_section()
        status = "" if sec.status == "measured" else f"[yellow]{sec.status}[/]"
        refs = ""
        if sec.notes:
            first = len(notes) + 1
            notes += sec.notes
            refs = f" [dim]\\[note {first}{f'-{len(notes)}' if len(notes) > first else ''}][/]"
        load = f" [dim](load {sec.load[0]}→{sec.load[1]})[/]" if sec.load[0] is not None else ""
        table.add_row(f"[bold]{sec.title}[/]{load}{refs}", "", "", "", "", status)
        for row in sec.rows:
            verdict = "" if row.met is None else ("[green]met[/]" if row.met else "[red]MISSED[/]")
            if row.note:
                verdict = f"{verdict} {row.note}".strip()
            n = f" (n={len(row.samples)})" if len(row.samples) > 1 else ""
            table.add_row(f"  {row.label}{n}", _fmt(row.min, row.unit), _fmt(row.median, row.unit),
                          _fmt(row.max, row.unit), row.target, verdict)
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"  [dim]note {i}:[/] {textwrap.shorten(note, 600)}", highlight=False)
    console.print(
        f"cores: {machine['cores']}   toolchain provider: {machine['provider']}   "
        f"load average before/after: {machine['load_before']} / {machine['load_after']}   "
        f"python {machine['python']}   {machine['platform']}   git {machine['git']}",
        highlight=False,
    )


def _git_revision() -> str:
    proc = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    rev = proc.stdout.strip() or "unknown"
    return f"{rev}+dirty" if dirty else rev


def _load() -> float | None:
    with contextlib.suppress(OSError, AttributeError):
        return round(os.getloadavg()[0], 2)
    return None


def write_results(path: Path, doc: dict[str, object]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each cheap figure (default 5)")
    parser.add_argument("--cold-repeat", type=int, default=2, help="runs of each cold build (default 2)")
    parser.add_argument("--quick", action="store_true", help="3 cheap runs, 1 cold run")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    parser.add_argument("--packages", default="",
                        help="comma-separated packages to prepare (default: all; the cold figures need ncurses,nano)")
    parser.add_argument("--output", type=Path, default=HERE / "results.json")
    parser.add_argument("--keep-temp", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.cold_repeat = 3, 1
    chosen = [k.strip() for k in args.only.split(",") if k.strip()] or list(MEASUREMENTS)
    unknown = set(chosen) - set(MEASUREMENTS)
    if unknown:
        parser.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    load_before = _load()
    tmp = Path(tempfile.mkdtemp(prefix="wasix-bench-"))
    # Measure Python as installed code runs it: bytecode cached (pip writes .pyc files). A
    # shell with PYTHONDONTWRITEBYTECODE=1 would recompile every module on every start; the
    # no-op section shows that case too. The cache goes to the scratch dir, not the tree.
    dont_write = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    b = Bench(repeat=max(1, args.repeat), cold_repeat=max(1, args.cold_repeat), tmp=tmp,
              dont_write_bytecode=bool(dont_write),
              only_packages=[p.strip() for p in args.packages.split(",") if p.strip()])
    sections: list[Section] = []
    try:
        print("preparing: building every package into the store (also the warm-up) …", file=sys.stderr)
        prepare(b)
        for key in chosen:
            print(f"measuring {key} …", file=sys.stderr, flush=True)
            before = _load()
            try:
                sec = MEASUREMENTS[key](b)
            except BenchError as exc:
                sec = Section(key, MEASUREMENTS[key].__doc__.splitlines()[0].rstrip("."))
                sec.status = f"not measured ({last_error_line(str(exc))})"
                sec.notes.append(str(exc)[:2000])
            sec.load = (before, _load())
            sections.append(sec)
    finally:
        if not args.keep_temp:
            shutil.rmtree(tmp, ignore_errors=True)
    machine = {
        "cores": os.cpu_count(),
        "provider": b.provider,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": _git_revision(),
        "bytecode_cache": "on (PYTHONPYCACHEPREFIX in the scratch dir)",
        # Other work on the machine skews every figure: the 1-minute load average says how much.
        "load_before": load_before,
        "load_after": _load(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    doc = {
        "machine": machine,
        "settings": {"repeat": b.repeat, "cold_repeat": b.cold_repeat},
        "packages": {"buildable": b.buildable, "not_buildable": b.unbuildable},
        "sections": [s.to_json() for s in sections],
    }
    write_results(args.output, doc)
    print_table(sections, machine)
    print(f"results written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
