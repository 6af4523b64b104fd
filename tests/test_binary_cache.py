"""Binary caches on a file:// folder: push, pull into another store (elsewhere: relocation),
and each fault refused with a clear message followed by a correct local build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cachehelpers import keygen, run_json, write_packages

from wasix_backend.cli import main
from wasix_backend.runtime import run


@pytest.fixture
def cache_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Plugins, a signing key the user trusts, and an empty file:// cache."""
    plugins = write_packages(tmp_path)
    secret, public = keygen(tmp_path / "keys")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", public)
    monkeypatch.setenv("WASIX_TRUSTED_KEYS_FILE", str(tmp_path / "no-such-file"))
    monkeypatch.setenv("WASIX_SIGNING_KEY", str(secret))
    monkeypatch.delenv("WASIX_SUBSTITUTERS", raising=False)
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    return type("Env", (), {"root": tmp_path, "plugins": plugins, "cache": cache, "url": cache.as_uri(), "public": public})


def wb(env, *args: str) -> tuple[int, dict]:
    return run_json("--plugin-dir", str(env.plugins), *args)


def push(env, store: Path, *names: str, url: str | None = None) -> int:
    return main(["--plugin-dir", str(env.plugins), "push", *names, "--to", url or env.url, "--store", str(store)])


@pytest.mark.build
def test_push_pull_relocates_into_another_store(cache_env, capsys: pytest.CaptureFixture[str]) -> None:
    env = cache_env
    store_a, store_b = env.root / "machine-a" / "store", env.root / "b" / "store"
    status, rows = wb(env, "build", "greet", "--store", str(store_a), "--out", "dist-a")
    assert status == 0 and rows["greet"]["status"] == "built"
    assert push(env, store_a, "greet") == 0
    assert push(env, store_a, "greet") == 0  # idempotent: nothing uploaded twice
    assert "already in" in capsys.readouterr().err
    objects = sorted(p.name for p in env.cache.iterdir())
    assert len(objects) == 2 and any(n.endswith(".json") for n in objects)
    shutil.rmtree(store_a)  # machine A is gone: nothing may still point into it

    capsys.readouterr()
    status, rows = wb(env, "build", "hello", "--store", str(store_b), "--out", "dist-b", "--substituter", env.url)
    err = capsys.readouterr().err
    assert status == 0, err
    assert rows["greet"]["status"] == "pulled" and rows["hello"]["status"] == "built"
    assert "greet 1.0: compile" not in err and "pulled from" in err
    greet_pc = next(store_b.glob("*-greet-1.0")) / "lib" / "pkgconfig" / "greet.pc"
    assert f"prefix={store_b}/" in greet_pc.read_text() and "machine-a" not in greet_pc.read_text()
    record = json.loads((next(store_b.glob("*-greet-1.0")) / ".wasix-build.json").read_text())
    assert record["pulled"]["relocated"]["rewritten"] == ["lib/pkgconfig/greet.pc"]
    assert run(Path("dist-b/bin/hello.wasm").read_bytes(), []).stdout.strip() == b"hello from wasm"
    # A second build in B finds the pulled entry in its own store (re-verified, relocated hashes).
    status, rows = wb(env, "build", "hello", "--store", str(store_b), "--out", "dist-b")
    assert rows["greet"]["status"] == "cached" and rows["hello"]["status"] == "cached"


@pytest.fixture
def pushed_solo(cache_env):
    """``solo`` built in store A and pushed; its manifest and archive paths in the cache."""
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "solo", "--store", str(store_a), "--out", "dist-a")[0] == 0
    assert push(cache_env, store_a, "solo") == 0
    manifest = next(cache_env.cache.glob("*.json"))
    archive = cache_env.cache / json.loads(manifest.read_text())["manifest"]["archive"]["file"]
    return type("Pushed", (), {"manifest": manifest, "archive": archive, "env": cache_env})


def build_b(env, capsys, *urls: str) -> tuple[dict, str]:
    """Build solo in a fresh store B with ``urls`` as substituters: (its row, stderr)."""
    capsys.readouterr()
    store_b = env.root / "b" / "store"
    shutil.rmtree(store_b, ignore_errors=True)
    args = [a for u in urls for a in ("--substituter", u)]
    status, rows = wb(env, "build", "solo", "--store", str(store_b), "--out", "dist-b", *args)
    err = capsys.readouterr().err
    assert status == 0, err
    assert run(Path("dist-b/bin/solo.wasm").read_bytes(), []).stdout.strip() == b"solo here"
    return rows["solo"], " ".join(err.split())


