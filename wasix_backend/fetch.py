"""Downloading pinned files: verified by sha256 while streaming, written atomically.

Every file that enters the cache was hashed on its way in and moved into place with
``os.replace`` only after its hash matched, so a file's presence under its final name is
the proof that it is complete and correct; nothing half-written ever carries that name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from . import __version__, paths
from .errors import FetchError, SourcesUnreachable, Unreachable
from .fsutil import SHA256_RE
from .interrupt import acquire, check

if TYPE_CHECKING:
    from .recipe import Source

TIMEOUT = 30.0  # seconds without progress before a download is given up
#: Defaults of the limits below; each can be set through its environment variable.
DEADLINE = 3600.0  # WASIX_DOWNLOAD_DEADLINE: seconds one download may take in all
MIN_RATE = 1024.0  # WASIX_DOWNLOAD_MIN_RATE: bytes/s, averaged over each WASIX_DOWNLOAD_TIMEOUT
LOCK_NOTICE = 1.0  # seconds of waiting on another process's download before saying so
_CHUNK = 256 * 1024
_USER_AGENT = f"wasix-backend/{__version__}"


def _check_hash(sha256: str, what: str) -> str:
    sha = sha256.strip().lower()
    if not SHA256_RE.match(sha):
        # Never download something we cannot verify.
        raise FetchError(
            f"{what}: no pinned hash (sha256 {sha256!r} is not 64 hex digits); refusing to download"
        )
    return sha


@contextmanager
def _progress(what: str, url: str, total: int | None, enabled: bool) -> Iterator[object]:
    """Yield a callable ``advance(nbytes)``: a rich bar on a terminal, else one line."""
    if not enabled:
        yield lambda n: None
        return
    if not sys.stderr.isatty():
        print(f"downloading {what} from {url}", file=sys.stderr, flush=True)
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"{what}", total=total)
        yield lambda n: bar.advance(task, n)


@dataclass(frozen=True)
class Limits:
    """How long a download may stall, take in all, and how slow it may get."""

    stall: float = TIMEOUT
    deadline: float = DEADLINE
    min_rate: float = MIN_RATE

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            stall=_env_number("WASIX_DOWNLOAD_TIMEOUT", TIMEOUT),
            deadline=_env_number("WASIX_DOWNLOAD_DEADLINE", DEADLINE),
            min_rate=_env_number("WASIX_DOWNLOAD_MIN_RATE", MIN_RATE, zero_ok=True),
        )


def _env_number(name: str, default: float, *, zero_ok: bool = False) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not zero_ok):
        raise FetchError(f"${name} must be a positive number, got {text!r}")
    return value


class _Pace:
    """Checks a transfer against :class:`Limits` after each read."""

    def __init__(self, limits: Limits, what: str, url: str) -> None:
        self.limits, self.what, self.url = limits, what, url
        self.start = self.window_start = time.monotonic()
        self.window_bytes = 0

    def timeout(self) -> float:
        """The socket timeout for the next read: the stall limit, cut to the time left."""
        left = self.limits.deadline - (time.monotonic() - self.start)
        if left <= 0:
            self._over_deadline()
        return max(0.01, min(self.limits.stall, left))

    def _over_deadline(self) -> None:
        raise FetchError(
            f"{self.what}: {self.url}: gave up after {self.limits.deadline:g} s in all "
            "($WASIX_DOWNLOAD_DEADLINE); try again, or put the file in $WASIX_MIRROR"
        )

    def advance(self, n: int) -> None:
        check()  # Ctrl-C/SIGTERM: stop between reads, the .part file goes
        now = time.monotonic()
        if now - self.start > self.limits.deadline:
            self._over_deadline()
        self.window_bytes += n
        window = now - self.window_start
        if window >= self.limits.stall:
            rate = self.window_bytes / window
            if rate < self.limits.min_rate:
                raise FetchError(
                    f"{self.what}: {self.url}: too slow: {rate:.0f} bytes/s over the last {window:.0f} s, "
                    f"below the minimum of {self.limits.min_rate:g} ($WASIX_DOWNLOAD_MIN_RATE)"
                )
            self.window_start, self.window_bytes = now, 0


def _set_read_timeout(response: object, seconds: float) -> None:
    # urllib gives no public handle on the socket; without one only the stall limit applies.
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _part_prefix(dest: Path) -> str:
    return f".{dest.name}."


def remove_dead_parts(directory: Path, name: str | None = None) -> list[Path]:
    """Delete ``.part`` files of downloads whose process is gone (the pid is in the name:
    ``.<file>.<pid>.<random>.part``); return them. Live downloads' files stay."""
    removed = []
    pattern = f".{name}.*.part" if name else ".*.part"
    for part in Path(directory).glob(pattern):
        pid = _part_pid(part)
        if pid is not None and not pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                removed.append(part)
    return removed


