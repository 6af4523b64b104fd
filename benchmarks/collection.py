"""The collection's cold build times and module sizes, next to the native binaries' sizes.

Reads them from a store whose entries were built cold (each package once, its dependencies
before it — as the test session's store after a fresh ``.ci/run``): every entry's record
keeps its build seconds and the size of each module. Writes ``collection`` into
benchmarks/results.json and prints a table.

    python benchmarks/collection.py STORE [--results benchmarks/results.json] [--package NAME …]

``--package`` measures only the named packages and replaces their rows, keeping the others'
(a package added since the last cold build of everything).

The native sizes are those of the Debian binaries the differential tests compare with
(stripped, built with Debian's usual -O2); the WASIX modules are asyncified and optimised
by wasm-opt -O2 and statically linked (libc included), so the ratio is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _record(store: Path, name: str, version: str) -> dict | None:
    entries = sorted(store.glob(f"*-{name}-{version}/.wasix-build.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(entries[-1].read_text()) if entries else None


def _natives(cases: dict) -> dict[str, str]:
    """command -> native binary, from a cases.toml's defaults and cases."""
    defaults = cases.get("defaults", {})
    out = {defaults.get("command", ""): defaults.get("native", ""), **defaults.get("natives", {})}
    for case in cases.get("case", []):
        for step in [case, *case.get("step", [])]:
            if step.get("command") and step.get("native"):
                out[step["command"]] = step["native"]
    return {k: v for k, v in out.items() if k and v}


def _native_of(command: str, natives: dict[str, str]) -> str | None:
    """As the runner: a command without a named native is Debian's /usr/bin/NAME."""
    candidates = [natives[command]] if natives.get(command) else [f"/usr/bin/{command}", f"/bin/{command}"]
    return next((p for p in candidates if os.path.isfile(p)), None)


def collect(store: Path, only: frozenset[str] = frozenset()) -> list[dict]:
    """A row per package with a cases.toml (only the ``only`` ones, when given)."""
    rows = []
    for cases_toml in sorted((ROOT / "plugins").glob("*/cases.toml")):
        folder = cases_toml.parent
        if only and folder.name not in only:
            continue
        recipe = tomllib.loads((folder / "recipe.toml").read_text())
        name, version = recipe["package"]["name"], recipe["package"]["version"]
        record = _record(store, name, version)
        cases = tomllib.loads(cases_toml.read_text())
        row: dict = {"package": name, "version": version, "cases": len(cases.get("case", [])),
                     "marked": sum(1 for c in cases.get("case", []) if "xfail" in c)}  # fmt: skip
        if record is None:
            row["status"] = "not in the store"
            rows.append(row)
            continue
        row.update(provider=record.get("toolchain"), cold_build_seconds=record.get("seconds"), modules={})
        natives = _natives(cases)
        commands = recipe.get("outputs", {}).get("commands", {})
        for module, size in sorted(record.get("sizes", {}).items()):
            native = _native_of(module, natives)
            native_size = os.stat(native).st_size if native else None
            serves = [c for c, m in commands.items() if m == module and c != module]
            if native is None and serves:
                # One module acting as many commands (coreutils' single binary): against the
                # Debian programs of those commands, together.
                found = [n for n in (_native_of(c, natives) for c in serves) if n]
                native = f"the {len(found)} Debian programs of its commands (/usr/bin/NAME), together"
                native_size = sum(os.stat(n).st_size for n in found) or None
            row["modules"][module] = {"wasm_bytes": size, "native": native, "native_bytes": native_size,
                                      "ratio": round(size / native_size, 2) if native_size else None}  # fmt: skip
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results.json")
    ap.add_argument("--package", action="append", default=[], help="only this package (repeatable); the other rows are kept")
    args = ap.parse_args()
    rows = collect(args.store, frozenset(args.package))
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    note = __doc__.split("\n\n")[-1].strip()
    if args.package:  # merge: the rows of the other packages stay as they were measured
        old = results.get("collection", {})
        kept = [r for r in old.get("packages", []) if r.get("package") not in args.package]
        stores = {**old.get("stores", {}), **{name: str(args.store) for name in args.package}}
        results["collection"] = {**old, "note": note, "stores": stores,
                                 "packages": sorted(kept + rows, key=lambda r: r["package"])}  # fmt: skip
    else:
        results["collection"] = {"store": str(args.store), "note": note, "packages": rows}
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{'package':14} {'version':10} {'cold s':>7}  {'module':10} {'wasm':>9} {'native':>9} {'ratio':>6}  cases (marked)")
    for row in rows:
        mods = row.get("modules") or {"-": {}}
        for i, (module, m) in enumerate(mods.items()):
            head = f"{row['package']:14} {row['version']:10} {row.get('cold_build_seconds') or 0:7.1f}" if i == 0 else " " * 33
            tail = f"  {row['cases']} ({row['marked']})" if i == 0 else ""
            native, ratio = m.get("native_bytes"), m.get("ratio")
            print(f"{head}  {module:10} {m.get('wasm_bytes') or 0:9,} {f'{native:,}' if native else '-':>9} "
                  f"{f'{ratio:.2f}' if ratio else '-':>6}{tail}")  # fmt: skip


if __name__ == "__main__":
    main()
