"""The ``web`` output and ``wasix-build serve``: pinned npm tarballs, the site's files, and the
pages in a real browser (Debian's headless Chromium) against the native programs.

Unit tier: the npm pins (registry from npm's configuration, sha256 and integrity checks, the
source cache) against a real HTTP server on 127.0.0.1, the site writer on a fake package, the
server's headers. Collection tier: bc, grep, lua, sqlite3 and bash built for real, their site
served by ``wasix-build serve`` and by a plain static server without the headers (the service
worker's path), typed into in Chromium, and the terminal's text compared with the native
program's output.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest
from chromium import Page, browser_problem, serve_site
from httpserver import serve

from wasix_backend.errors import FetchError, SourcesUnreachable
from wasix_backend.outputs import npm

REPO = Path(__file__).resolve().parents[1]


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _pin_for(name: str, data: bytes, *, integrity: str | None = None) -> npm.NpmPin:
    return npm.NpmPin(name, "1.2.3", integrity or npm.integrity_of(data), hashlib.sha256(data).hexdigest())


# ------------------------------------------------------------------------------ npm pins ---
def test_registry_comes_from_npm_configuration(tmp_path: Path) -> None:
    rc = tmp_path / "npmrc"
    rc.write_text("fund=false\nregistry = http://127.0.0.1:9/from-rc/\n")
    env = {"PATH": "", "NPM_CONFIG_USERCONFIG": str(rc), "NPM_CONFIG_GLOBALCONFIG": str(tmp_path / "none")}
    assert npm.registry_url(env) == "http://127.0.0.1:9/from-rc/"
    # The variable wins over the file, as in npm (any case).
    assert npm.registry_url({**env, "NPM_CONFIG_REGISTRY": "http://127.0.0.1:9/env/"}) == "http://127.0.0.1:9/env/"
    # Nothing configured and no npm to ask: no registry (the mirror is still tried).
    empty = {"PATH": "", "NPM_CONFIG_USERCONFIG": str(tmp_path / "x"), "NPM_CONFIG_GLOBALCONFIG": str(tmp_path / "y")}
    assert npm.registry_url(empty) is None


def test_tarball_is_fetched_verified_and_cached(tmp_path: Path) -> None:
    data = _tarball({"a.js": b"export const a = 1;\n"})
    pin = _pin_for("@scope/thing", data)
    root = tmp_path / "registry"
    (root / "@scope/thing/-").mkdir(parents=True)
    (root / "@scope/thing/-/thing-1.2.3.tgz").write_bytes(data)
    cache = tmp_path / "cache"
    with serve(root) as srv:
        got = npm.fetch_tarball(pin, cache_dir=cache, mirror=tmp_path / "no-mirror", registry=srv.url + "/")
        assert srv.requests == ["/@scope/thing/-/thing-1.2.3.tgz"]
        # Cached under its sha256 like any source: the second time asks nobody.
        again = npm.fetch_tarball(pin, cache_dir=cache, mirror=tmp_path / "no-mirror", registry=srv.url + "/")
        assert len(srv.requests) == 1
    assert got == again == data
    assert (cache / f"{pin.sha256}-scope-thing-1.2.3.tgz").is_file()
    assert npm.tarball_members(data) == {"a.js": b"export const a = 1;\n"}


def test_mirror_is_tried_first_and_wrong_integrity_is_refused(tmp_path: Path) -> None:
    data = _tarball({"a.js": b"1"})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "thing-1.2.3.tgz").write_bytes(data)
    assert npm.fetch_tarball(_pin_for("thing", data), cache_dir=tmp_path / "c1", mirror=mirror, registry="") == data
    # The sha256 matches but the registry's integrity does not: not used.
    bad = _pin_for("thing", data, integrity="sha512-" + "A" * 86 + "==")
    with pytest.raises(FetchError, match="integrity mismatch"):
        npm.fetch_tarball(bad, cache_dir=tmp_path / "c2", mirror=mirror, registry="")


def test_unreachable_tarball_says_where_to_put_it(tmp_path: Path) -> None:
    pin = _pin_for("thing", b"never served")
    with pytest.raises(SourcesUnreachable, match=r"thing-1\.2\.3\.tgz(.|\n)*No npm registry is configured here: apt-get install npm"):
        npm.fetch_tarball(pin, cache_dir=tmp_path / "c", mirror=tmp_path / "empty", registry="")


def test_pins_are_well_formed() -> None:
    for pin in npm.PINS:
        assert pin.integrity.startswith("sha512-") and len(pin.sha256) == 64
    assert npm.WASMER_SDK.tarball_path() == "@wasmer/sdk/-/sdk-0.16.0.tgz"
    assert npm.WASMER_SDK.filename == "wasmer-sdk-0.16.0.tgz"


# ------------------------------------------------------------------------------- server ---
def test_serve_sends_the_isolation_headers(tmp_path: Path) -> None:
    from chromium import free_port, server

    (tmp_path / "index.html").write_text("<p>hi</p>")
    (tmp_path / "m.mjs").write_text("export {};")
    port = free_port()

    argv = [sys.executable, "-m", "wasix_backend", "serve", str(tmp_path), "--port", str(port)]
    with server(argv, port) as url:
        with urllib.request.urlopen(url + "/index.html") as r:
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with urllib.request.urlopen(url + "/m.mjs") as r:
            assert r.headers["Content-Type"].startswith("text/javascript")


def test_serve_refuses_a_directory_without_a_site(tmp_path: Path, wb, capsys) -> None:
    assert wb("serve", str(tmp_path), "--port", "0") == 1
    assert "wasix-build web" in capsys.readouterr().err


# ------------------------------------------------------------------------ site (unit) ---
def _fake_recipe(name: str, **kw):
    from wasix_backend.recipe import Recipe

    return Recipe(name=name, version="1.0", description=f"{name} for tests", binaries=(name,), **kw)


def _fake_prefix(tmp_path: Path, name: str) -> Path:
    prefix = tmp_path / f"prefix-{name}"
    (prefix / "bin").mkdir(parents=True)
    # A minimal module: the site writer packs it; only a browser test runs real ones.
    (prefix / "bin" / f"{name}.wasm").write_bytes(b"\0asm\1\0\0\0")
    return prefix


def test_site_lists_packages_and_says_why_one_cannot_run(tmp_path: Path) -> None:
    from wasix_backend.outputs.web import write_web

    hello, net = _fake_recipe("hello"), _fake_recipe("netty", network=True)
    recipes = {"hello": hello, "netty": net}
    write_web(hello, _fake_prefix(tmp_path, "hello"), tmp_path / "dist", recipes)
    write_web(net, _fake_prefix(tmp_path, "netty"), tmp_path / "dist", recipes)
    site = tmp_path / "dist" / "web"
    index = (site / "index.html").read_text()
    assert 'href="p/hello/index.html"' in index and 'href="p/netty/index.html"' in index
    assert "hello for tests" in index and "needs the host&#x27;s network" in index
    meta = json.loads((site / "p/netty/meta.json").read_text())
    assert meta["unsupported"] and meta["commands"] == ["netty"]
    assert "Does not run in a browser" in (site / "p/netty/index.html").read_text()
    hello_meta = json.loads((site / "p/hello/meta.json").read_text())
    assert hello_meta["unsupported"] is None
    assert (site / "p/hello" / hello_meta["webc"][0]).read_bytes().startswith(b"\0webc")
    # The shared files come from the pinned tarballs, served by the site itself.
    assert (site / "assets/sdk/pkg/wasmer_sdk_js_bg.wasm").read_bytes().startswith(b"\0asm")
    assert (site / "assets/xterm/lib/xterm.mjs").is_file() and (site / "coi-serviceworker.js").is_file()
    assert "http" not in (site / "p/hello/index.html").read_text().replace("http-equiv", "")


def test_run_dependencies_are_loaded_from_their_own_pages_not_a_registry(tmp_path: Path) -> None:
    from wasix_backend.outputs.web import write_web
    from wasix_backend.outputs.webc import read_webc
    from wasix_backend.recipe import Dependency

    hello = _fake_recipe("hello")
    user = _fake_recipe("user", run_deps=(Dependency("hello"),))
    recipes = {"hello": hello, "user": user}
    write_web(user, _fake_prefix(tmp_path, "user"), tmp_path / "dist", recipes)
    page = tmp_path / "dist/web/p/user"
    meta = json.loads((page / "meta.json").read_text())
    assert meta["webc"] == ["user-1.0.0.webc", "../hello/hello-1.0.0.webc"]
    assert not read_webc(page / "user-1.0.0.webc")["manifest"].get("use")


def test_real_network_package_is_listed_as_not_running_in_a_browser() -> None:
    from wasix_backend.outputs.web import unsupported_reason
    from wasix_backend.plugins import load_plugins

    recipes = load_plugins(entry_points=False).recipes
    assert "network" in (unsupported_reason(recipes["curl"], recipes) or "")
    assert unsupported_reason(recipes["grep"], recipes) is None


# ------------------------------------------------------------------- in a real browser ---
#: (package, command line typed, stdin lines typed, the native command). The terminal's text
#: of the run, less the lines the terminal echoed as they were typed, equals the native
#: program's output on the same input.
CASES = {
    "grep": ("grep -c an", ["banana", "apple", "orange", "mango"], ["grep", "-c", "an"]),
    "bc": ("bc -q", ["2^100", "obase=16", "255*255"], ["bc", "-q"]),
    "lua": ("lua -e \"for i = 1, 3 do print(i, string.rep('ab', i), 2^i) end\"", [],
            ["lua5.4", "-e", "for i = 1, 3 do print(i, string.rep('ab', i), 2^i) end"]),
    "sqlite3": ("sqlite3 -batch", ["create table t(x);", "insert into t values (3), (4), (5);",
                                   "select group_concat(x * x, '+'), sum(x * x) from t;"], ["sqlite3", "-batch"]),
    "bash": ("bash -c 'for i in 1 2 3; do echo $((i * i)); done | while read n; do echo \"square $n\"; done | "
             "{ read first; echo \"first: $first\"; while read rest; do echo \"then: $rest\"; done; }'", [],
             ["bash", "-c", "for i in 1 2 3; do echo $((i * i)); done | while read n; do echo \"square $n\"; done | "
              "{ read first; echo \"first: $first\"; while read rest; do echo \"then: $rest\"; done; }"]),
    # system() runs sh: bash, a run dependency, loaded into the same sandbox from its own page.
    "gawk": ("gawk '{ n += NF } END { system(\"echo from sh: $((6 * 7))\"); print NR, n }'", ["a b c", "d e"],
             ["gawk", "{ n += NF } END { system(\"echo from sh: $((6 * 7))\"); print NR, n }"]),
}
#: The browser tests share one site and one browser: one xdist worker runs them all.
BROWSER_GROUP = pytest.mark.xdist_group("web-browser")
PACKAGES = {"grep": "grep", "bc": "bc", "lua": "lua5.4", "sqlite3": "sqlite3", "bash": "bash", "gawk": "gawk"}
#: Built into the site too: a full-screen program, and one that runs other packages' commands.
MORE_PACKAGES = ("nano", "tar")


def _native(argv: list[str], stdin_lines: list[str]) -> str:
    if not shutil.which(argv[0]):
        pytest.skip(reason=f"native {argv[0]} missing: install the README's test packages (apt-get install … {argv[0]})")
    stdin = "".join(f"{line}\n" for line in stdin_lines)
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    # As a terminal shows it: tabs to the next multiple of 8 columns, no trailing blanks.
    text = (done.stdout + done.stderr).rstrip("\n").expandtabs(8)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _without_echo(text: str, typed: list[str]) -> str:
    """The terminal's text less the typed lines it echoed, each once, in order."""
    lines, pending = text.split("\n"), list(typed)
    kept = []
    for line in lines:
        if pending and line == pending[0]:
            pending.pop(0)
            continue
        kept.append(line)
    assert not pending, f"the terminal did not echo {pending!r}:\n{text}"
    return "\n".join(kept)


