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
from .backends import Backend, CacheUnavailable
from .keys import SecretKey, verify

if TYPE_CHECKING:
    from ..recipe import Recipe

MANIFEST_FORMAT = 1
Say = Callable[[str], None]


class _Miss(Exception):
    """The cache does not have the key."""


class _Unreachable(Exception):
    """The cache did not answer (connection refused, DNS, a server error)."""


class CacheRefused(WasixError):
    """An entry the cache has but that must not be used (unsigned, tampered, truncated …)."""


def canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


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
            try:
                backend = self.backend(url)
                path = self._pull_from(backend, recipe, key, store, say)
            except _Miss:
                continue  # not there: the next cache, else a local build
            except CacheUnavailable as exc:
                self._down[url] = str(exc)
                say(f"[yellow]warning:[/] {exc}; not using it")
                continue
            except CacheRefused as exc:
                say(f"[yellow]warning:[/] {label}: refusing the entry from {url}: {exc}; building it locally")
                continue
            except _Unreachable as exc:
                self._down[url] = str(exc)
                say(f"[yellow]warning:[/] cache {url} cannot be reached ({exc}); building without it")
                continue
            return path
        return None

    def _pull_from(self, backend: Backend, recipe: Recipe, key: str, store: Store, say: Say) -> Path:
        try:
            data = backend.read(f"{key}.json")
        except FileNotFoundError:
            raise _Miss from None
        except Exception as exc:  # fsspec backends' network errors (aiohttp, botocore …) share no base
            raise _Unreachable(_short(exc)) from None
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
        """The verified manifest, or :class:`CacheRefused` saying what is wrong with it."""
        try:
            doc = json.loads(data)
            manifest, signatures = doc["manifest"], doc.get("signatures") or {}
        except (ValueError, KeyError, TypeError):
            raise CacheRefused("its manifest is not valid JSON of the expected shape") from None
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
        return dict(manifest)

    def _download(self, backend: Backend, archive: Mapping[str, Any], dest: Path, label: str) -> None:
        """``archive`` into ``dest``, checked against its signed size and sha256."""
        size, sha = int(archive["size"]), archive["sha256"]
        digest, got = hashlib.sha256(), 0
        progress = _progress(label, size) if self.progress and size > 256 * 1024 else None
        try:
            with backend.open(archive["file"]) as stream, open(dest, "wb") as out:
                while got <= size:
                    chunk = stream.read(min(1 << 20, size + 1 - got))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    if progress is not None:
                        progress[0].update(progress[1], completed=got)
        except FileNotFoundError:
            raise CacheRefused(f"its archive {archive['file']} is missing from the cache") from None
        except Exception as exc:
            raise CacheRefused(f"the download of {archive['file']} broke off after {got} of {size} bytes "
                               f"({_short(exc)})") from None
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
    """Upload each (recipe, key, entry path); ``name -> "pushed" | "present"``."""
    backend = Backend(url)
    done: dict[str, str] = {}
    for recipe, build_key, entry in entries:
        try:
            if backend.has(f"{build_key}.json"):
                done[recipe.name] = "present"
                say(f"  {recipe.name} {recipe.version}: already in {url}")
                continue
            with tempfile.TemporaryDirectory(dir=store.root / "tmp", prefix="push-") as tmp:
                archive = Path(tmp) / "entry.tar.gz"
                pack(entry, archive)
                sha = hashlib.sha256(archive.read_bytes()).hexdigest()
                size = archive.stat().st_size
                manifest: dict[str, Any] = {
                    "format": MANIFEST_FORMAT, "key": build_key, "name": recipe.name, "version": recipe.version,
                    "archive": {"file": f"{sha}.tar.gz", "sha256": sha, "size": size},
                    "record": store.record(entry), "store": str(store.root),
                }
                signed = Path(tmp) / "manifest.json"
                signed.write_text(json.dumps({"manifest": manifest, "signatures": {key.name: key.sign(canonical(manifest))}},
                                             indent=1, sort_keys=True))
                if not backend.has(f"{sha}.tar.gz"):  # content-addressed: the same bytes already
                    backend.write(f"{sha}.tar.gz", archive)
                backend.write(f"{build_key}.json", signed)  # last: the entry is complete
        except WasixError:
            raise
        except Exception as exc:
            raise WasixError(f"{recipe.name}: cannot push to {url}: {_short(exc)} "
                             "(is the cache writable, and does the server accept PUT?)") from None
        done[recipe.name] = "pushed"
        say(f"[green]↑[/] {recipe.name} {recipe.version} pushed to {url} ({size / 1024:.0f} KiB)")
    return done
