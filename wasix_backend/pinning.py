"""Pinning a new source: download a file whose sha256 is not known yet, to learn it.

Everything else in the project refuses to download without a pin; this is the one place that
does, for the two commands whose job is to *write* pins (``wasix-build new --from-url`` and
``wasix-build update``). The file is hashed while it streams in, then handed to
:func:`wasix_backend.fetch.download` (a local copy, verified against the hash just computed)
so it lands in the source cache under the same name a build looks for: the first build of
the new pin needs no second download.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import FetchError

TIMEOUT = 30.0
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Pinned:
    url: str
    filename: str
    sha256: str
    #: The verified copy in the source cache.
    path: Path


def url_filename(url: str) -> str:
    """The last path component of ``url``, without query or fragment."""
    return url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def fetch_text(url: str, *, what: str) -> str:
    """GET ``url`` and decode it (a listing page); :class:`FetchError` naming ``what``."""
    what = f"{what}: " if what else ""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=TIMEOUT) as response:
            data = response.read()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{what}{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"{what}{url}: cannot connect: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise FetchError(f"{what}{url}: {exc}") from None
    return data.decode(charset, "replace")


def pin_url(url: str, *, what: str) -> Pinned:
    """Download ``url``, compute its sha256, and keep a verified copy in the source cache."""
    from .fetch import download
    from .paths import sources_dir

    filename = url_filename(url)
    if not filename:
        raise FetchError(f"{what}: {url}: the URL does not end in a file name")
    cache = sources_dir()
    cache.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(dir=cache, prefix=".pin-") as tmp:
        part = Path(tmp) / filename
        received = 0
        expected: int | None = None
        try:
            with urllib.request.urlopen(urllib.request.Request(url), timeout=TIMEOUT) as response, part.open("wb") as out:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
        except urllib.error.HTTPError as exc:
            raise FetchError(f"{what}: download of {url} failed: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise FetchError(f"{what}: download of {url} failed: cannot connect: {exc.reason}") from None
        except (TimeoutError, OSError) as exc:
            raise FetchError(f"{what}: download of {url} failed: {exc}") from None
        if expected is not None and received != expected:
            raise FetchError(f"{what}: download of {url} failed: got {received} of {expected} bytes")
        if received == 0:
            raise FetchError(f"{what}: download of {url} failed: the file is empty")
        sha = digest.hexdigest()
        # Same name as fetch.cached_name(): a later build finds it without downloading.
        dest = download(part.as_uri(), cache / f"{sha}-{filename}", sha, what=what, progress=False)
    return Pinned(url=url, filename=filename, sha256=sha, path=dest)
