"""Pinning a new source: download a file whose sha256 is not known yet, to learn it.

Everything else in the project refuses to download without a pin; this is the one place that
does, for the two commands whose job is to *write* pins (``wasix-build new --from-url`` and
``wasix-build update``). It goes through the one download path,
:func:`wasix_backend.fetch.download_unpinned` (hashed while it streams, renamed into place),
so the file lands in the source cache under the name a build looks for: the first build of the
new pin needs no second download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import FetchError
from .fetch import fetch_text

__all__ = ["Pinned", "fetch_text", "pin_url", "url_filename"]


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


def pin_url(url: str, *, what: str) -> Pinned:
    """Download ``url``, compute its sha256, and keep a verified copy in the source cache."""
    from .fetch import download_unpinned
    from .paths import sources_dir

    filename = url_filename(url)
    if not filename:
        raise FetchError(f"{what}: {url}: the URL does not end in a file name")
    path, sha = download_unpinned(url, sources_dir(), filename, what=what)
    return Pinned(url=url, filename=filename, sha256=sha, path=path)
