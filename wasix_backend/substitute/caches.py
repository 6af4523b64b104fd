"""Pulling entries from binary caches before building, and pushing finished ones to one.

Layout of a cache (flat): ``<key>.json`` — ``{"manifest": {...}, "signatures": {name: sig}}``
— and ``<sha256>.tar.gz``, the archive the manifest names (content-addressed, so two pushes
of one key never leave a manifest naming another push's archive). The manifest is written
last: a reader never finds one whose archive is not there yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WasixError
from ..extract import extract
from ..store import RECORD, Store, _file_hashes
from .archive import pack, relocate
from .backends import Backend, CacheUnavailable, TooLarge, redact, scrub
from .keys import SecretKey, verify

if TYPE_CHECKING:
    from ..recipe import Recipe

MANIFEST_FORMAT = 1
#: No manifest is larger (a big one is a few hundred KiB of file hashes): an endless or huge
#: ``<key>.json`` is refused after this many bytes, not read into memory.
MANIFEST_LIMIT = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
Say = Callable[[str], None]


class _Miss(Exception):
    """The cache does not have the key."""


class _Unreachable(Exception):
    """The cache did not answer (connection refused, DNS, a server error)."""


class CacheRefused(WasixError):
    """An entry the cache has but that must not be used (unsigned, tampered, truncated …)."""


def parse_manifest(data: bytes) -> tuple[Mapping[str, Any], dict[str, str]]:
    """``(manifest, signatures)`` of a manifest file, or :class:`CacheRefused` naming what
    about its outer shape is wrong (the manifest's own fields: :func:`shape_problem`)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise CacheRefused(f"its manifest is not valid JSON ({len(data)} bytes)") from None
    if not isinstance(doc, dict):
        raise CacheRefused(f"its manifest is a JSON {type(doc).__name__}, not an object")
    manifest, signatures = doc.get("manifest"), doc.get("signatures")
    if not isinstance(manifest, dict):
        raise CacheRefused("its manifest has no \"manifest\" object")
    if signatures in (None, {}, []):
        return manifest, {}
    if not isinstance(signatures, dict):
        raise CacheRefused(f"its \"signatures\" are a JSON {type(signatures).__name__}, "
                           "not an object of key name to signature")
    for name, sig in signatures.items():
        if not isinstance(sig, str):
            raise CacheRefused(f"its signature by {name!r} is {json.dumps(sig)}, not text")
    return manifest, dict(signatures)


def _safe_rel(rel: object) -> bool:
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel:
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def shape_problem(manifest: Mapping[str, Any]) -> str | None:
    """What about a manifest's fields is not as ``push`` writes them (None: nothing)."""
    archive = manifest.get("archive")
    if not isinstance(archive, dict):
        return "it names no archive"
    sha, size, file = archive.get("sha256"), archive.get("size"), archive.get("file")
    if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
        return f"its archive's sha256 {json.dumps(sha)} is not 64 hex digits"
    if type(size) is not int or size < 0:
        return f"its archive's size {json.dumps(size)} is not a number of bytes"
    if file != f"{sha}.tar.gz":
        return f"its archive is named {json.dumps(file)}, not {sha}.tar.gz"
    store = manifest.get("store")
    if not (isinstance(store, str) and store.startswith("/") and store.strip("/")):
        return f"the store it was built in, {json.dumps(store)}, is not an absolute path"
    record = manifest.get("record")
    if not isinstance(record, dict):
        return f"its record is a JSON {type(record).__name__}, not an object"
    files = record.get("files")
    if not isinstance(files, dict):
        return "its record lists no files"
    for rel, value in files.items():
        if not _safe_rel(rel):
            return f"its record lists {json.dumps(rel)}, which is not a path inside the entry"
        if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int and value[0] >= 0
                and isinstance(value[1], str) and _SHA256.fullmatch(value[1])):
            return f"its record's entry for {rel} is {json.dumps(value)[:80]}, not [size, sha256]"
    deps = record.get("deps", {})
    if not (isinstance(deps, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in deps.items())):
        return "its record's dependencies are not names and paths"
    return None


def canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


class BinaryCaches:
    """The caches of ``--substituter`` / ``$WASIX_SUBSTITUTERS``, asked in order."""

    def __init__(self, urls: list[str], trusted: Mapping[str, bytes], *, progress: bool = True) -> None:
        self.urls = urls
        self.trusted = dict(trusted)
        self.progress = progress
        self._backends: dict[str, Backend | CacheUnavailable] = {}
        self._down: dict[str, str] = {}  # url -> why: asked once, not once per package

    def backend(self, url: str) -> Backend:
        if url not in self._backends:
            try:
                self._backends[url] = Backend(url)
            except CacheUnavailable as exc:
                self._backends[url] = exc
        found = self._backends[url]
        if isinstance(found, CacheUnavailable):
            raise found
        return found

    # the engine's Substituter -------------------------------------------------------------
    def pull(self, recipe: Recipe, key: str, store: Store, say: Say) -> Path | None:
        label = f"{recipe.name} {recipe.version}"
        for url in self.urls:
            if url in self._down:
                continue
            shown = redact(url)
            try:
                backend = self.backend(url)
                path = self._pull_from(backend, recipe, key, store, say)
            except _Miss:
                continue  # not there: the next cache, else a local build
            except CacheUnavailable as exc:
                self._down[url] = str(exc)
                say(f"[yellow]warning:[/] {scrub(str(exc), url)}; not using it")
                continue
            except CacheRefused as exc:
                say(f"[yellow]warning:[/] {label}: refusing the entry from {shown}: {scrub(str(exc), url)}; "
                    "building it locally")
                continue
            except _Unreachable as exc:
                self._down[url] = str(exc)
                say(f"[yellow]warning:[/] cache {shown} cannot be reached ({scrub(str(exc), url)}); building without it")
                continue
            return path
        return None

    def _pull_from(self, backend: Backend, recipe: Recipe, key: str, store: Store, say: Say) -> Path:
        try:
            data = backend.read(f"{key}.json", MANIFEST_LIMIT)
        except FileNotFoundError:
            raise _Miss from None
        except TooLarge:
            raise CacheRefused(f"its manifest {key}.json is larger than {MANIFEST_LIMIT >> 20} MiB "
                               "(no manifest is; the cache is broken or hostile)") from None
        except Exception as exc:  # fsspec backends' network errors (aiohttp, botocore …) share no base
            raise _Unreachable(backend.describe(exc)) from None
        manifest = self.check_manifest(data, recipe, key)
        archive = manifest["archive"]
        (store.root / "tmp").mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=store.root / "tmp", prefix=f"{key[:32]}-pull-"))
        try:
            start = time.perf_counter()
            local = work / "entry.tar.gz"
            self._download(backend, archive, local, f"{recipe.name} {recipe.version}")
            staged = work / "entry"
            try:
                extract(local, staged, what=f"{recipe.name} from {backend.url}")
            except WasixError as exc:
                raise CacheRefused(str(exc)) from None
            record = manifest["record"]
            (staged / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
            problems = store.verify_entry(staged)  # the files are the ones the signed record lists
            if problems:
                raise CacheRefused(f"the archive does not match its signed record: {'; '.join(problems[:3])}")
            (staged / RECORD).unlink()  # rewritten below, and never part of its own file list
            moved = relocate(staged, manifest["store"], str(store.root))
            old_store = manifest["store"].rstrip("/") + "/"
            record = {
                **record,
                "files": _file_hashes(staged) if moved["rewritten"] else record["files"],
                "deps": {n: str(store.root / Path(p).name) if p.startswith(old_store) else p
                         for n, p in record.get("deps", {}).items()},
                "pulled": {"from": backend.url, "relocated": moved},
            }
            (staged / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
            final = store.entry(recipe, key)
            if final.exists():  # an unrecorded leftover (the engine's look-up found no entry)
                shutil.rmtree(final)
            os.rename(staged, final)
            seconds = time.perf_counter() - start
            say(f"[green]✓[/] {recipe.name} {recipe.version} pulled from {backend.url} "
                f"({archive['size'] / 1024:.0f} KiB in {seconds:.1f}s)")
            return final
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def check_manifest(self, data: bytes, recipe: Recipe, key: str) -> dict[str, Any]:
        """The verified manifest, or :class:`CacheRefused` saying what is wrong with it.

        Nothing in it is trusted before it is checked: a manifest of another shape (a
        signature that is not text, a size that is not a number, a missing archive), signed
        or not, is refused like a wrong signature."""
        manifest, signatures = parse_manifest(data)
        if not signatures:
            raise CacheRefused("the entry is unsigned")
        known = [n for n in signatures if n in self.trusted]
        if not known:
            raise CacheRefused(
                f"it is signed by {', '.join(sorted(signatures))}, which is not a trusted key "
                "(add the public key to $WASIX_TRUSTED_KEYS or the trusted-keys file)"
            )
        if not any(verify(self.trusted[n], canonical(manifest), signatures[n]) for n in known):
            raise CacheRefused(f"the signature by {', '.join(known)} does not match the manifest (tampered?)")
        expect = {"key": key, "name": recipe.name, "version": recipe.version, "format": MANIFEST_FORMAT}
        for field, value in expect.items():
            if manifest.get(field) != value:
                raise CacheRefused(f"the manifest is for {field} {manifest.get(field)!r}, not {value!r}")
        problem = shape_problem(manifest)
        if problem:
            raise CacheRefused(f"its manifest is malformed: {problem}")
        return dict(manifest)

    def _download(self, backend: Backend, archive: Mapping[str, Any], dest: Path, label: str) -> None:
        """``archive`` into ``dest``, checked against its signed size and sha256."""
        size, sha = int(archive["size"]), archive["sha256"]
        digest, got = hashlib.sha256(), 0
        progress = _progress(label, size) if self.progress and size > 256 * 1024 else None
        pace = backend.pace(archive["file"])
        try:
            with backend.open(archive["file"]) as stream, open(dest, "wb") as out:
                while got <= size:
                    chunk = stream.read(min(1 << 20, size + 1 - got))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    pace.advance(len(chunk))
                    if progress is not None:
                        progress[0].update(progress[1], completed=got)
        except FileNotFoundError:
            raise CacheRefused(f"its archive {archive['file']} is missing from the cache") from None
        except Exception as exc:
            raise CacheRefused(f"the download of {archive['file']} broke off after {got} of {size} bytes "
                               f"({backend.describe(exc)})") from None
        finally:
            if progress is not None:
                progress[0].stop()
        if got < size:
            raise CacheRefused(f"its archive is truncated: {got} of {size} bytes")
        if got > size:
            raise CacheRefused(f"its archive is larger than the {size} bytes its manifest signs")
        if digest.hexdigest() != sha:
            raise CacheRefused(f"its archive's sha256 is {digest.hexdigest()}, the signed manifest says {sha} (tampered?)")


def _progress(label: str, size: int):  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bar = Progress(TextColumn(f"  pulling {label}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("pull", total=size)
    bar.start()
    return bar, task


def push_entries(
    entries: list[tuple[Recipe, str, Path]], url: str, key: SecretKey, store: Store, say: Say
) -> dict[str, str]:
    """Upload each (recipe, key, entry path); ``name -> "pushed" | "present"``.

    An entry counts as there only when its manifest is whole (of the right shape, for this
    key, not failing a signature by ``key``) and the archive it names has its signed size: a
    damaged one (an empty manifest, a truncated archive) is pushed again, over it."""
    backend = Backend(url)
    shown = backend.url
    done: dict[str, str] = {}
    for recipe, build_key, entry in entries:
        try:
            damage = _damage(backend, build_key, key)
            if damage is None:
                done[recipe.name] = "present"
                say(f"  {recipe.name} {recipe.version}: already in {shown}")
                continue
            if damage != "absent":
                say(f"[yellow]warning:[/] {recipe.name} {recipe.version}: the entry in {shown} is damaged "
                    f"({damage}); pushing it again")
            with tempfile.TemporaryDirectory(dir=store.root / "tmp", prefix="push-") as tmp:
                archive = Path(tmp) / "entry.tar.gz"
                pack(entry, archive)
                sha = hashlib.sha256(archive.read_bytes()).hexdigest()
                size = archive.stat().st_size
                manifest: dict[str, Any] = {
                    "format": MANIFEST_FORMAT, "key": build_key, "name": recipe.name, "version": recipe.version,
                    "archive": {"file": f"{sha}.tar.gz", "sha256": sha, "size": size},
                    "record": _shareable(store.record(entry)), "store": str(store.root),
                }
                signed = Path(tmp) / "manifest.json"
                signed.write_text(json.dumps({"manifest": manifest, "signatures": {key.name: key.sign(canonical(manifest))}},
                                             indent=1, sort_keys=True))
                if _object_size(backend, f"{sha}.tar.gz") != size:  # content-addressed: whole already?
                    backend.write(f"{sha}.tar.gz", archive)
                backend.write(f"{build_key}.json", signed)  # last: the entry is complete
        except WasixError as exc:
            exc.args = (backend.scrub(str(exc)), *exc.args[1:])
            raise
        except Exception as exc:
            raise WasixError(f"{recipe.name}: cannot push to {shown}: {backend.describe(exc)} "
                             "(is the cache writable, and does the server accept PUT?)") from None
        done[recipe.name] = "pushed"
        say(f"[green]↑[/] {recipe.name} {recipe.version} pushed to {shown} ({size / 1024:.0f} KiB)")
    return done


def _object_size(backend: Backend, name: str) -> int | None:
    """The size of ``name`` in the cache; None when it is not there or its size is unknown."""
    try:
        return backend.size(name)
    except FileNotFoundError:
        return None


def _damage(backend: Backend, build_key: str, key: SecretKey) -> str | None:
    """None when the cache holds a whole entry for ``build_key``; else ``"absent"`` or what is
    wrong with the one it holds."""
    try:
        data = backend.read(f"{build_key}.json", MANIFEST_LIMIT)
    except FileNotFoundError:
        return "absent"
    except TooLarge:
        return f"its manifest is larger than {MANIFEST_LIMIT >> 20} MiB"
    try:
        manifest, signatures = parse_manifest(data)
    except CacheRefused as exc:
        return str(exc)
    if manifest.get("key") != build_key:
        return f"its manifest is for key {json.dumps(manifest.get('key'))[:80]}"
    problem = shape_problem(manifest)
    if problem:
        return f"its manifest is malformed: {problem}"
    if key.name in signatures and not verify(key.public_bytes, canonical(manifest), signatures[key.name]):
        return f"its signature by {key.name} does not match its manifest"
    archive = manifest["archive"]
    size = _object_size(backend, archive["file"])
    if size is None:
        return f"its archive {archive['file']} is missing"
    if size != archive["size"]:
        return f"its archive is {size} bytes, its manifest signs {archive['size']}"
    return None


def _shareable(record: dict[str, Any]) -> dict[str, Any]:
    """An entry's record as a manifest may carry it: where it was pulled from without the
    credentials an older version kept there."""
    pulled = record.get("pulled")
    if isinstance(pulled, dict) and isinstance(pulled.get("from"), str):
        record = {**record, "pulled": {**pulled, "from": redact(pulled["from"])}}
    return record
