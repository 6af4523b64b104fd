"""One cache URL as a flat folder of objects, through fsspec (no hand-written clients).

``file:///path`` (or a plain path), ``http(s)://host/prefix`` (GET to read, PUT to write, as
nginx's WebDAV module or any server taking PUT accepts), ``s3://bucket/prefix`` (s3fs; the
endpoint of an S3-compatible service from ``?endpoint=URL`` or ``$WASIX_S3_ENDPOINT``).

Credentials are never shown or stored: a user name and password in the URL
(``http://alice:PW@host/c``) are taken out of it before anything else sees it and sent as
HTTP Basic authentication; better, they come from a netrc-style file
(``$WASIX_CACHE_NETRC``, else ``$NETRC``, else ``~/.netrc``: ``machine HOST login USER
password PW``), so that they are in no command line either. Every message, record and
manifest names the cache by :func:`redact`'s form of its URL.

Reads and writes are bounded in time as downloads of sources are
(``$WASIX_DOWNLOAD_TIMEOUT``, ``_MIN_RATE``, ``_DEADLINE``): a cache that stalls or trickles
is given up, never waited on for minutes.
"""

from __future__ import annotations

import base64
import netrc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from ..errors import WasixError
from ..fetch import Limits, _Pace

#: The library each scheme needs, for the message when it is missing.
_NEEDS = {"http": "aiohttp", "https": "aiohttp", "s3": "s3fs"}


class CacheUnavailable(WasixError):
    """The cache cannot be used at all (unknown scheme, missing library): say so, build locally."""


class TooLarge(WasixError):
    """An object is larger than anything of its kind may be (an endless manifest)."""


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without its user name and password, and those two (percent-decoded)."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:  # a URL urllib cannot split: cut at the first '@' of its authority
        head, sep, rest = url.partition("://")
        if not sep:
            return url, None, None
        authority, slash, path = rest.partition("/")
        if "@" not in authority:
            return url, None, None
        return f"{head}://***@{authority.rpartition('@')[2]}{slash}{path}", None, None
    if "@" not in parts.netloc:
        return url, None, None
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, unquote(user) or None, unquote(password) if ":" in userinfo else None


def redact(url: str) -> str:
    """``url`` as it may be shown or stored: without the user name and password it may carry."""
    return _split_credentials(url)[0]