def _edit_manifest(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.build
def test_pull_hit(pushed_solo, capsys) -> None:
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "pulled" and "solo 1.0: compile" not in err


@pytest.mark.build
def test_tampered_archive_is_refused(pushed_solo, capsys) -> None:
    data = bytearray(pushed_solo.archive.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    pushed_solo.archive.write_bytes(bytes(data))
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "built"
    assert "solo 1.0: refusing the entry from" in err and "sha256" in err and "tampered?" in err


@pytest.mark.build
def test_truncated_archive_is_refused(pushed_solo, capsys) -> None:
    pushed_solo.archive.write_bytes(pushed_solo.archive.read_bytes()[:100])
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "built" and "its archive is truncated: 100 of" in err


@pytest.mark.build
def test_wrong_signature_is_refused(pushed_solo, capsys) -> None:
    # Claim another file list: the signature no longer covers what the manifest says.
    _edit_manifest(pushed_solo.manifest, lambda d: d["manifest"]["record"].update(seconds=0.001))
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "built" and "does not match the manifest (tampered?)" in err


@pytest.mark.build
def test_unsigned_is_refused(pushed_solo, capsys) -> None:
    _edit_manifest(pushed_solo.manifest, lambda d: d.update(signatures={}))
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "built" and "the entry is unsigned" in err


@pytest.mark.build
def test_untrusted_key_is_refused(pushed_solo, capsys, monkeypatch) -> None:
    _, other = keygen(pushed_solo.env.root / "other-keys", "someone-else")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", other)
    row, err = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "built" and "signed by test-cache, which is not a trusted key" in err


@pytest.mark.build
def test_unknown_scheme_and_missing_cache(pushed_solo, capsys) -> None:
    empty = (pushed_solo.env.root / "empty-cache").as_uri()
    row, err = build_b(pushed_solo.env, capsys, "nosuch://host/x", empty, pushed_solo.env.url)
    assert row["status"] == "pulled"  # the third cache has it; the first two are passed over
    assert "unknown URL scheme 'nosuch'" in err


def test_push_needs_a_built_entry_and_a_key(cache_env, capsys, monkeypatch) -> None:
    assert push(cache_env, cache_env.root / "empty-store", "solo") == 1
    assert "not in the store" in capsys.readouterr().err
    monkeypatch.delenv("WASIX_SIGNING_KEY")
    assert push(cache_env, cache_env.root / "empty-store", "solo") == 1
    assert "pushing needs a signing key" in capsys.readouterr().err



@pytest.mark.build
def test_substituters_from_the_environment(pushed_solo, capsys, monkeypatch) -> None:
    monkeypatch.setenv("WASIX_SUBSTITUTERS", f"{(pushed_solo.env.root / 'empty').as_uri()} {pushed_solo.env.url}")
    row, _ = build_b(pushed_solo.env, capsys)
    assert row["status"] == "pulled"


@pytest.mark.build
def test_push_all_pushes_what_is_built(cache_env, capsys) -> None:
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "solo", "--store", str(store_a), "--out", "dist-a")[0] == 0
    assert main(["--plugin-dir", str(cache_env.plugins), "push", "--all", "--to", cache_env.url, "--store", str(store_a)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "solo 1.0 pushed to" in err and "so not pushed:" in err and "hello" in err
    assert main(["push", "solo", "--to", "nosuch://x", "--store", str(store_a),
                 "--plugin-dir", str(cache_env.plugins)]) == 1
    assert "unknown URL scheme 'nosuch'" in capsys.readouterr().err


@pytest.mark.build
def test_trusted_keys_file(pushed_solo, capsys, monkeypatch) -> None:
    keys = pushed_solo.env.root / "trusted-keys"
    keys.write_text(f"# the CI cache\n{pushed_solo.env.public}  # added by hand\n")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", "")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS_FILE", str(keys))
    row, _ = build_b(pushed_solo.env, capsys, pushed_solo.env.url)
    assert row["status"] == "pulled"
    keys.write_text("not-a-key\n")
    status, _ = wb(pushed_solo.env, "build", "solo", "--substituter", pushed_solo.env.url, "--store", "s3")
    assert status == 1 and "is not NAME:BASE64" in capsys.readouterr().err


@pytest.mark.build
def test_an_entry_pushed_by_one_install_is_pulled_by_another_whose_code_differs_outside_builds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A binary cache outlives a release that only changed code around builds: a copy of the
    tool with a reworded CLI and a changed scheduler pulls what this one pushed, compiling nothing."""
    import os
    import subprocess
    import sys

    import wasix_backend

    plugins = write_packages(tmp_path)
    secret, public = keygen(tmp_path / "keys")
    monkeypatch.chdir(tmp_path)
    cache = (tmp_path / "cache").as_uri()
    status, rows = run_json("--plugin-dir", str(plugins), "build", "hello", "--store", str(tmp_path / "a"))
    assert status == 0 and rows["hello"]["status"] == "built"
    assert main(["--plugin-dir", str(plugins), "push", "hello", "--to", cache, "--key", str(secret),
                 "--store", str(tmp_path / "a")]) == 0  # fmt: skip
    other = tmp_path / "other-release" / "wasix_backend"
    shutil.copytree(Path(wasix_backend.__file__).parent, other, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(wasix_backend.__file__).parents[1] / "toolchain", other.parent / "toolchain")  # its data
    for module, old, new in (("cli/build.py", '"build packages;', '"compile packages;'),
                             ("engine.py", "ready.sort(", "ready = sorted(ready)\n                    ready.sort(")):
        text = (other / module).read_text()
        assert old in text
        (other / module).write_text(text.replace(old, new, 1))
    env = {**os.environ, "PYTHONPATH": str(other.parent), "WASIX_TRUSTED_KEYS": public}
    done = subprocess.run([sys.executable, "-m", "wasix_backend", "--plugin-dir", str(plugins), "build", "hello",
                           "--store", str(tmp_path / "b"), "--substituter", cache, "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {p["name"]: p for p in json.loads(done.stdout)["packages"]}
    assert {rows[n]["status"] for n in ("greet", "hello")} == {"pulled"}, done.stderr
    assert "1.0: compile" not in done.stderr
