"""Vendoring a Cargo.lock's crates so that ``cargo build --offline`` finds them all.

Steps: :func:`read_lock` parses ``Cargo.lock``; :func:`plan_vendoring` decides where each
registry crate comes from; :func:`vendor` fetches, verifies and lays them out as a cargo
*directory source* (one folder per crate plus ``.cargo-checksum.json``);
:func:`write_cargo_config` points cargo's ``crates-io`` source at it.

Crate sources, tried in this order:

``mirror``   ``$WASIX_MIRROR/NAME-VERSION.crate`` — checked against Cargo.lock's sha256.
``cache``    crates downloaded and verified earlier (``<cache>/crates``) — checked again.
``debian``   Debian's packaged sources, ``/usr/share/cargo/registry/NAME-VERSION/``
             (``librust-*-dev``; ``$WASIX_DEBIAN_CRATES`` moves it, ``no`` turns it off).
             **Not verified**: Debian repacks crates (and may patch ``Cargo.toml``), so the
             files cannot be checked against Cargo.lock's checksum of the ``.crate``. Their
             ``.cargo-checksum.json`` is generated from the files as they are and the
             build's copy of Cargo.lock drops their checksum (cargo refuses a lock checksum
             the source cannot confirm); the plan says so for each such crate.
``registry`` ``$WASIX_CRATES_DL``, a URL template with ``{crate}`` and ``{version}`` (also
             ``{prefix}``, ``{lowerprefix}``, ``{sha256-checksum}`` as in a registry's
             ``config.json``). No registry location is built in. Downloads are verified.
``git``      a git dependency of Cargo.lock (``source = "git+URL#COMMIT"``), from that
             commit; or a crate the recipe pins by commit (``[build] crates-git``,
             :mod:`wasix_backend.cargo_git`): the mirror's ``NAME-REV.bundle``, else the
             repository, packaged as ``cargo package`` would. **Not verified** against
             Cargo.lock's checksum (that is the registry archive's); the commit id pins the
             files instead. For such a crate the order is mirror, cache, registry (a verified
             ``.crate`` wins wherever there is one), then its commit; Debian's copy is not used.

A crate found nowhere is a missing requirement (the package is skipped) whose remedy names
Debian's package for each crate Debian has at exactly that version
(``apt-get install librust-NAME-VERSION-dev``, see :func:`debian_packages`), and the mirror
or registry for the others. A file that does not match Cargo.lock is an error naming the
crate and version.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from . import paths
from .cargo_git import GitPin
from .errors import FetchError, SourcesUnreachable, Unreachable
from .extract import extract
from .fetch import download
from .fsutil import file_sha256

DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
DL_ENV = "WASIX_CRATES_DL"
DEBIAN_ENV = "WASIX_DEBIAN_CRATES"
VENDOR_SOURCE = "vendored-sources"
CHECKSUM_FILE = ".cargo-checksum.json"

log = logging.getLogger(__name__)


class CrateError(FetchError):
    """A crate of Cargo.lock is missing, unsupported or does not match its checksum."""

    def __init__(self, name: str, version: str, problem: str) -> None:
        self.crate, self.version = name, version
        super().__init__(f"crate {name} {version}: {problem}")


class CratesUnavailable(CrateError, SourcesUnreachable):
    """Crates that no configured place has or can deliver here: the package is skipped."""

    def __init__(self, crates: list[LockedCrate], problem: str) -> None:
        self.crate, self.version = crates[0].name, crates[0].version
        names = ", ".join(f"{c.name} {c.version}" for c in crates)
        packaged = debian_packages(crates)
        others = [c for c in crates if c.key not in packaged]
        ways = []
        if packaged:
            ways.append(f"on Debian/Ubuntu `apt-get install {' '.join(sorted(set(packaged.values())))}`")
        if others:
            files = " ".join(f"{c.key}.crate" for c in others)
            ways.append(f"put {files} into $WASIX_MIRROR, or set {DL_ENV} to your crate "
                        "registry's download URL template")  # fmt: skip
        SourcesUnreachable.__init__(
            self,
            f"crate {self.crate} {self.version}: {problem}",
            how="; ".join(ways),
            reason=f"crates not available offline: {names}",
        )


@dataclass(frozen=True)
class LockedCrate:
    """A package pinned by Cargo.lock: from a registry, or from a git commit."""

    name: str
    version: str
    source: str
    checksum: str | None

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def git_pin(self) -> GitPin | None:
        """For a git source (``git+URL?rev=…#COMMIT``): the repository and the locked commit."""
        if not self.source.startswith("git+"):
            return None
        url, _, commit = self.source[4:].partition("#")
        return GitPin(self.name, url.partition("?")[0], commit)

    @property
    def git_source_id(self) -> str:
        """A git source as a manifest names it (``git+URL?rev=…``, no locked commit)."""
        return self.source.partition("#")[0]


@dataclass(frozen=True)
class Lockfile:
    path: Path
    version: int
    crates: tuple[LockedCrate, ...]
    #: Packages without a source: the workspace's own members.
    members: tuple[str, ...]


def debian_package_name(crate: LockedCrate) -> str | None:
    """Debian's name for exactly this crate version: ``librust-NAME-VERSION-dev``, which the
    package holding it (``librust-NAME-dev`` or a versioned one) provides; ``None`` for
    versions Debian spells differently (pre-releases, build metadata)."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", crate.version):
        return None
    return f"librust-{crate.name.lower().replace('_', '-')}-{crate.version}-dev"


def debian_packages(crates: Iterable[LockedCrate]) -> dict[str, str]:
    """``{crate key: Debian package}`` for the crates this machine's apt knows at exactly
    their version (asked of the local package lists with ``apt-cache``: no download). Empty
    where there is no apt."""
    names = {c.key: n for c in crates if (n := debian_package_name(c))}
    apt_cache = shutil.which("apt-cache")
    if not names or apt_cache is None:
        return {}
    try:
        done = subprocess.run(
            [apt_cache, "showpkg", *names.values()], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    known: set[str] = set()
    for block in re.split(r"^Package: ", done.stdout, flags=re.M)[1:]:
        name, _, rest = block.partition("\n")
        provided = rest.split("Reverse Provides:", 1)[1] if "Reverse Provides:" in rest else ""
        versions = rest.split("Versions:", 1)[1].split("\n\n", 1)[0] if "Versions:" in rest else ""
        if provided.strip() or versions.strip():
            known.add(name.strip())
    return {key: name for key, name in names.items() if name in known}


def _is_registry(source: str) -> bool:
    return source.startswith(("registry+", "sparse+"))


def read_lock(path: Path) -> Lockfile:
    """Parse ``Cargo.lock`` (format versions 1 to 4).

    Raises :class:`FetchError` for an unreadable file and :class:`CrateError` for a
    dependency that cannot be vendored (a source that is neither a registry nor a git
    commit, a git source without its full commit id).
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FetchError(f"{path}: cannot read Cargo.lock: {exc}") from None
    # Format 1 keeps checksums in [metadata] as "checksum NAME VERSION (SOURCE)" = "hex".
    legacy = {
        tuple(key.split(" ")[1:3]): value
        for key, value in data.get("metadata", {}).items()
        if key.startswith("checksum ") and value != "<none>"
    }
    crates: list[LockedCrate] = []
    members: list[str] = []
    for pkg in data.get("package", []):
        name, version, source = pkg["name"], pkg["version"], pkg.get("source", "")
        if not source:
            members.append(name)
            continue
        if source.startswith("git+"):
            commit = source.partition("#")[2]
            if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
                raise CrateError(
                    name, version,
                    f"comes from {source!r}, which names no full commit id after '#' (let cargo write the lock)",
                )  # fmt: skip
        elif not _is_registry(source):
            raise CrateError(
                name,
                version,
                f"comes from {source!r}: only registry crates and git commits can be vendored offline "
                "(package it as a .crate in the mirror and depend on it by version)",
            )
        checksum = pkg.get("checksum") or legacy.get((name, version))
        crates.append(LockedCrate(name, version, source, checksum))
    seen: dict[str, str] = {}
    for c in crates:
        if seen.setdefault(c.key, c.source) != c.source:
            raise CrateError(c.name, c.version, f"comes from two sources ({seen[c.key]!r} and {c.source!r}); "
                             "one vendor directory cannot hold both")  # fmt: skip
    lock_version = int(data.get("version", 1 if legacy or "metadata" in data else 2))
    return Lockfile(Path(path), lock_version, tuple(crates), tuple(members))


@dataclass(frozen=True)
class CrateSources:
    """Where crates may come from (see the module docstring)."""

    mirror: Path | None
    cache: Path
    debian: Path | None
    download: str | None

    @classmethod
    def from_env(cls) -> CrateSources:
        debian_setting = os.environ.get(DEBIAN_ENV, "")
        if debian_setting.lower() in {"0", "no", "off", "false"}:
            debian: Path | None = None
        else:
            debian = Path(debian_setting) if debian_setting else DEBIAN_REGISTRY
        return cls(
            mirror=paths.mirror_dir(),
            cache=paths.cache_root() / "crates",
            debian=debian,
            download=os.environ.get(DL_ENV) or None,
        )


@dataclass(frozen=True)
class PlannedCrate:
    crate: LockedCrate
    origin: str  # "mirror" | "cache" | "debian" | "registry" | "git" | "missing"
    location: str  # file, directory or URL ("" when missing)
    #: Will the crate be checked against Cargo.lock's checksum?
    verified: bool
    note: str = ""
    #: For origin "git": the commit it comes from.
    pin: GitPin | None = None


@dataclass
class VendorPlan:
    lock: Lockfile
    crates: list[PlannedCrate] = field(default_factory=list)
    #: Where the plan looked (pinned commits are fetched from its mirror too).
    sources: CrateSources | None = None

    @property
    def missing(self) -> list[PlannedCrate]:
        return [c for c in self.crates if c.origin == "missing"]

    @property
    def unverified(self) -> list[PlannedCrate]:
        return [c for c in self.crates if c.origin != "missing" and not c.verified]

    @property
    def from_git(self) -> list[PlannedCrate]:
        """Crates taken from a pinned commit rather than a registry archive."""
        return [c for c in self.crates if c.origin == "git"]

    def git_note(self) -> str:
        """One line for logs and the summary: which crates are pinned by commit only ("" if none)."""
        if not self.from_git:
            return ""
        names = ", ".join(f"{c.crate.name} {c.crate.version}" for c in self.from_git)
        return f"crates pinned by git commit, not verified against the registry's checksum: {names}"

    def as_dict(self) -> dict[str, object]:
        return {
            "lock": str(self.lock.path),
            "crates": [
                {
                    "name": c.crate.name,
                    "version": c.crate.version,
                    "checksum": c.crate.checksum,
                    "origin": c.origin,
                    "location": c.location,
                    "verified": c.verified,
                    "note": c.note,
                    **({"git": c.pin.git, "rev": c.pin.rev} if c.pin else {}),
                }
                for c in self.crates
            ],
        }

    def summary(self) -> str:
        """One line per crate: name, version, origin, verification."""
        lines = [f"vendoring {len(self.crates)} crates from {self.lock.path}:"]
        for c in self.crates:
            check = "sha256 checked" if c.verified else "NOT verified"
            if c.origin == "missing":
                check = "not found"
            elif c.pin is not None:
                check = f"pinned by commit {c.pin.rev}, NOT verified against the registry's checksum"
            lines.append(
                f"  {c.crate.name} {c.crate.version}: {c.origin} ({check}) {c.note}".rstrip()
            )
        return "\n".join(lines)


def _debian_dir(root: Path, crate: LockedCrate) -> Path | None:
    folder = root / crate.key
    try:
        manifest = tomllib.loads((folder / "Cargo.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    pkg = manifest.get("package", {})
    return folder if pkg.get("name") == crate.name and pkg.get("version") == crate.version else None


def download_url(template: str, crate: LockedCrate) -> str:
    """Fill a registry ``dl`` template for ``crate``."""
    name = crate.name
    prefix = {1: "1", 2: "2", 3: f"3/{name[:1]}"}.get(len(name), f"{name[:2]}/{name[2:4]}")
    url = (
        template.replace("{crate}", name)
        .replace("{version}", crate.version)
        .replace("{prefix}", prefix)
        .replace("{lowerprefix}", prefix.lower())
        .replace("{sha256-checksum}", crate.checksum or "")
    )
    if url == template:  # no marker: the registry convention appends /NAME/VERSION/download
        url = f"{template.rstrip('/')}/{name}/{crate.version}/download"
    return url


def _git_entry(crate: LockedCrate, pin: GitPin, mirror: Path | None) -> PlannedCrate:
    bundles = [mirror / f"{n}-{pin.rev}.bundle" for n in (crate.name, pin.source().repo_name)] if mirror else []
    bundle = next((b for b in bundles if b.is_file()), None)
    where = f"mirror bundle {bundle}" if bundle else f"{pin.git} (no bundle in the mirror)"
    return PlannedCrate(crate, "git", f"{pin.git}#{pin.rev}", False, f"from {where}", pin)


def plan_vendoring(
    lock: Lockfile, sources: CrateSources | None = None, pins: dict[str, GitPin] | None = None
) -> VendorPlan:
    """Decide, without fetching anything, where each crate of ``lock`` comes from.

    ``pins`` (crate name → commit, the recipe's ``[build] crates-git``) names crates that may
    come from git; a pin for a crate Cargo.lock does not have is an error."""
    sources = sources or CrateSources.from_env()
    pins = pins or {}
    unknown = sorted(set(pins) - {c.name for c in lock.crates if c.git_pin is None})
    if unknown:
        raise FetchError(
            f"{lock.path}: [build] crates-git pins {', '.join(unknown)}, which Cargo.lock does not "
            f"have from a registry (its registry crates: "
            f"{', '.join(sorted({c.name for c in lock.crates if c.git_pin is None})) or 'none'})"
        )
    plan = VendorPlan(lock, sources=sources)
    for crate in lock.crates:
        no_sum = "" if crate.checksum else "Cargo.lock has no checksum for it"
        mirror = sources.mirror / f"{crate.key}.crate" if sources.mirror else None
        cached = sources.cache / f"{crate.key}.crate"
        debian = _debian_dir(sources.debian, crate) if sources.debian else None
        pin = pins.get(crate.name)
        if crate.git_pin is not None:  # a git dependency: Cargo.lock pins its commit
            plan.crates.append(_git_entry(crate, crate.git_pin, sources.mirror))
            continue
        if mirror is not None and mirror.is_file():
            entry = PlannedCrate(crate, "mirror", str(mirror), bool(crate.checksum), no_sum)
        elif crate.checksum and cached.is_file():
            entry = PlannedCrate(crate, "cache", str(cached), True)
        elif pin is not None and sources.download and crate.checksum:
            entry = PlannedCrate(crate, "registry", download_url(sources.download, crate), True)
        elif pin is not None:
            entry = _git_entry(crate, pin, sources.mirror)
        elif debian is not None:
            entry = PlannedCrate(
                crate,
                "debian",
                str(debian),
                False,
                "Debian's repacked sources: cannot be checked against Cargo.lock's checksum",
            )
        elif sources.download and crate.checksum:
            entry = PlannedCrate(crate, "registry", download_url(sources.download, crate), True)
        else:
            why = no_sum or (
                f"not in the mirror, the cache or Debian's registry, and ${DL_ENV} is unset"
            )
            entry = PlannedCrate(crate, "missing", "", False, why)
        plan.crates.append(entry)
    return plan


def how_to_provide(crates: Iterable[PlannedCrate]) -> str:
    """The error text for crates that cannot be found."""
    names = ", ".join(f"{c.crate.name} {c.crate.version}" for c in crates)
    return (
        f"crates not available offline: {names}.\n"
        "Provide them in one of these ways:\n"
        "  - put NAME-VERSION.crate files into a directory and set WASIX_MIRROR to it;\n"
        "  - install Debian's librust-NAME-VERSION-dev package when it has exactly that version "
        f"(sources under {DEBIAN_REGISTRY});\n"
        f"  - set {DL_ENV} to your crate registry's download URL template, e.g. "
        "'https://REGISTRY/api/v1/crates/{crate}/{version}/download'."
    )


def write_checksums(crate_dir: Path, package: str | None) -> None:
    """Write ``.cargo-checksum.json``: ``package`` and the sha256 of every file as it is."""
    files = {
        p.relative_to(crate_dir).as_posix(): file_sha256(p)
        for p in sorted(crate_dir.rglob("*"))
        if p.is_file() and p.relative_to(crate_dir).as_posix() != CHECKSUM_FILE
    }
    (crate_dir / CHECKSUM_FILE).write_text(
        json.dumps({"package": package, "files": files}, indent=0)
    )


def _unpack_crate(entry: PlannedCrate, archive: Path, into: Path) -> None:
    crate = entry.crate
    if crate.checksum:
        actual = file_sha256(archive)
        if actual != crate.checksum:
            raise CrateError(
                crate.name,
                crate.version,
                f"{archive} does not match Cargo.lock: sha256 {actual}, expected {crate.checksum} "
                "(replace the file with the published crate)",
            )
    extract(archive, into, strip=1, what=f"crate {crate.name} {crate.version}")


def _fetch_one(entry: PlannedCrate, into: Path, cache: Path, mirror: Path | None = None) -> None:
    crate = entry.crate
    if entry.origin in {"mirror", "cache"}:
        _unpack_crate(entry, Path(entry.location), into)
    elif entry.origin == "registry":
        assert crate.checksum  # the plan only picks the registry for crates with one
        try:
            archive = download(
                entry.location,
                cache / f"{crate.key}.crate",
                crate.checksum,
                what=f"crate {crate.name} {crate.version}",
                progress=False,
            )
        except Unreachable as exc:  # the only place for it: missing here, not broken
            raise CratesUnavailable([crate], str(exc)) from None
        _unpack_crate(entry, archive, into)
    elif entry.origin == "git":
        from .cargo_git import vendor_git_crate

        assert entry.pin is not None
        vendor_git_crate(entry.pin, crate.name, crate.version, into, mirror=mirror)
    elif entry.origin == "debian":
        shutil.copytree(
            entry.location,
            into,
            symlinks=False,
            ignore=shutil.ignore_patterns(CHECKSUM_FILE),
        )
    else:  # pragma: no cover - vendor() refuses plans with missing crates
        raise CrateError(crate.name, crate.version, entry.note)
    write_checksums(into, crate.checksum if entry.verified else None)


def vendor(plan: VendorPlan, dest: Path, *, cache: Path | None = None) -> Path:
    """Fetch, verify and unpack every crate of ``plan`` into the directory source ``dest``.

    ``dest`` is replaced as a whole, and only once every crate is in place.
    """
    if plan.missing:
        raise CratesUnavailable([c.crate for c in plan.missing], how_to_provide(plan.missing))
    cache = cache or paths.cache_root() / "crates"
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        for entry in plan.crates:
            _fetch_one(entry, staging / entry.crate.key, cache, plan.sources.mirror if plan.sources else None)
            log.info("vendored %s %s from %s", entry.crate.name, entry.crate.version, entry.origin)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def drop_unverified_checksums(lock_path: Path, plan: VendorPlan) -> list[str]:
    """Remove from ``lock_path`` the checksums of crates the plan could not verify.

    Cargo rejects a lock checksum that the (directory) source cannot confirm; this makes the
    build's Cargo.lock say what is true: those crates are unchecked. Returns their names.
    """
    drop = {(c.crate.name, c.crate.version) for c in plan.unverified}
    if not drop:
        return []
    doc = tomlkit.parse(Path(lock_path).read_text(encoding="utf-8"))
    for pkg in doc.get("package", []):
        if (pkg["name"], pkg["version"]) in drop and "checksum" in pkg:
            del pkg["checksum"]
    metadata = doc.get("metadata")
    if metadata is not None:
        for key in list(metadata):
            parts = key.split(" ")
            if parts[0] == "checksum" and tuple(parts[1:3]) in drop:
                del metadata[key]
    _write_atomic(Path(lock_path), tomlkit.dumps(doc))
    return sorted(f"{n} {v}" for n, v in drop)


def write_cargo_config(cargo_home: Path, vendor_dir: Path, crates: Iterable[LockedCrate] = ()) -> Path:
    """Write ``<cargo_home>/config.toml`` replacing ``crates-io``, and the git sources of
    ``crates``, by ``vendor_dir`` (as ``cargo vendor`` writes it)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Written by wasix-backend: builds use only the vendored crates."))
    sources: dict[str, dict[str, str]] = {"crates-io": {"replace-with": VENDOR_SOURCE}}
    for source_id in sorted({c.git_source_id for c in crates if c.git_pin is not None}):
        url, _, query = source_id.removeprefix("git+").partition("?")
        entry = {"git": url}
        for part in filter(None, query.split("&")):
            key, _, value = part.partition("=")
            if key in ("rev", "branch", "tag"):
                entry[key] = urllib.parse.unquote(value)
        sources[source_id] = {**entry, "replace-with": VENDOR_SOURCE}
    sources[VENDOR_SOURCE] = {"directory": str(Path(vendor_dir).absolute())}
    doc["source"] = sources
    doc["net"] = {"offline": True}
    path = Path(cargo_home) / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, tomlkit.dumps(doc))
    return path


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
