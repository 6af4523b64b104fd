"""End to end: nano and ncurses pushed to a real nginx WebDAV cache, pulled into a second,
empty store somewhere else without compiling anything, and the pulled nano runs under Wasmer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cachehelpers import keygen, run_json
from nginxserver import nginx_cache, nginx_problem

from wasix_backend.cli import main
from wasix_backend.runtime import run

pytestmark = [pytest.mark.build, pytest.mark.skipif(nginx_problem() is not None, reason=str(nginx_problem()))]


@pytest.mark.parametrize("provider", ["wasix"], indirect=True)  # one provider is enough: the cache is provider-blind
def test_second_store_pulls_nano(built_nano, provider_env, tmp_path: Path, monkeypatch, capsys) -> None:
    for key, value in provider_env(built_nano["provider"]).items():
        monkeypatch.setenv(key, value)
    secret, public = keygen(tmp_path / "keys")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", public)
    monkeypatch.delenv("WASIX_SUBSTITUTERS", raising=False)
    monkeypatch.chdir(tmp_path)
    with nginx_cache(tmp_path / "nginx") as srv:
        url = srv.url("cache")
        assert main(["push", "nano", "--to", url, "--key", str(secret), "--store", str(built_nano["store"])]) == 0
        assert len(list((srv.root / "cache").glob("*.json"))) == 2  # nano and ncurses
        capsys.readouterr()
        second = tmp_path / "elsewhere" / "store"
        status, rows = run_json("build", "nano", "--store", str(second), "--out", "dist", "--substituter", url)
        err = capsys.readouterr().err
    assert status == 0, err
    assert rows["nano"]["status"] == "pulled" and rows["ncurses"]["status"] == "pulled", err
    assert ": compile" not in err and ": configure" not in err
    assert not (second / "logs").exists()  # no phase of any build ran in this store
    ncurses = next(second.glob("*-ncurses-6.4"))
    record = json.loads((ncurses / ".wasix-build.json").read_text())
    assert str(built_nano["store"]) not in (ncurses / "lib" / "pkgconfig" / "ncursesw.pc").read_text()
    assert "lib/pkgconfig/ncursesw.pc" in record["pulled"]["relocated"]["rewritten"]
    # Only text files name the building store: no binary needed relocating (or could be).
    for entry in (ncurses, next(second.glob("*-nano-7.2"))):
        assert json.loads((entry / ".wasix-build.json").read_text())["pulled"]["relocated"]["binary"] == [], entry.name
    pulled = Path("dist/bin/nano.wasm").read_bytes()
    assert pulled == built_nano["nano"].read_bytes()
    assert "GNU nano, version 7.2" in run(pulled, ["--version"]).text
