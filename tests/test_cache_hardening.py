"""Binary caches that are malformed, endless, slow, password-protected or damaged, and keys
that are broken or exposed (issue 37, items 1-6).

The entries are real store entries (made by :meth:`Store.commit`, no compiler), pushed with a
real ed25519 key by :func:`push_entries`, and pulled through :class:`BinaryCaches` from a
``file://`` folder or from this suite's HTTP server on 127.0.0.1; each case ends in one
warning naming the package, the cache and what is wrong, and ``pull`` answering "build it
locally" (None) — never an exception.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path

import pytest
from httpserver import serve
from test_binary_cache import cache_env, pushed_solo  # noqa: F401  (fixtures)

from wasix_backend.errors import WasixError
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.store import Store
from wasix_backend.substitute import BinaryCaches, load_secret_key, push_entries, trusted_keys
from wasix_backend.substitute.caches import canonical
from wasix_backend.substitute.keys import SecretKey, generate_key

KEY = "ab" * 32
PASSWORD = "s3cretPW"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Store A with one entry of ``solo 1.0`` (a text file naming its prefix), pushed to the
    ``file://`` cache ``cache/``; a key pair whose public half is trusted; an empty store B."""
    for var in ("WASIX_DOWNLOAD_TIMEOUT", "WASIX_DOWNLOAD_MIN_RATE", "WASIX_DOWNLOAD_DEADLINE", "NETRC",
                "WASIX_CACHE_NETRC", "WASIX_SUBSTITUTERS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc of the machine's
    recipe = recipe_from_dict({"package": {"name": "solo", "version": "1.0"}, "outputs": {"bin": ["solo"]}}, plugin="t")
    store_a = Store(tmp_path / "a" / "store")
    store_a.root.mkdir(parents=True)
    stage = tmp_path / "stage"
    (stage / "bin").mkdir(parents=True)
    (stage / "bin" / "solo.wasm").write_bytes(b"\0asm\1\0\0\0" + os.urandom(64))
    (stage / "lib" / "pkgconfig").mkdir(parents=True)
    (stage / "lib" / "pkgconfig" / "solo.pc").write_text(f"prefix={store_a.entry(recipe, KEY)}\n")
    entry = store_a.commit(stage, recipe, KEY, {})
    secret = tmp_path / "keys" / "test.secret"
    public = generate_key("test", secret, tmp_path / "keys" / "test.public")
    key = load_secret_key(secret)
    cache = tmp_path / "cache"
    (store_a.root / "tmp").mkdir(exist_ok=True)
    said: list[str] = []
    push_entries([(recipe, KEY, entry)], cache.as_uri(), key, store_a, said.append)
    manifest = cache / f"{KEY}.json"
    archive = cache / json.loads(manifest.read_text())["manifest"]["archive"]["file"]

    class World:
        pass

    w = World()
    w.root, w.recipe, w.store_a, w.entry, w.key, w.public, w.cache = tmp_path, recipe, store_a, entry, key, public, cache
    w.manifest, w.archive = manifest, archive
    w.store_b = Store(tmp_path / "b" / "store")

    def pull(url: str) -> tuple[Path | None, list[str]]:
        lines: list[str] = []
        caches = BinaryCaches([url], trusted_keys([public]), progress=False)
        return caches.pull(recipe, KEY, w.store_b, lines.append), lines

    w.pull = pull
    return w


def _rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _one_refusal(lines: list[str], cache: str, *words: str) -> str:
    warnings = [line for line in lines if "warning" in line]
    assert len(warnings) == 1, lines
    text = warnings[0]
    assert "solo 1.0" in text and cache in text and "building it locally" in text, text
    for word in words:
        assert word in text, text
    return text


def test_a_good_entry_is_pulled(world) -> None:
    path, lines = world.pull(world.cache.as_uri())
    assert path is not None and (path / "bin" / "solo.wasm").read_bytes() == (world.entry / "bin" / "solo.wasm").read_bytes()
    assert any("pulled from" in line for line in lines)


# -------------------------------------------------------------- 1: malformed manifests ---


@pytest.mark.parametrize(("signatures", "words"), [
    ({"test": 1}, ["signature by 'test' is 1, not text"]),
    (["test"], ["\"signatures\" are a JSON list"]),
    ({"test": None}, ["signature by 'test' is null"]),
])  # fmt: skip
def test_signatures_of_the_wrong_type_are_refused(world, signatures, words) -> None:
    _rewrite(world.manifest, lambda d: d.update(signatures=signatures))
    path, lines = world.pull(world.cache.as_uri())
    assert path is None
    _one_refusal(lines, world.cache.as_uri(), *words)


def _resign(world, change) -> None:  # type: ignore[no-untyped-def]
    """Change the manifest and sign it again with the trusted key: valid signature, bad shape."""
    def edit(doc):  # type: ignore[no-untyped-def]
        change(doc["manifest"])
        doc["signatures"] = {"test": world.key.sign(canonical(doc["manifest"]))}

    _rewrite(world.manifest, edit)


@pytest.mark.parametrize(("change", "words"), [
    (lambda m: m["archive"].update(size="lots"), ["size \"lots\" is not a number of bytes"]),
    (lambda m: m.pop("archive"), ["it names no archive"]),
    (lambda m: m.update(record=[]), ["its record is a JSON list"]),
    (lambda m: m["archive"].update(file="../../etc/passwd"), ["its archive is named \"../../etc/passwd\""]),
    (lambda m: m["record"]["files"].update({"../outside": [1, "0" * 64]}), ["not a path inside the entry"]),
    (lambda m: m.update(store=7), ["is not an absolute path"]),
])  # fmt: skip
def test_a_validly_signed_but_malformed_manifest_is_refused(world, change, words) -> None:
    _resign(world, change)
    path, lines = world.pull(world.cache.as_uri())
    assert path is None
    _one_refusal(lines, world.cache.as_uri(), "malformed", *words)


@pytest.mark.parametrize("text", [b"", b"[]", b'{"manifest": [], "signatures": {}}', b"\xff\xfe", b"[" * 100000])
def test_manifests_that_are_not_json_objects_are_refused(world, text) -> None:
    world.manifest.write_bytes(text)
    path, lines = world.pull(world.cache.as_uri())
    assert path is None
    _one_refusal(lines, world.cache.as_uri())


# ------------------------------------------------------------- 2, 3: endless and slow ---


class _Endless:
    """``/c/<key>.json`` never ends: data until the client hangs up (at most 256 MiB)."""

    sent = [0]

    def do_GET(self):  # type: ignore[no-untyped-def]
        if not self.path.endswith(".json"):
            return super().do_GET()  # type: ignore[misc]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b'{"manifest": {"pad": "' + b"x" * 65000
        try:
            while self.sent[0] < 256 << 20:
                self.wfile.write(chunk)
                self.sent[0] += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def test_an_endless_manifest_is_cut_at_one_mebibyte(world) -> None:
    _Endless.sent[0] = 0
    with serve(world.root, mixin=_Endless) as srv:
        start = time.monotonic()
        path, lines = world.pull(srv.url + "/cache")
        seconds = time.monotonic() - start
    assert path is None
    _one_refusal(lines, srv.url + "/cache", "larger than 1 MiB")
    # What the server managed to push into socket buffers before the client hung up: far
    # below what an unbounded read takes in (all 256 MiB).
    assert _Endless.sent[0] < 16 << 20, _Endless.sent[0]
    assert seconds < 30


class _Dribble:
    """Sends ``<key>.json`` one byte every ``gap`` seconds (``gap`` = 0: after a long silence)."""

    gap = 5.0

    def do_GET(self):  # type: ignore[no-untyped-def]
        if not self.path.endswith(".json"):
            return super().do_GET()  # type: ignore[misc]
        data = Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if not self.gap:
                time.sleep(60)
            for i in range(min(len(data), 13)):  # at most a minute of it: the test stops
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(self.gap)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


@pytest.mark.parametrize(("gap", "limit"), [(5.0, "30"), (1.0, "2"), (0.0, "2")])
def test_a_cache_that_trickles_or_stalls_is_given_up_within_the_download_limits(world, monkeypatch, gap, limit) -> None:
    """One byte every 5 s with the default limits (given up after 30 s, not 5 minutes), one a
    second under a 2-second window, and silence."""
    monkeypatch.setenv("WASIX_DOWNLOAD_TIMEOUT", limit)
    mixin = type("Slow", (_Dribble,), {"gap": gap})
    with serve(world.root, mixin=mixin) as srv:
        start = time.monotonic()
        path, lines = world.pull(srv.url + "/cache")
        seconds = time.monotonic() - start
    assert path is None and seconds < float(limit) + 12, (seconds, lines)
    text = " ".join(lines)
    assert "cannot be reached" in text and srv.url + "/cache" in text
    assert ("too slow" in text and "WASIX_DOWNLOAD_MIN_RATE" in text) if gap else "no data for 2 s" in text, text


# ------------------------------------------------------------------ 4: credentials ---


class _Auth:
    """Basic authentication as alice:s3cretPW, else 401; PUT writes the file (a cache that
    takes uploads from its users only)."""

    seen: list[str] = []

    def _allowed(self) -> bool:  # type: ignore[no-untyped-def]
        wanted = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        self.seen.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") == wanted:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="cache"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self):  # type: ignore[no-untyped-def]
        if self._allowed():
            return super().do_GET()  # type: ignore[misc]

    def do_HEAD(self):  # type: ignore[no-untyped-def]
        if self._allowed():
            return super().do_HEAD()  # type: ignore[misc]

    def do_PUT(self):  # type: ignore[no-untyped-def]
        if not self._allowed():
            return
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                data += self.rfile.read(size)
                self.rfile.readline()
                if not size:
                    break
        else:
            data = self.rfile.read(int(self.headers["Content-Length"]))
        dest = Path(self.directory, self.path.lstrip("/"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and "alice:" not in text, text


def test_credentials_in_a_cache_url_are_used_but_never_shown_or_stored(world) -> None:
    with serve(world.root, mixin=_Auth) as srv:
        url = srv.url.replace("http://", f"http://alice:{PASSWORD}@") + "/cache"
        path, lines = world.pull(url)
        assert path is not None, lines  # the credentials were sent
        record = (path / ".wasix-build.json").read_text()
        assert json.loads(record)["pulled"]["from"] == srv.url + "/cache"
        # A later push of the pulled entry, over HTTP with the same credentials: neither the
        # messages nor the signed manifest it uploads name them.
        pushed: list[str] = []
        (world.store_b.root / "tmp").mkdir(exist_ok=True)
        push_entries([(world.recipe, KEY, path)], url.replace("/cache", "/again"), world.key, world.store_b, pushed.append)
        # A wrong password: refused by the server, and the message does not repeat it.
        wrong: list[str] = []
        BinaryCaches([url.replace(PASSWORD, "wrongPW")], {}, progress=False).pull(
            world.recipe, KEY, Store(world.root / "c"), wrong.append)
    manifest = (world.root / "again" / f"{KEY}.json").read_text()
    assert json.loads(manifest)["manifest"]["record"]["pulled"]["from"] == srv.url + "/cache"
    _no_password(record, manifest, *lines, *pushed, *wrong)
    assert any("401" in line for line in wrong) and not any("wrongPW" in line for line in wrong), wrong


def test_credentials_from_a_netrc_file(world, monkeypatch) -> None:
    netrc = world.root / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORD}\n")
    netrc.chmod(0o600)
    with serve(world.root, mixin=_Auth) as srv:
        path, lines = world.pull(srv.url + "/cache")  # no credentials anywhere: 401
        assert path is None and any("401" in line for line in lines), lines
        monkeypatch.setenv("WASIX_CACHE_NETRC", str(netrc))
        path, lines = world.pull(srv.url + "/cache")
    assert path is not None, lines
    _no_password(*lines)


def test_an_old_record_with_credentials_is_pushed_without_them(world) -> None:
    """Entries pulled by an older version kept the URL as given: a push strips what it carries."""
    record = json.loads((world.entry / ".wasix-build.json").read_text())
    record["pulled"] = {"from": f"http://alice:{PASSWORD}@127.0.0.1:1/c", "relocated": {}}
    (world.entry / ".wasix-build.json").write_text(json.dumps(record))
    out = world.root / "out-cache"
    push_entries([(world.recipe, KEY, world.entry)], out.as_uri(), world.key, world.store_a, lambda _: None)
    text = (out / f"{KEY}.json").read_text()
    _no_password(text)
    assert json.loads(text)["manifest"]["record"]["pulled"]["from"] == "http://127.0.0.1:1/c"


# ------------------------------------------------------------------ 5: push repairs ---


def test_push_over_an_empty_manifest_repairs_it(world) -> None:
    world.manifest.write_bytes(b"")
    said: list[str] = []
    assert push_entries([(world.recipe, KEY, world.entry)], world.cache.as_uri(), world.key, world.store_a,
                        said.append) == {"solo": "pushed"}  # fmt: skip
    assert any("damaged" in line and "not valid JSON" in line for line in said), said
    assert world.pull(world.cache.as_uri())[0] is not None


def test_push_over_a_truncated_archive_whose_manifest_was_deleted_repairs_it(world) -> None:
    world.archive.write_bytes(world.archive.read_bytes()[:50])
    world.manifest.unlink()
    said: list[str] = []
    assert push_entries([(world.recipe, KEY, world.entry)], world.cache.as_uri(), world.key, world.store_a,
                        said.append) == {"solo": "pushed"}  # fmt: skip
    path, lines = world.pull(world.cache.as_uri())
    assert path is not None, lines


def test_push_over_a_truncated_archive_under_a_whole_manifest_repairs_it(world) -> None:
    world.archive.write_bytes(world.archive.read_bytes()[:50])
    said: list[str] = []
    push_entries([(world.recipe, KEY, world.entry)], world.cache.as_uri(), world.key, world.store_a, said.append)
    assert any("damaged" in line and "its archive is 50 bytes" in line for line in said), said
    assert world.pull(world.cache.as_uri())[0] is not None


def test_push_of_a_whole_entry_is_still_idempotent(world) -> None:
    said: list[str] = []
    before = world.manifest.stat().st_mtime_ns
    assert push_entries([(world.recipe, KEY, world.entry)], world.cache.as_uri(), world.key, world.store_a,
                        said.append) == {"solo": "present"}  # fmt: skip
    assert world.manifest.stat().st_mtime_ns == before


# ---------------------------------------------------------------------- 6: key files ---


def test_a_trusted_keys_file_that_is_not_utf8_is_one_clear_error(tmp_path, monkeypatch) -> None:
    keys = tmp_path / "trusted-keys"
    keys.write_bytes(b"# caf\xe9\nx:" + b"A" * 44 + b"\n")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS_FILE", str(keys))
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", "")
    with pytest.raises(WasixError, match=r"trusted keys file .* is not UTF-8 text \(byte 5 is 0xe9\)"):
        trusted_keys()


def test_a_secret_key_others_can_read_is_refused(tmp_path, capsys) -> None:
    from wasix_backend.cli import main

    secret = tmp_path / "k.secret"
    generate_key("k", secret, tmp_path / "k.public")
    assert load_secret_key(secret).name == "k"  # 0600 as keygen writes it
    secret.chmod(0o666)
    with pytest.raises(WasixError, match=r"accessible by others \(mode 0666\).*chmod 600"):
        load_secret_key(secret)
    assert main(["push", "x", "--to", (tmp_path / "c").as_uri(), "--key", str(secret)]) == 1
    assert "accessible by others" in capsys.readouterr().err
    secret.chmod(0o640)
    with pytest.raises(WasixError, match="mode 0640"):
        load_secret_key(secret)


def test_keygen_never_leaves_the_secret_readable_by_others(tmp_path) -> None:
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # every mode the key's directory shows while it is written
        while not stop.is_set():
            for p in tmp_path.iterdir():
                try:
                    if "secret" in p.name:
                        seen.append(p.stat().st_mode & 0o777)
                except FileNotFoundError:
                    pass

    t = threading.Thread(target=watch)
    t.start()
    try:
        for i in range(20):
            generate_key(f"k{i}", tmp_path / f"k{i}.secret", tmp_path / f"k{i}.public")
    finally:
        stop.set()
        t.join()
    assert seen and all(mode & 0o077 == 0 for mode in seen), sorted(set(seen))


def test_secret_key_helpers_agree() -> None:
    key = SecretKey("n", b"\1" * 32)
    assert key.public.startswith("n:") and base64.b64decode(key.public[2:]) == key.public_bytes


@pytest.mark.build
def test_a_build_pulling_with_credentials_shows_them_nowhere(pushed_solo, capsys) -> None:  # noqa: F811
    """The whole command: its messages, its summary and --json, and the pulled record."""
    from test_binary_cache import wb

    env = pushed_solo.env
    with serve(env.root, mixin=_Auth) as srv:
        url = srv.url.replace("http://", f"http://alice:{PASSWORD}@") + "/cache"
        capsys.readouterr()
        status, rows = wb(env, "build", "solo", "--store", str(env.root / "b" / "store"), "--out", "dist-b",
                          "--substituter", url)  # fmt: skip
        out, err = capsys.readouterr()
        # The same with a wrong password: a warning, a local build, and the password not repeated.
        status2, rows2 = wb(env, "build", "solo", "--store", str(env.root / "c" / "store"), "--out", "dist-c",
                            "--substituter", url.replace(PASSWORD, "wrongPW"))  # fmt: skip
        out2, err2 = capsys.readouterr()
    assert status == 0 and rows["solo"]["status"] == "pulled", err
    assert status2 == 0 and rows2["solo"]["status"] == "built", err2
    record = next((env.root / "b" / "store").glob("*-solo-1.0/.wasix-build.json")).read_text()
    _no_password(out, err, record, json.dumps(rows), out2, err2)
    assert "wrongPW" not in out2 + err2 and "401" in err2
