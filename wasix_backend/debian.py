"""Where Debian's source archive keeps upstream tarballs, read from this machine's apt setup.

Debian ships upstream's release tarballs unchanged as ``<pkg>_<version>.orig.tar.*`` in its
source pool, ``<URI>/pool/main/<dir>/<srcpkg>/``. The mirror URI is never written in the
project: it comes from apt's configuration at run time, so whatever mirror the machine
uses (and is allowed to reach) is the one we use.
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import FetchError

# Schemes urllib can fetch; apt's others (cdrom:, mirror+, tor+ ...) are skipped.
_FETCHABLE = ("http://", "https://", "file:")
_SRCPKG_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]+$")


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    """Parse deb822 text into stanzas of ``field -> value`` (field names lower-cased)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:  # continuation of a multi-line field
            current[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue  # not a field; apt would reject the file, we just skip the line
        last = name.strip().lower()
        current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def _uris_from_sources(text: str) -> list[str]:
    uris: list[str] = []
    for stanza in _deb822_stanzas(text):
        types = stanza.get("types", "").split()
        if not {"deb", "deb-src"} & set(types):
            continue
        if stanza.get("enabled", "yes").strip().lower() in {"no", "false", "0"}:
            continue
        uris += stanza.get("uris", "").split()
    return uris


def _uris_from_list(text: str) -> list[str]:
    """One-line format: ``deb [opt=val ...] URI suite [component ...]``."""
    uris: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        words = line.split()
        if not words or words[0] not in {"deb", "deb-src"}:
            continue
        rest = line[len(words[0]) :].strip()
        if rest.startswith("["):  # options block, may contain spaces
            close = rest.find("]")
            if close < 0:
                continue
            rest = rest[close + 1 :].strip()
        parts = rest.split()
        if parts:
            uris.append(parts[0])
    return uris


def apt_uris(root: Path = Path("/")) -> list[str]:
    """Repository URIs of the apt configuration under ``root`` (de-duplicated, in apt's order).

    Reads ``etc/apt/sources.list`` (``deb``/``deb-src`` lines), then ``etc/apt/sources.list.d/``
    in name order: ``*.list`` files in the one-line format and ``*.sources`` files in deb822
    format (stanzas whose ``Types`` include ``deb`` or ``deb-src`` and that are not
    ``Enabled: no``). Only URIs urllib can fetch are returned; trailing ``/`` is stripped.
    """
    apt = Path(root) / "etc" / "apt"
    found: list[str] = []
    main_list = apt / "sources.list"
    if main_list.is_file():
        found += _uris_from_list(_read(main_list))
    parts = apt / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list" and path.is_file():
                found += _uris_from_list(_read(path))
            elif path.suffix == ".sources" and path.is_file():
                found += _uris_from_sources(_read(path))
    uris: list[str] = []
    for uri in found:
        uri = uri.rstrip("/")
        if uri.startswith(_FETCHABLE) and uri not in uris:
            uris.append(uri)
    return uris


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""  # an unreadable apt file is apt's problem, not a reason to fail a build


def pool_dir(srcpkg: str) -> str:
    """The pool sub-directory of a source package: ``nano`` → ``n/nano``, ``libpng1.6`` → ``libp/libpng1.6``."""
    if not _SRCPKG_RE.match(srcpkg):
        raise FetchError(f"{srcpkg!r} is not a valid Debian source package name")
    prefix = srcpkg[:4] if srcpkg.startswith("lib") and len(srcpkg) > 3 else srcpkg[0]
    return f"{prefix}/{srcpkg}"


def pool_urls(srcpkg: str, filename: str, root: Path = Path("/")) -> list[str]:
    """Candidate URLs of ``filename`` in the ``main`` pool of every configured apt URI."""
    if not filename or "/" in filename:
        raise FetchError(f"{srcpkg}: {filename!r} is not a plain file name of the source pool")
    directory = pool_dir(srcpkg)
    return [f"{uri}/pool/main/{directory}/{filename}" for uri in apt_uris(root)]
