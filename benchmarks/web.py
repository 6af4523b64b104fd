"""The web output's figures: page load to the first prompt, cold and cached, and the site's size
per package. Not a test: ``python benchmarks/web.py [SITE]`` after ``wasix-build web NAME…``.

Each package page is opened in a fresh headless Chromium (Debian's ``chromium`` and
``chromium-driver``, selenium from the test extra): *cold* is the first load with an empty
profile; *cached* is a reload in the same browser (files revalidated with the server, 304s,
and whatever the SDK kept). The time is the page's own ``performance.now()`` when the prompt
appears: SDK start, ``.webc`` download and load, sandbox creation. Served by ``wasix-build
serve``'s server (with the headers) from a thread, on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chromium import Page, browser_problem  # the tests' driver

from wasix_backend.outputs.serve import make_server


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default="dist/web")
    parser.add_argument("--repeat", type=int, default=3, help="fresh browsers per package (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    problem = browser_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    site = Path(args.site)
    server = make_server(site, 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    shared = _dir_bytes(site / "assets") + (site / "coi-serviceworker.js").stat().st_size
    rows = []
    try:
        for meta_file in sorted((site / "p").glob("*/meta.json")):
            meta = json.loads(meta_file.read_text())
            # What the page downloads besides the shared files: its .webc and its run deps'.
            loads = [(meta_file.parent / rel).resolve() for rel in meta["webc"]]
            row = {"package": meta["name"], "webc_bytes": meta["webc_bytes"],
                   "page_bytes": sum(p.stat().st_size for p in loads if p.is_file()) + (meta_file.parent / "index.html").stat().st_size,
                   "unsupported": meta["unsupported"]}  # fmt: skip
            if not meta["unsupported"]:
                cold, cached = [], []
                for _ in range(args.repeat):
                    page = Page()
                    try:
                        url = f"{base}/p/{meta['name']}/index.html"
                        status = page.open(url)
                        if status["state"] != "ready":
                            row["error"] = status["error"]
                            break
                        cold.append(status["loadedMs"])
                        cached.append(page.open(url)["loadedMs"])
                    finally:
                        page.close()
                row["cold_ms"] = [round(x) for x in cold]
                row["cached_ms"] = [round(x) for x in cached]
            rows.append(row)
    finally:
        server.shutdown()
    if args.json:
        print(json.dumps({"shared_bytes": shared, "packages": rows}, indent=1))
        return 0
    print(f"shared by every page (runtime, terminal, page code): {shared / 1e6:.2f} MB")
    print(f"{'package':<10} {'webc':>9} {'page loads':>11} {'cold ms (median)':>17} {'cached ms (median)':>19}  note")
    for r in rows:
        med = lambda xs: f"{statistics.median(xs):.0f}" if xs else "—"  # noqa: E731
        note = r.get("error") or r["unsupported"] or ""
        print(f"{r['package']:<10} {r['webc_bytes'] / 1e3:>7.0f}kB {r['page_bytes'] / 1e3:>9.0f}kB {med(r.get('cold_ms', [])):>17} "
              f"{med(r.get('cached_ms', [])):>19}  {note}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