def scrub(text: str, url: str) -> str:
    """``text`` (an error message) with the credentials in ``url`` replaced by ``***``."""
    _clean, user, password = _split_credentials(url)
    for secret in sorted({s for s in (password, user) if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
        text = text.replace(quote(secret, safe=""), "***")
    return text


def netrc_credentials(host: str) -> tuple[str, str] | None:
    """(login, password) for ``host`` from ``$WASIX_CACHE_NETRC``, ``$NETRC`` or ``~/.netrc``."""
    explicit = os.environ.get("WASIX_CACHE_NETRC") or os.environ.get("NETRC")
    path = Path(explicit) if explicit else Path.home() / ".netrc"
    if not path.is_file():
        if os.environ.get("WASIX_CACHE_NETRC"):
            raise CacheUnavailable(f"$WASIX_CACHE_NETRC names {path}, which is not a file")
        return None
    try:
        found = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as exc:
        raise CacheUnavailable(f"the credentials file {path} cannot be read: {exc}") from None
    if found is None:
        return None
    login, _account, password = found
    return login or "", password or ""


class Backend:
    def __init__(self, url: str) -> None:
        clean, user, password = _split_credentials(url.rstrip("/"))
        #: The cache's URL as shown and stored: never with credentials.
        self.url = clean.rstrip("/")
        self.raw_url = url
        try:
            parts = urlsplit(self.url)
        except ValueError as exc:  # "http://[::1": an unbalanced bracket
            raise CacheUnavailable(f"cache {self.url}: not a URL: {exc}") from None
        self.scheme = parts.scheme or "file"
        self.limits = Limits.from_env()
        options: dict[str, Any] = {}
        base = self.url
        if self.scheme == "s3":
            endpoint = parse_qs(parts.query).get("endpoint", [os.environ.get("WASIX_S3_ENDPOINT", "")])[0]
            if endpoint:
                options["endpoint_url"] = endpoint
            options["config_kwargs"] = {"connect_timeout": self.limits.stall, "read_timeout": self.limits.stall}
            base = f"s3://{parts.netloc}{parts.path}".rstrip("/")
        elif self.scheme in ("http", "https"):
            options["client_kwargs"] = self._http_client(parts.hostname or "", user, password)
        try:
            import fsspec  # type: ignore[import-untyped]
            from fsspec.registry import known_implementations  # type: ignore[import-untyped]
        except ImportError:
            raise CacheUnavailable("binary caches need fsspec: pip install fsspec") from None
        if self.scheme not in known_implementations:
            raise CacheUnavailable(
                f"cache {self.url}: unknown URL scheme {self.scheme!r} (use file://, http(s):// or s3://)"
            )
        try:
            self.fs, self.root = fsspec.core.url_to_fs(base, **options)
        except ImportError as exc:
            lib = _NEEDS.get(self.scheme, str(exc))
            raise CacheUnavailable(f"cache {self.url}: {self.scheme}:// needs {lib}: pip install {lib}") from None
        except (ValueError, TypeError) as exc:  # a URL the backend cannot parse
            raise CacheUnavailable(f"cache {self.url}: {self.scrub(str(exc))}") from None
        if self.scheme == "file":
            self.root = str(Path(self.root).absolute())

    def _http_client(self, host: str, user: str | None, password: str | None) -> dict[str, Any]:
        """aiohttp session settings: time limits, and Basic authentication when the URL or a
        netrc-style file gives credentials."""
        try:
            import aiohttp
        except ImportError:
            return {}
        kwargs: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(
            total=self.limits.deadline, sock_connect=self.limits.stall, sock_read=self.limits.stall)}
        if user is None and password is None:
            found = netrc_credentials(host)
            if found is not None:
                user, password = found
        if user is not None or password is not None:
            # aiohttp drops the header when a redirect leads to another origin.
            token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
            kwargs["headers"] = {"Authorization": f"Basic {token}"}
        return kwargs

    def scrub(self, text: str) -> str:
        """An error message with this cache's credentials taken out."""
        return scrub(text, self.raw_url)

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def read(self, name: str, limit: int) -> bytes:
        """A small object of at most ``limit`` bytes (:class:`TooLarge` past that), read within
        the download limits (:class:`~wasix_backend.errors.FetchError` when too slow);
        FileNotFoundError when the cache does not have it."""
        pace = self.pace(name)
        data = bytearray()
        with self.open(name) as stream:
            while True:
                chunk = stream.read(min(64 * 1024, limit + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
                if len(data) > limit:
                    raise TooLarge(f"{name} is larger than {limit} bytes")
                pace.advance(len(chunk))
        return bytes(data)

    def pace(self, name: str) -> _Pace:
        """What checks one transfer of ``name`` against ``$WASIX_DOWNLOAD_*``, read by read."""
        return _Pace(self.limits, f"cache {self.url}", name)

    def size(self, name: str) -> int | None:
        """The size of an object (None: the cache does not say); FileNotFoundError when absent."""
        size = self.fs.size(self._path(name))
        return None if size is None else int(size)

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """A stream over a (large) object; FileNotFoundError only when the cache says it has
        no such object (a refusal, a server error or a dead connection is not a miss)."""
        if self.scheme in ("http", "https"):
            # One GET, streamed (no range requests): fsspec's own open() asks HEAD first and
            # takes any failure there, a 401 or a refused connection too, for "not found".
            from fsspec.asyn import sync  # type: ignore[import-untyped]
            from fsspec.implementations.http import HTTPStreamFile  # type: ignore[import-untyped]

            session = sync(self.fs.loop, self.fs.set_session)
            stream = HTTPStreamFile(self.fs, self._path(name), mode="rb", loop=self.fs.loop, session=session,
                                    **self.fs.kwargs)
            with stream:
                yield stream
            return
        with self.fs.open(self._path(name), "rb") as stream:
            yield stream

    def describe(self, exc: BaseException) -> str:
        """One line on a failed transfer, without credentials."""
        if isinstance(exc, TimeoutError):
            return (f"timed out: no data for {self.limits.stall:g} s ($WASIX_DOWNLOAD_TIMEOUT) or more than "
                    f"{self.limits.deadline:g} s in all ($WASIX_DOWNLOAD_DEADLINE)")
        text = str(exc).strip() or type(exc).__name__
        return self.scrub(text.splitlines()[0][:200])

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