@pytest.fixture(scope="module")
def browser() -> Page:
    problem = browser_problem()
    if problem:
        pytest.skip(reason=problem)
    page = Page()
    yield page
    page.close()


@pytest.fixture(scope="module")
def web_site(provider_env, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``wasix-build web`` of the packages of :data:`CASES`, built with the wasix provider."""
    from wasix_backend.cli import main

    out = tmp_path_factory.mktemp("web") / "dist"
    mp = pytest.MonkeyPatch()
    for key, value in provider_env("wasix").items():
        mp.setenv(key, value)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["web", *sorted(set(PACKAGES.values())), *MORE_PACKAGES, "--out", str(out)])
    finally:
        mp.undo()
    assert status == 0
    return out / "web"


def _artifacts() -> Path:
    where = Path(os.environ.get("WASIX_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.collection
@BROWSER_GROUP
def test_site_index_lists_every_package(web_site: Path) -> None:
    index = (web_site / "index.html").read_text()
    for package in PACKAGES.values():
        meta = json.loads((web_site / "p" / package / "meta.json").read_text())
        assert f'href="p/{package}/index.html"' in index and meta["unsupported"] is None
        assert (web_site / "p" / package / meta["webc"][0]).stat().st_size == meta["webc_bytes"]


@pytest.mark.collection
@BROWSER_GROUP
@pytest.mark.parametrize("host", ["serve", "static"])  # wasix-build serve; a host sending no headers
@pytest.mark.parametrize("case", sorted(CASES))
def test_terminal_shows_what_the_native_program_prints(case: str, host: str, web_site: Path, browser: Page) -> None:
    command_line, stdin_lines, native = CASES[case]
    with serve_site(web_site, isolate=host == "serve") as url:
        status = browser.open(f"{url}/p/{PACKAGES[case]}/index.html")
        assert status["state"] == "ready" and status["isolated"], f"{status}\n{browser.screen()}"
        status = browser.run(command_line, stdin_lines)
    assert status["exitCode"] == 0, browser.screen()
    assert _without_echo(status["output"], stdin_lines) == _native(native, stdin_lines)


@pytest.mark.collection
@BROWSER_GROUP
def test_static_host_without_headers_works_through_the_service_worker(web_site: Path, browser: Page) -> None:
    stdin_lines = ["one banana", "two", "three bananas"]
    with serve_site(web_site, isolate=False) as url:
        with urllib.request.urlopen(url + "/index.html") as r:
            assert r.headers["Cross-Origin-Opener-Policy"] is None  # a plain host indeed
        status = browser.open(f"{url}/p/grep/index.html")
        assert status["state"] == "ready" and status["isolated"], f"{status}\n{browser.screen()}"
        status = browser.run("grep -n banana", stdin_lines)
        browser.driver.save_screenshot(str(_artifacts() / "web-grep.png"))
    assert _without_echo(status["output"], stdin_lines) == _native(["grep", "-n", "banana"], stdin_lines)


@pytest.mark.collection
@BROWSER_GROUP
def test_a_webc_that_fails_to_load_shows_the_runtime_error(web_site: Path, browser: Page, tmp_path: Path) -> None:
    site = tmp_path / "web"
    shutil.copytree(web_site, site)
    meta = json.loads((site / "p/grep/meta.json").read_text())
    webc = site / "p/grep" / meta["webc"][0]
    webc.write_bytes(webc.read_bytes()[:1000])  # cut short: not a package any more
    page = site / "p/bc/index.html"  # as if bc needed the network
    page.write_text(page.read_text().replace('"unsupported": null', '"unsupported": "it needs a test reason"'))
    with serve_site(site) as url:
        status = browser.open(f"{url}/p/grep/index.html")
        assert status["state"] == "failed" and status["error"]
        assert f"cannot load grep: {status['error']}" in browser.screen().replace("\n", "")
        status = browser.open(f"{url}/p/bc/index.html")
        assert status["state"] == "failed"
        assert "bc does not run in a browser: it needs a test reason" in browser.screen()


@pytest.mark.collection
@BROWSER_GROUP
def test_unknown_command_and_bad_quotes_are_said_in_the_terminal(web_site: Path, browser: Page) -> None:
    with serve_site(web_site) as url:
        browser.open(f"{url}/p/bc/index.html")
        browser.type("lua -v\n")
        browser.wait_screen("lua: not a command of bc; its commands: bc dc")
        browser.type("bc 'unclosed\n")
        browser.wait_screen("unclosed '")
        # Still at a prompt: the next command runs.
        status = browser.run("bc -q", ["6*7"])
    assert _without_echo(status["output"], ["6*7"]) == "42"


@pytest.mark.collection
@BROWSER_GROUP
def test_ctrl_c_stops_the_program_and_the_prompt_comes_back(web_site: Path, browser: Page) -> None:
    with serve_site(web_site) as url:
        browser.open(f"{url}/p/grep/index.html")
        status = browser.run("grep never", ["waiting for more"], end="c")
        assert status["exitCode"] == 137 and status["output"].endswith("^C\n[exit status 137]")
        status = browser.run("grep -c o", ["one", "two", "three"])
    assert _without_echo(status["output"], ["one", "two", "three"]) == "2"


@pytest.mark.collection
@BROWSER_GROUP
def test_full_screen_nano_edits_and_saves_a_file_in_the_sandbox(web_site: Path, browser: Page) -> None:
    with serve_site(web_site) as url:
        browser.open(f"{url}/p/nano/index.html")
        browser.type("nano notes.txt\n")
        browser.wait_screen("^X Exit")
        browser.type("hello from the browser")
        browser.ctrl("c")  # on the alternate screen Ctrl-C is nano's key (cursor position), not a kill
        browser.wait_screen("col 23/23")
        browser.ctrl("o")
        browser.wait_screen("File Name to Write")
        browser.type("\n")
        browser.wait_screen("Wrote 1 line")
        browser.ctrl("x")
        status = browser.wait(lambda s: s["state"] == "ready" and s["runs"] == 1)
        assert status["exitCode"] == 0
        # The file stays in the sandbox's /workspace for the next command.
        browser.type("nano notes.txt\n")
        assert "hello from the browser" in browser.wait_screen("Read 1 line")
        browser.ctrl("x")
        browser.wait(lambda s: s["state"] == "ready" and s["runs"] == 2)


@pytest.mark.collection
@BROWSER_GROUP
def test_tar_runs_xz_from_its_run_dependency(web_site: Path, browser: Page) -> None:
    with serve_site(web_site) as url:
        browser.open(f"{url}/p/tar/index.html")
        status = browser.run("tar -cJf bin.txz /bin", [])
        assert status["exitCode"] == 0, browser.screen()
        status = browser.run("tar -tJf bin.txz", [])
    assert status["exitCode"] == 0
    listed = set(status["output"].split("\n"))
    assert {"bin/tar", "bin/xz", "bin/bash"} <= listed, status["output"]
