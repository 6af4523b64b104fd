"""``wasix-build verify | gc``: checking and tidying the store and the source cache."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

from ..errors import WasixError
from .common import store_options

if TYPE_CHECKING:
    from ..session import Session


def _say(text: str) -> None:
    print(text, file=sys.stderr)  # plain: paths must not be wrapped or marked up


def cmd_verify(args: argparse.Namespace, session: Session) -> int:
    """Re-check every store entry against its record and every cached source against its
    pin (the name starts with its sha256), as ``nix store verify`` does."""
    from .. import paths
    from ..fsutil import file_sha256

    store = session.store
    damaged = unverifiable = 0
    for entry in store.entries():
        problems = store.verify_entry(entry)
        if not problems and "files" not in store.record(entry):
            unverifiable += 1
        if problems:
            damaged += 1
            _say(f"damaged: {entry}: {'; '.join(problems)}")
            if args.repair:
                moved = store.quarantine(entry)
                _say(f"  quarantined to {moved}; the next build rebuilds it" if moved else "  already moved aside by another process")
    sources = paths.sources_dir()
    for file in sorted(sources.glob("*")) if sources.is_dir() else []:
        match = re.match(r"([0-9a-f]{64})-", file.name)
        if not match or file.suffix == ".lock" or not file.is_file():
            continue
        if file_sha256(file) != match.group(1):
            damaged += 1
            _say(f"damaged: {file}: does not match the sha256 in its name")
            if args.repair:
                file.unlink()
                _say("  removed; the next build fetches it again")
    note = f" ({unverifiable} entries from an older version have no recorded hashes)" if unverifiable else ""
    if damaged and not args.repair:
        raise WasixError(f"verify: {damaged} damaged item(s) in {store.root} and {sources}{note}; "
                         "run `wasix-build verify --repair` to set them aside for rebuilding")
    _say(f"verify: {len(store.entries())} store entries and the source cache checked, "
              f"{damaged} damaged{' (repaired)' if damaged else ''}{note}")
    return 0


def cmd_gc(args: argparse.Namespace, session: Session) -> int:
    from .. import paths
    from ..gc import find_garbage, remove

    if args.keep < 0:
        raise WasixError(f"gc: --keep must be 0 or more, got {args.keep}")
    store = session.store
    store.check()  # `gc --store /` removes nothing
    sources = paths.sources_dir()
    removed = 0
    with store.exclusive() as free:  # no build starts while this runs
        if not free:
            _say(f"gc: a build is running in {store.root}: store entries, logs and temporary files are kept "
                 "this time; only what no running process can use goes")
        garbage = find_garbage(store, sources if sources.is_dir() else None, keep=args.keep, busy=not free)
        for item in garbage:
            if args.dry_run:
                print(f"would remove {item.path}  ({item.reason})")
            elif remove(item):
                removed += 1
                print(f"removed {item.path}  ({item.reason})")
    if args.dry_run:
        _say(f"gc: {len(garbage)} item(s) would go (dry run: nothing removed)")
    else:
        _say(f"gc: removed {removed} item(s)")
    return 0


def register(add) -> None:  # `add`: main.make_parser's sub-command helper
    p = add("verify", cmd_verify, "re-check store entries and cached sources against their recorded hashes",
            parents=[store_options()])
    p.add_argument("--repair", action="store_true", help="quarantine damaged entries, delete damaged sources")
    p = add("gc", cmd_gc, "remove dead staging trees, stale locks, partial downloads and unreferenced store entries",
            parents=[store_options()])
    p.add_argument("--keep", type=int, default=3, help="builds of each package kept besides those dist/ outputs came from (default: 3)")
    p.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
