"""Binary caches over HTTP: a real nginx (WebDAV PUT) and this suite's own HTTP server for a
download that breaks off; a cache that is down; a read-only cache on push."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from httpserver import serve
from nginxserver import free_port, nginx_cache, nginx_problem
from test_binary_cache import build_b, cache_env, push, wb  # noqa: F401  (cache_env: a fixture)

pytestmark = [pytest.mark.build, pytest.mark.skipif(nginx_problem() is not None, reason=str(nginx_problem()))]


@pytest.fixture
def nginx(tmp_path: Path):
    with nginx_cache(tmp_path / "nginx") as srv:
        yield srv


def test_push_and_pull_over_webdav(cache_env, nginx, capsys) -> None:  # noqa: F811
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "hello", "--store", str(store_a), "--out", "dist-a")[0] == 0
    url = nginx.url("cache")
    assert push(cache_env, store_a, "hello", url=url) == 0  # hello and its dependency greet
    assert len(list((nginx.root / "cache").glob("*.json"))) == 2
    assert push(cache_env, store_a, "hello", url=url) == 0
    assert capsys.readouterr().err.count("already in") == 2
    status, rows = wb(cache_env, "build", "hello", "--store", str(cache_env.root / "b" / "store"),
                      "--out", "dist-b", "--substituter", url)
    err = capsys.readouterr().err
    assert status == 0 and {rows[n]["status"] for n in ("greet", "hello")} == {"pulled"}, err
    assert ": compile" not in err


def test_read_only_cache_on_push(cache_env, nginx, capsys) -> None:  # noqa: F811
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "solo", "--store", str(store_a), "--out", "dist-a")[0] == 0
    assert push(cache_env, store_a, "solo", url=nginx.url("readonly")) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "solo: cannot push to" in err and "405" in err and "does the server accept PUT?" in err


def test_cache_server_down(cache_env, capsys) -> None:  # noqa: F811
    row, err = build_b(cache_env, capsys, f"http://127.0.0.1:{free_port()}/cache")
    assert row["status"] == "built" and "cannot be reached" in err and "building without it" in err


def test_download_breaks_off(cache_env, capsys) -> None:  # noqa: F811
    """A server that announces the whole archive and closes the connection halfway."""
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "solo", "--store", str(store_a), "--out", "dist-a")[0] == 0
    assert push(cache_env, store_a, "solo") == 0  # into the file:// folder, served below
    manifest = json.loads(next(cache_env.cache.glob("*.json")).read_text())["manifest"]
    archive = manifest["archive"]["file"]
    with serve(cache_env.cache, truncate={f"/{archive}": 200}) as srv:
        row, err = build_b(cache_env, capsys, srv.url)
        assert f"/{archive}" in srv.requests
    assert row["status"] == "built" and "solo 1.0: refusing the entry from" in err
    assert "broke off after" in err or "truncated" in err
