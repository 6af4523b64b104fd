"""The JavaScript the ``web`` output ships, as pinned npm tarballs fetched like any source.

Each tarball is pinned by version, by the registry's own ``integrity`` value (sha512, what
``npm view PKG@VER dist.integrity`` prints) and by its sha256 (the name the source cache
keeps it under). It is fetched through :func:`wasix_backend.fetch.fetch_source` — mirror
(``$WASIX_MIRROR``, by file name) first, then the npm registry — so it is verified, cached
under ``<cache>/sources`` and mirrored like the packages' sources; the integrity is checked
again on every use. No Node.js is run: the registry's address is read from npm's own
configuration (``$npm_config_registry``, ``registry=`` in an ``.npmrc``), and only where none
sets it is ``npm config get registry`` asked, when npm is installed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import FetchError, SourcesUnreachable

#: Seconds ``npm config get registry`` may take (it only reads configuration).
_NPM_TIMEOUT = 30


@dataclass(frozen=True)
class NpmPin:
    """One npm package at one version, pinned by the registry's integrity and by sha256."""

    name: str  # "@scope/name" or "name"
    version: str
    integrity: str  # "sha512-<base64>", as the registry's dist.integrity
    sha256: str

    @property
    def filename(self) -> str:
        """The tarball's name as ``npm pack`` writes it: ``scope-name-VERSION.tgz``."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def tarball_path(self) -> str:
        """The tarball's path under a registry: ``NAME/-/BASENAME-VERSION.tgz``."""
        return f"{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


#: Wasmer's JavaScript SDK: the runtime the pages run the ``.webc`` files in.
WASMER_SDK = NpmPin(
    "@wasmer/sdk", "0.16.0",
    "sha512-GYZFciarlwsXmcumPdLUyRes7gO3LzZQzMvxPGiXmahI5Dz+xCv08YVCQlRKngz31SWxMr1lPB4mRrrjXMHEOg==",
    "1b6279f030c3d2c5678c8fa6ee3603601d95d6bb46882bb0123880fcb23deb99",
)  # fmt: skip
#: The terminal in the page.
XTERM = NpmPin(
    "@xterm/xterm", "6.0.0",
    "sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==",
    "908e66e04af6c8dc6b00dd3b54de088e2e81e5ed866284fd6c2fb3c2d1c7a3f6",
)  # fmt: skip
#: A service worker that adds the cross-origin isolation headers a static host cannot set.
COI_SERVICEWORKER = NpmPin(
    "coi-serviceworker", "0.1.7",
    "sha512-bjSUqEngCPOkErY2vbyWsaIGCNRODYzlNycaREVw5s12/C8SM+RnRUUeX6pZbTtov6C52ZLY/+tvHK+BDxuUuA==",
    "6a546d4748e215220de923cf5dbb887104cec1aa7bb9afc2e925ba376a229616",
)  # fmt: skip
PINS = (WASMER_SDK, XTERM, COI_SERVICEWORKER)


def _npmrc_registry(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "registry" and value.strip():
            return value.strip()
    return None


def registry_url(env: dict[str, str] | None = None) -> str | None:
    """The npm registry's base URL as npm itself would use it, or None where nothing says.

    In npm's order of precedence: the ``npm_config_registry`` variable (any case), the
    user's ``.npmrc`` (``$NPM_CONFIG_USERCONFIG``, else ``~/.npmrc``), the global one
    (``$NPM_CONFIG_GLOBALCONFIG``, else ``/etc/npmrc``), then npm's built-in default, asked
    of ``npm config get registry`` when npm is installed."""
    env = dict(os.environ) if env is None else env
    for key, value in env.items():
        if key.lower() == "npm_config_registry" and value.strip():
            return value.strip()
    user = env.get("NPM_CONFIG_USERCONFIG") or env.get("npm_config_userconfig") or str(Path.home() / ".npmrc")
    glob = env.get("NPM_CONFIG_GLOBALCONFIG") or env.get("npm_config_globalconfig") or "/etc/npmrc"
    for rc in (Path(user), Path(glob)):
        found = _npmrc_registry(rc)
        if found:
            return found
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None:
        return None
    try:
        done = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True,
                              timeout=_NPM_TIMEOUT, check=False, env=env)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and "://" in value else None


def integrity_of(data: bytes) -> str:
    """The npm ``integrity`` string (sha512, base64) of a tarball's bytes."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def fetch_tarball(pin: NpmPin, *, cache_dir: Path | None = None, mirror: Path | None = None,
                  registry: str | None = None) -> bytes:  # fmt: skip
    """The verified bytes of ``pin``'s tarball: from the source cache, else ``$WASIX_MIRROR``
    (a file named :attr:`NpmPin.filename`), else the registry; sha256 and integrity checked."""
    from .. import paths
    from ..fetch import cached_name, fetch_source
    from ..recipe import Source

    source = Source(sha256=pin.sha256, urls=(), file=pin.filename)
    if registry is None:
        # Asking npm for its registry starts Node.js: not for a tarball already cached.
        cached = (Path(cache_dir) if cache_dir is not None else paths.sources_dir()) / cached_name(source)
        registry = None if cached.is_file() else registry_url()
    urls = (f"{registry.rstrip('/')}/{pin.tarball_path()}",) if registry else ()
    source = Source(sha256=pin.sha256, urls=urls, file=pin.filename)
    try:
        path = fetch_source(source, package=f"web ({pin.name}@{pin.version})", cache_dir=cache_dir,
                            mirror=mirror, progress=False)  # fmt: skip
    except SourcesUnreachable as exc:
        if urls:
            raise
        # The registry was never tried: say why, and how to name one.
        how = "apt-get install npm (or set $npm_config_registry, or registry= in ~/.npmrc)"
        raise SourcesUnreachable(f"{exc}\nNo npm registry is configured here: {how}.", how=how,
                                 reason=exc.reason) from exc  # fmt: skip
    data = path.read_bytes()
    actual = integrity_of(data)
    if actual != pin.integrity:
        raise FetchError(
            f"{pin.name}@{pin.version}: {path}: integrity mismatch\n  expected {pin.integrity}\n  actual   {actual}\n"
            "  (remove the file; a changed tarball needs a new pin)"
        )
    return data


def tarball_members(data: bytes, prefix: str = "package/") -> dict[str, bytes]:
    """The regular files of an npm tarball, by path below ``package/``. Nothing is written to
    disk here: the caller picks what the site needs, by name (so no member can escape)."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.startswith(prefix):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    files[member.name[len(prefix):]] = extracted.read()
    return files
