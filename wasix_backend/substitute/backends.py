"""One cache URL as a flat folder of objects, through fsspec (no hand-written clients).

``file:///path`` (or a plain path), ``http(s)://host/prefix`` (GET to read, PUT to write, as
nginx's WebDAV module or any server taking PUT accepts), ``s3://bucket/prefix`` (s3fs; the
endpoint of an S3-compatible service from ``?endpoint=URL`` or ``$WASIX_S3_ENDPOINT``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from ..errors import WasixError

#: The library each scheme needs, for the message when it is missing.
_NEEDS = {"http": "aiohttp", "https": "aiohttp", "s3": "s3fs"}


class CacheUnavailable(WasixError):
    """The cache cannot be used at all (unknown scheme, missing library): say so, build locally."""


class Backend:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(url)
        self.scheme = parts.scheme or "file"
        options: dict[str, Any] = {}
        base = self.url
        if self.scheme == "s3":
            endpoint = parse_qs(parts.query).get("endpoint", [os.environ.get("WASIX_S3_ENDPOINT", "")])[0]
            if endpoint:
                options["endpoint_url"] = endpoint
            base = f"s3://{parts.netloc}{parts.path}".rstrip("/")
        try:
            import fsspec  # type: ignore[import-untyped]
            from fsspec.registry import known_implementations  # type: ignore[import-untyped]
        except ImportError:
            raise CacheUnavailable("binary caches need fsspec: pip install fsspec") from None
        if self.scheme not in known_implementations:
            raise CacheUnavailable(
                f"cache {url}: unknown URL scheme {self.scheme!r} (use file://, http(s):// or s3://)"
            )
        try:
            self.fs, self.root = fsspec.core.url_to_fs(base, **options)
        except ImportError as exc:
            lib = _NEEDS.get(self.scheme, str(exc))
            raise CacheUnavailable(f"cache {url}: {self.scheme}:// needs {lib}: pip install {lib}") from None
        except (ValueError, TypeError) as exc:  # a URL the backend cannot parse
            raise CacheUnavailable(f"cache {url}: {exc}") from None
        if self.scheme == "file":
            self.root = str(Path(self.root).absolute())

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def read(self, name: str) -> bytes:
        """A small object; FileNotFoundError when the cache does not have it."""
        data: bytes = self.fs.cat_file(self._path(name))
        return data

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """A stream over a (large) object."""
        kwargs = {"block_size": 0} if self.scheme in ("http", "https") else {}  # no range requests
        with self.fs.open(self._path(name), "rb", **kwargs) as stream:
            yield stream

    def has(self, name: str) -> bool:
        try:
            self.fs.cat_file(self._path(name), start=0, end=1)  # one byte, not the object
        except FileNotFoundError:
            return False
        return True

    def write(self, name: str, local: Path) -> None:
        """Upload ``local`` as ``name``; readers see all of it or nothing."""
        dest = self._path(name)
        if self.scheme == "file":  # a temporary name, then one rename
            Path(self.root).mkdir(parents=True, exist_ok=True)
            tmp = f"{dest}.tmp-{os.getpid()}-{id(local)}"
            self.fs.put_file(str(local), tmp)
            os.replace(tmp, dest)
        elif self.scheme in ("http", "https"):
            self.fs.put_file(str(local), dest, method="put")
        else:  # an S3 object appears whole when its upload completes
            self.fs.put_file(str(local), dest)
