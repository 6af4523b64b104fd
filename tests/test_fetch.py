"""fetch.py against a real HTTP server on 127.0.0.1 and real files."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from pathlib import Path

import pytest
from httpserver import serve

from wasix_backend.errors import FetchError
from wasix_backend.fetch import download, fetch_source
from wasix_backend.recipe import Source

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FILENAME = "demo_1.0.orig.tar.gz"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def no_partials(directory: Path) -> bool:
    return (
        not [p for p in directory.iterdir() if p.name.endswith(".part")]
        if directory.exists()
        else True
    )


@pytest.fixture(autouse=True)
def _no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASIX_MIRROR", raising=False)  # mirror=None means "use $WASIX_MIRROR"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "files").mkdir(parents=True)
    (root / "files" / FILENAME).write_bytes(PAYLOAD)
    return root


def test_download_verifies_and_replaces_atomically(tmp_path: Path, site: Path) -> None:
    dest = tmp_path / "cache" / "demo.tar.gz"
    with serve(site) as srv:
        assert (
            download(srv.url_for(f"files/{FILENAME}"), dest, SHA, what="demo", progress=True)
            == dest
        )
    assert dest.read_bytes() == PAYLOAD
    assert no_partials(dest.parent)


def test_wrong_hash_is_refused_and_nothing_kept(tmp_path: Path, site: Path) -> None:
    dest = tmp_path / "cache" / "demo.tar.gz"
    wrong = "0" * 64
    with serve(site) as srv:
        url = srv.url_for(f"files/{FILENAME}")
        with pytest.raises(FetchError) as err:
            download(url, dest, wrong, what="demo source", progress=False)
    message = str(err.value)
    assert "demo source" in message and url in message
    assert wrong in message and SHA in message
    assert not dest.exists() and no_partials(dest.parent)


def test_truncated_transfer_is_refused(tmp_path: Path, site: Path) -> None:
    dest = tmp_path / "cache" / "demo.tar.gz"
    truncated = serve(site, truncate={f"/files/{FILENAME}": 100_000})
    with (
        truncated as srv,
        pytest.raises(FetchError, match=r"truncated download: got 100000 of 300000 bytes"),
    ):
        download(srv.url_for(f"files/{FILENAME}"), dest, SHA, what="demo", progress=False)
    assert not dest.exists() and no_partials(dest.parent)


def test_http_errors_and_unreachable_hosts(tmp_path: Path, site: Path) -> None:
    dest = tmp_path / "cache" / "x"
    with serve(site) as srv, pytest.raises(FetchError, match="HTTP 404"):
        download(srv.url_for("files/missing.tar.gz"), dest, SHA, what="demo", progress=False)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="cannot connect"):
        download(f"http://127.0.0.1:{port}/x", dest, SHA, what="demo", progress=False)
    assert not dest.exists() and no_partials(dest.parent)


def test_file_urls_and_missing_hash(tmp_path: Path, site: Path) -> None:
    dest = tmp_path / "cache" / "demo"
    download((site / "files" / FILENAME).as_uri(), dest, SHA.upper(), what="demo", progress=False)
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(FetchError, match="no pinned hash"):
        download((site / "files" / FILENAME).as_uri(), tmp_path / "other", "", what="demo")
    assert not (tmp_path / "other").exists()


# ---------------------------------------------------------------------------- fetch_source
def write_apt(root: Path, uri: str) -> Path:
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    (root / "etc/apt/sources.list.d/test.sources").write_text(
        f"Types: deb\nURIs: {uri}\nSuites: bookworm\nComponents: main\n"
    )
    return root


def test_mirror_is_tried_first(tmp_path: Path, site: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    with serve(site) as srv:
        source = Source(sha256=SHA, urls=(srv.url_for(f"files/{FILENAME}"),))
        got = fetch_source(source, package="demo", cache_dir=cache, mirror=mirror, progress=False)
        assert srv.requests == []  # the network was never asked
    assert got == cache / f"{SHA}-{FILENAME}"
    assert got.read_bytes() == PAYLOAD


def test_bad_mirror_copy_falls_back_to_url_then_cache_is_used(tmp_path: Path, site: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(b"a different file with the same name")
    cache = tmp_path / "cache"
    with serve(site) as srv:
        source = Source(
            sha256=SHA, urls=(srv.url_for("files/gone.tar.gz"), srv.url_for(f"files/{FILENAME}"))
        )
        got = fetch_source(source, package="demo", cache_dir=cache, mirror=mirror, progress=False)
        assert srv.requests == ["/files/gone.tar.gz", f"/files/{FILENAME}"]
        assert got.read_bytes() == PAYLOAD
        again = fetch_source(source, package="demo", cache_dir=cache, mirror=mirror, progress=False)
        assert again == got and len(srv.requests) == 2  # verified cache: no new request


def test_debian_pool_comes_after_urls(tmp_path: Path, site: Path) -> None:
    pool = site / "debian" / "pool" / "main" / "d" / "demo"
    pool.mkdir(parents=True)
    (pool / FILENAME).write_bytes(PAYLOAD)
    with serve(site) as srv:
        apt_root = write_apt(tmp_path / "root", srv.url_for("debian/"))
        source = Source(
            sha256=SHA,
            urls=(srv.url_for("upstream/demo-1.0.tar.gz"),),
            file=FILENAME,
            debian="demo",
        )
        got = fetch_source(
            source,
            package="demo",
            cache_dir=tmp_path / "cache",
            mirror=None,
            progress=False,
            apt_root=apt_root,
        )
        assert srv.requests == ["/upstream/demo-1.0.tar.gz", f"/debian/pool/main/d/demo/{FILENAME}"]
    assert got.read_bytes() == PAYLOAD


def test_all_places_failing_gives_one_error_listing_them(tmp_path: Path, site: Path) -> None:
    with serve(site) as srv:
        apt_root = write_apt(tmp_path / "root", srv.url_for("debian"))
        url = srv.url_for("upstream/demo-1.0.tar.gz")
        source = Source(sha256=SHA, urls=(url,), file=FILENAME, debian="demo")
        with pytest.raises(FetchError) as err:
            fetch_source(
                source,
                package="demo",
                cache_dir=tmp_path / "cache",
                progress=False,
                apt_root=apt_root,
            )
    message = str(err.value)
    assert message.startswith(f"demo: could not fetch {FILENAME}")
    assert "$WASIX_MIRROR is not set" in message
    assert f"{url}: HTTP 404" in message
    assert srv.url_for(f"debian/pool/main/d/demo/{FILENAME}") + ": HTTP 404" in message
    assert "put it in" in message and "$WASIX_MIRROR" in message
    assert not (tmp_path / "cache" / f"{SHA}-{FILENAME}").exists()


def test_concurrent_fetches_download_once(tmp_path: Path, site: Path) -> None:
    cache = tmp_path / "cache"
    results: list[Path] = []
    errors: list[BaseException] = []
    with serve(site, delay=0.01, chunk=16_384) as srv:
        source = Source(sha256=SHA, urls=(srv.url_for(f"files/{FILENAME}"),))

        def worker() -> None:
            try:
                results.append(
                    fetch_source(
                        source, package="demo", cache_dir=cache, mirror=None, progress=False
                    )
                )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert srv.requests == [f"/files/{FILENAME}"]  # the lock made the others wait, then reuse
    assert not errors
    assert len(results) == 3 and all(r.read_bytes() == PAYLOAD for r in results)
