"""The s3:// path of binary caches, as far as can be tested honestly here.

No S3-compatible server runs on this machine without being a mock: MinIO, SeaweedFS and
Garage are not in Debian or on PyPI, and PyPI's moto (and npm's s3rver) are mocks. So these
tests check what is real: s3fs (botocore underneath) sends its S3 requests to the endpoint
given in the URL; a cache whose endpoint is down is passed over with a clear message; and
s3fs's read path — HeadObject/GetObject, path-style, signed — pulls an entry from a plain
static HTTP server holding the cache's files at ``/BUCKET/PREFIX/``, which answers those two
requests exactly as S3 does for a public object. Pushing (PutObject) is not tested against
anything: a static server cannot stand in for it.
"""

from __future__ import annotations

import pytest
from httpserver import serve
from nginxserver import free_port
from test_binary_cache import build_b, cache_env, push, wb  # noqa: F401  (cache_env: a fixture)

pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'wasix-backend[s3]')")


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch) -> None:
    # Dummy credentials (requests are signed; nothing checks them), no instance-metadata
    # look-ups, and no retries, so a refused connection fails at once.
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)


def test_endpoint_comes_from_the_url(monkeypatch) -> None:
    from wasix_backend.substitute.backends import Backend

    backend = Backend("s3://bucket/some/prefix?endpoint=http://127.0.0.1:9")
    assert type(backend.fs).__name__ == "S3FileSystem" and backend.root == "bucket/some/prefix"
    assert backend.fs.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("WASIX_S3_ENDPOINT", "http://127.0.0.1:10")
    assert Backend("s3://other").fs.endpoint_url == "http://127.0.0.1:10"


@pytest.mark.build
def test_s3_endpoint_down(cache_env, capsys) -> None:  # noqa: F811
    row, err = build_b(cache_env, capsys, f"s3://bucket/cache?endpoint=http://127.0.0.1:{free_port()}")
    assert row["status"] == "built" and "cannot be reached" in err and "Could not connect to the endpoint URL" in err


@pytest.mark.build
def test_s3_read_path_pulls_an_entry(cache_env, capsys) -> None:  # noqa: F811
    store_a = cache_env.root / "a" / "store"
    assert wb(cache_env, "build", "solo", "--store", str(store_a), "--out", "dist-a")[0] == 0
    served = cache_env.root / "s3root"
    assert push(cache_env, store_a, "solo", url=(served / "bucket" / "cache").as_uri()) == 0
    with serve(served) as srv:
        row, err = build_b(cache_env, capsys, f"s3://bucket/cache?endpoint={srv.url}")
        assert any(r.startswith("/bucket/cache/") and r.endswith(".tar.gz") for r in srv.requests)
    assert row["status"] == "pulled", err
