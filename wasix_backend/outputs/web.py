"""The ``web`` output: a static site that runs the packages' ``.webc`` in a terminal in the page.

Layout of ``OUT/web/``::

    index.html                  every package written so far: name, version, description,
                                commands, sizes, and why one cannot run in a browser
    coi-serviceworker.js        adds the cross-origin isolation headers on hosts that cannot
    assets/wasix-web.{js,css}   the terminal page's code (this project's)
    assets/sdk/                 Wasmer's JavaScript SDK (npm ``@wasmer/sdk``, pinned)
    assets/xterm/               the terminal (npm ``@xterm/xterm``, pinned)
    p/NAME/index.html           the package's terminal page
    p/NAME/NAME-SEMVER.webc     the package, loaded by the page from the site itself
    p/NAME/meta.json            what the index shows (the index is rebuilt from these)

Everything is static and loaded from the site itself: no registry, CDN or network at run
time. The SDK needs ``SharedArrayBuffer``, so the pages must be cross-origin isolated:
``wasix-build serve`` sends the COOP/COEP headers; elsewhere the service worker adds them
after one reload (hosts: README, "Web output").
"""

from __future__ import annotations

import contextlib
import html
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import WasixError
from ..fsutil import atomic_write_bytes, make_temp_dir, replace_dir
from ..recipe import Recipe
from ..versions import webc_filename
from . import npm

ASSETS = Path(__file__).with_name("web_assets")
#: The environment of every command run in a page: xterm.js is an xterm; the home is the
#: sandbox's writable folder (as the wheels' launcher has it), where programs start.
PAGE_ENV = {"TERM": "xterm-256color", "HOME": "/workspace"}
HOME = "/workspace"
#: Files of the SDK's tarball the browser does not load: type declarations and source maps.
_SDK_SKIP = (".d.ts", ".map")


def unsupported_reason(recipe: Recipe, recipes: Mapping[str, Recipe]) -> str | None:
    """Why ``recipe``'s commands cannot run in a browser page, or None where they can."""
    if recipe.network:
        return "it needs the host's network (sockets): a browser page has none to give it"
    for dep in recipe.run_deps:
        other = recipes.get(dep.name)
        if other is not None and other.network:
            return f"it runs {dep.name}, which needs the host's network (sockets): a browser page has none"
    return None


def _sdk_files(files: dict[str, bytes]) -> dict[str, bytes]:
    keep: dict[str, bytes] = {}
    for rel, data in files.items():
        top, _, rest = rel.partition("/")
        if top not in ("dist", "pkg") or not rest:
            continue
        if rel.endswith(_SDK_SKIP):
            continue
        keep[rel] = data
    keep["LICENSE"] = files["LICENSE"]
    return keep


def _site_assets() -> dict[str, bytes]:
    """Every file under ``assets/`` and the service worker, by path in the site."""
    files: dict[str, bytes] = {}
    sdk = npm.tarball_members(npm.fetch_tarball(npm.WASMER_SDK))
    files.update({f"assets/sdk/{rel}": data for rel, data in _sdk_files(sdk).items()})
    xterm = npm.tarball_members(npm.fetch_tarball(npm.XTERM))
    for rel in ("lib/xterm.mjs", "css/xterm.css", "LICENSE"):
        files[f"assets/xterm/{rel}"] = xterm[rel]
    coi = npm.tarball_members(npm.fetch_tarball(npm.COI_SERVICEWORKER))
    files["coi-serviceworker.js"] = coi["coi-serviceworker.js"]
    for asset in sorted(ASSETS.iterdir()):
        if asset.is_file() and asset.suffix in (".js", ".css"):
            files[f"assets/{asset.name}"] = asset.read_bytes()
    return files