def _part_pid(part: Path) -> int | None:
    match = re.search(r"\.(\d+)\.[^.]+\.part$", part.name)
    return int(match.group(1)) if match else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def download(url: str, dest: Path, sha256: str, *, what: str, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, verifying its sha256; return ``dest``.

    The data streams into a temporary file next to ``dest`` while being hashed; only a
    verified file is moved into place (``os.replace``). A wrong hash, a truncated
    transfer, an HTTP error or a timeout raises :class:`FetchError` naming ``what``, the
    URL and the cause, and leaves nothing behind. ``file://`` URLs work too.
    """
    sha = _check_hash(sha256, what)
    dest = Path(dest)
    _transfer(url, dest, what, progress, lambda actual: actual == sha or _mismatch(what, url, sha, actual))
    return dest


def download_unpinned(url: str, directory: Path, filename: str, *, what: str, progress: bool = False) -> tuple[Path, str]:
    """Download a file whose sha256 is not known yet (``new --from-url``, ``update``): the
    same transfer as :func:`download`, kept as ``directory/<sha256>-<filename>`` (the name a
    build looks for, :func:`cached_name`). Returns that path and the sha256. An empty file
    is refused (it is never an archive)."""
    directory = Path(directory)
    learnt: list[str] = []
    part = directory / f".unpinned-{os.getpid()}-{filename}"

    def accept(actual: str) -> bool:
        learnt.append(actual)
        return True

    received = _transfer(url, part, what, progress, accept)
    try:
        if received == 0:
            raise FetchError(f"{what}: {url}: the file is empty")
        dest = directory / f"{learnt[0]}-{filename}"
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest, learnt[0]


def _mismatch(what: str, url: str, sha: str, actual: str) -> bool:
    raise FetchError(
        f"{what}: {url}: sha256 mismatch\n  expected {sha}\n  actual   {actual}\n"
        "  (the file was not kept; a changed upstream file needs a new pin)"
    )


def _transfer(url: str, dest: Path, what: str, progress: bool, accept: Callable[[str], bool]) -> int:
    """Stream ``url`` into ``dest`` (temp file, then rename) once ``accept(sha256)`` holds;
    the number of bytes. Every download of the project goes through here."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    limits = Limits.from_env()
    remove_dead_parts(dest.parent, dest.name)
    # The pid in the name lets a later run tell a dead download's leftover from a live one.
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f"{_part_prefix(dest)}{os.getpid()}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        total: int | None = None
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        pace = _Pace(limits, what, url)
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(request, timeout=pace.timeout()) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    with _progress(what, url, total, progress) as advance:
                        while True:
                            _set_read_timeout(response, pace.timeout())
                            chunk = response.read1(_CHUNK)  # returns what has arrived
                            if not chunk:
                                break
                            digest.update(chunk)
                            out.write(chunk)
                            received += len(chunk)
                            advance(len(chunk))  # type: ignore[operator]
                            pace.advance(len(chunk))
            except urllib.error.HTTPError as exc:
                raise Unreachable(f"{what}: {url}: HTTP {exc.code} {exc.reason}") from None
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    reason = f"timed out after {limits.stall:g} s"
                raise Unreachable(f"{what}: {url}: cannot connect: {reason}") from None
            except TimeoutError:
                pace.timeout()  # past the deadline: say that rather than "no data"
                raise Unreachable(
                    f"{what}: {url}: timed out after {limits.stall:g} s without data ($WASIX_DOWNLOAD_TIMEOUT)"
                ) from None
            except ConnectionError as exc:  # reset, refused mid-transfer
                raise Unreachable(f"{what}: {url}: transfer failed: {exc}") from None
            except OSError as exc:  # disk full, ...: not the network's fault
                raise FetchError(f"{what}: {url}: transfer failed: {exc}") from None
        if total is not None and received != total:
            raise Unreachable(
                f"{what}: {url}: truncated download: got {received} of {total} bytes (connection closed early)"
            )
        accept(digest.hexdigest())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return received
    finally:
        # On success the name is gone already; on any failure no partial file stays.
        tmp.unlink(missing_ok=True)


def fetch_text(url: str, *, what: str) -> str:
    """GET a page (a release listing) through the same transfer, decoded as UTF-8."""
    with tempfile.TemporaryDirectory(prefix="wasix-page-") as tmp:
        page = Path(tmp) / "page"
        _transfer(url, page, what, False, lambda _sha: True)
        return page.read_bytes().decode("utf-8", "replace")


def cached_name(source: Source) -> str:
    """The file name of a verified source in the cache: ``<sha256>-<filename>``."""
    return f"{source.sha256}-{source.filename}"


def fetch_source(
    source: Source,
    *,
    package: str,
    cache_dir: Path | None = None,
    mirror: Path | None = None,
    progress: bool = True,
    apt_root: Path | None = None,
) -> Path:
    """Return a verified local copy of ``source``: ``<cache_dir>/<sha256>-<filename>``.

    Places are tried in order: the mirror directory (a file named ``source.filename``),
    then ``source.urls``, then the Debian source pool when ``source.debian`` is set (URIs
    from the apt configuration under ``apt_root``, default ``/``). A place that fails — not
    there, HTTP error, wrong hash — is noted and the next one tried; if all fail, one error
    lists every place and why, and how to proceed: :class:`SourcesUnreachable` (the package
    is skipped) when no place could be reached or had the file, :class:`FetchError` when one
    gave a wrong file. A per-file lock keeps two processes from downloading the same file at
    once.
    """
    from .debian import apt_uris, pool_urls

    what = f"{package}: {source.filename}"
    _check_hash(source.sha256, what)
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.sources_dir()
    mirror = Path(mirror) if mirror is not None else paths.mirror_dir()
    apt_root = Path(apt_root) if apt_root is not None else Path("/")
    dest = cache_dir / cached_name(source)
    if _verified_cached(dest, source.sha256, what):
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _download_lock(dest, what):
        if _verified_cached(dest, source.sha256, what):  # another process finished it while we waited
            return dest
        remove_dead_parts(cache_dir, dest.name)
        tried: list[str] = []
        wrong = False  # did some place give a file that is not the pinned one?
        if mirror is None:
            tried.append("mirror: $WASIX_MIRROR is not set")
        else:
            local = mirror / source.filename
            if local.is_file():
                try:
                    return download(local.as_uri(), dest, source.sha256, what=what, progress=False)
                except FetchError as exc:
                    wrong = True
                    tried.append(f"mirror {local}: {_reason(exc, what, local.as_uri())}")
            else:
                tried.append(f"mirror {local}: not there")
        urls = list(source.urls)
        if source.debian:
            if not apt_uris(apt_root):
                tried.append(f"Debian pool: no apt URIs in {apt_root / 'etc/apt'}")
            urls += pool_urls(source.debian, source.filename, root=apt_root)
        for url in urls:
            try:
                return download(url, dest, source.sha256, what=what, progress=progress)
            except FetchError as exc:
                wrong = wrong or not isinstance(exc, Unreachable)
                tried.append(f"{url}: {_reason(exc, what, url)}")
        lines = (
            "\n".join(f"  - {t}" for t in tried) or "  (no place to try: the source has no URLs)"
        )
        where = (
            f"$WASIX_MIRROR ({mirror})"
            if mirror is not None
            else "a directory named by $WASIX_MIRROR"
        )
        how = f"put {source.filename} into {where}; it is verified by its sha256 before use"
        message = (
            f"{package}: could not fetch {source.filename} (sha256 {source.sha256}). Tried:\n{lines}\n"
            f"To proceed, get the file by other means and put it in {where} as "
            f"{source.filename!r}; it is verified by its sha256 before use."
        )
        if wrong:
            raise FetchError(message)
        raise SourcesUnreachable(
            message, how=how, reason=f"{source.filename}: no place to fetch it from is reachable"
        )


def _verified_cached(dest: Path, sha256: str, what: str) -> bool:
    """Whether ``dest`` is there and still has its pinned hash. A cached file is re-hashed
    on every use (cheap next to a compile): one changed behind our back is reported,
    removed, and fetched again."""
    if not _is_cached(dest):
        return False
    from .fsutil import file_sha256

    actual = file_sha256(dest)
    if actual == sha256.strip().lower():
        return True
    print(
        f"warning: {what}: the cached {dest} no longer matches its pin (sha256 {actual}); "
        "removed, fetching it again",
        file=sys.stderr,
    )
    dest.unlink(missing_ok=True)
    return False


@contextmanager
def _download_lock(dest: Path, what: str) -> Iterator[None]:
    """The per-file download lock; after a second of waiting, say whom we wait for."""
    lock = FileLock(str(dest) + ".lock")
    try:
        lock.acquire(timeout=LOCK_NOTICE)
    except Timeout:
        holder = lock_holder(Path(lock.lock_file))
        who = f"process {holder}" if holder else "another process"
        print(f"waiting for {who} to finish downloading {what}", file=sys.stderr, flush=True)
        acquire(lock)  # ends at once on Ctrl-C/SIGTERM
    try:
        yield
    finally:
        lock.release()


def lock_holder(lock_file: Path) -> int | None:
    """The pid holding an flock on ``lock_file``, from ``/proc/locks`` (Linux), else None."""
    try:
        inode = os.stat(lock_file).st_ino
        with open("/proc/locks", encoding="ascii") as fh:
            for line in fh:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 925 fe:00:2146370 0 EOF"
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
                    return int(fields[4])
    except (OSError, ValueError):
        pass
    return None


def _is_cached(dest: Path) -> bool:
    # Only download() writes the final name, after verification: existence is proof.
    # A size check catches a file someone truncated by hand.
    try:
        return dest.is_file() and dest.stat().st_size > 0
    except OSError:
        return False


def _reason(exc: FetchError, what: str, url: str = "") -> str:
    """The cause part of a download error (the list it goes into already names the place)."""
    text = str(exc)
    prefix = f"{what}: {url}: " if url else f"{what}: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return " ".join(text.split())