def write_assets(site: Path) -> None:
    """Write the shared files (SDK, terminal, page code, service worker) unless the site
    already has exactly these; ``assets/`` is replaced whole, never left half-written."""
    files = _site_assets()
    stamp = json.dumps({p: len(d) for p, d in sorted(files.items())}, sort_keys=True).encode()
    import hashlib

    stamp_digest = hashlib.sha256(stamp + b"".join(files[p] for p in sorted(files))).hexdigest()
    marker = site / "assets" / ".stamp"
    with contextlib.suppress(OSError):
        if marker.read_text(encoding="utf-8") == stamp_digest and (site / "coi-serviceworker.js").is_file():
            return
    site.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(site / "assets")
    try:
        for rel, data in files.items():
            if not rel.startswith("assets/"):
                continue
            dest = tmp / rel.removeprefix("assets/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (tmp / ".stamp").write_text(stamp_digest, encoding="utf-8")
        replace_dir(tmp, site / "assets")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(site / "coi-serviceworker.js", files["coi-serviceworker.js"])


def _webc_for_browser(recipe: Recipe, prefix: Path, dest: Path, versions: Mapping[str, str]) -> Path:
    """Write ``recipe``'s ``.webc`` to ``dest`` without ``[dependencies]``: a page loads the
    packages whose commands it runs from the site itself, into the same sandbox, where the
    runtime would otherwise resolve them from its registry."""
    import tomlkit

    from .wasmer_pkg import write_wasmer_package
    from .webc import write_webc

    with tempfile.TemporaryDirectory(prefix="wasix-web-") as tmp:
        pkg_dir = write_wasmer_package(recipe, prefix, Path(tmp), versions=versions)
        manifest = pkg_dir / "wasmer.toml"
        doc = tomlkit.parse(manifest.read_text(encoding="utf-8"))
        doc.pop("dependencies", None)
        manifest.write_text(tomlkit.dumps(doc), encoding="utf-8")
        return write_webc(pkg_dir, dest)


def _styles() -> str:
    return '<link rel="stylesheet" href="{root}assets/xterm/css/xterm.css">\n' \
        '<link rel="stylesheet" href="{root}assets/wasix-web.css">'  # fmt: skip


def _head(title: str, root: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        # First: on a host without the headers it registers itself and reloads the page once.
        f'<script src="{root}coi-serviceworker.js"></script>\n'
        f"{_styles().format(root=root)}\n</head>\n"
    )


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


def _package_page(meta: dict[str, Any]) -> str:
    name = html.escape(meta["name"])
    body = [
        _head(f"{meta['name']} {meta['version']}", "../../"),
        "<body>\n",
        '<p class="nav"><a href="../../index.html">all packages</a></p>\n',
        f"<h1>{name} <small>{html.escape(meta['version'])}</small></h1>\n",
        f"<p>{html.escape(meta['description'])}</p>\n",
        f"<p>Commands: <code>{html.escape(' '.join(meta['commands']))}</code> · package "
        f"{_size(meta['webc_bytes'])}</p>\n",
    ]
    if meta.get("unsupported"):
        body.append(f'<p class="unsupported">Does not run in a browser: {html.escape(meta["unsupported"])}</p>\n')
    # The page's data, read by wasix-web.js; "</" cannot end the script early in JSON text.
    data = json.dumps(meta, sort_keys=True).replace("</", "<\\/")
    body += [
        '<div id="terminal"></div>\n',
        f'<script type="application/json" id="wasix-package">{data}</script>\n',
        '<script type="module" src="../../assets/wasix-web.js"></script>\n',
        "</body>\n</html>\n",
    ]
    return "".join(body)


def _index_page(metas: list[dict[str, Any]], shared_bytes: int) -> str:
    rows = []
    for m in metas:
        name = html.escape(m["name"])
        state = html.escape(m["unsupported"]) if m.get("unsupported") else "runs in the page"
        rows.append(
            f'<tr><td><a href="p/{name}/index.html">{name}</a></td><td>{html.escape(m["version"])}</td>'
            f"<td>{html.escape(m['description'])}</td><td><code>{html.escape(' '.join(m['commands']))}</code></td>"
            f"<td>{_size(m['webc_bytes'])}</td><td>{state}</td></tr>\n"
        )
    return (
        _head("WASIX packages", "")
        + "<body>\n<h1>WASIX packages</h1>\n"
        + "<p>Each page runs the package's commands in a terminal, in this browser, with "
        "Wasmer's JavaScript SDK; nothing is fetched from elsewhere. "
        f"Shared by every page: {_size(shared_bytes)} (runtime, terminal).</p>\n"
        "<table>\n<tr><th>package</th><th>version</th><th>description</th><th>commands</th>"
        "<th>size</th><th>in a browser</th></tr>\n" + "".join(rows) + "</table>\n</body>\n</html>\n"
    )


def write_index(site: Path) -> Path:
    """(Re)write ``site/index.html`` from every package's ``meta.json``."""
    metas = []
    for meta_file in sorted((site / "p").glob("*/meta.json")):
        with contextlib.suppress(OSError, ValueError):
            metas.append(json.loads(meta_file.read_text(encoding="utf-8")))
    shared = sum(p.stat().st_size for p in (site / "assets").rglob("*") if p.is_file())
    return atomic_write_bytes(site / "index.html", _index_page(metas, shared).encode())


def write_web(recipe: Recipe, prefix: Path, out: Path, recipes: Mapping[str, Recipe]) -> list[Path]:
    """Write ``recipe``'s page and ``.webc`` into ``out/web`` (and the shared files the first
    time), then the index; the paths written. The page of a package that cannot run in a
    browser says why instead of loading it."""
    from ..rundeps import runtime_closure

    site = Path(out) / "web"
    write_assets(site)
    versions = {name: r.version for name, r in recipes.items()}
    commands = list(recipe.command_map())
    if not commands:
        raise WasixError(f"{recipe.name}: no commands: web pages are made for programs")
    page_dir = site / "p" / recipe.name
    tmp = make_temp_dir(page_dir)
    try:
        webc = _webc_for_browser(recipe, prefix, tmp / webc_filename(recipe.name, recipe.version), versions)
        deps = [d for d in runtime_closure(recipes, recipe.name) if d != recipe.name]
        meta: dict[str, Any] = {
            "name": recipe.name,
            "version": recipe.version,
            "description": recipe.description or recipe.name,
            "commands": commands,
            "webc_bytes": webc.stat().st_size,
            # The package first (its commands run), then the ones whose commands it runs.
            "webc": [webc.name] + [f"../{d}/{webc_filename(d, recipes[d].version)}" for d in deps],
            "env": PAGE_ENV,
            "cwd": HOME,
            "unsupported": unsupported_reason(recipe, recipes),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / "index.html").write_text(_package_page(meta), encoding="utf-8")
        replace_dir(tmp, page_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    index = write_index(site)
    return [page_dir / "index.html", page_dir / webc.name, index]
