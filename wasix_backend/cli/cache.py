"""``wasix-build push`` and ``wasix-build cache keygen``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WasixError

if TYPE_CHECKING:
    from ..session import Session


def cmd_push(args: argparse.Namespace, session: Session) -> int:
    from ..substitute import load_secret_key
    from .common import err, targets_of

    key = load_secret_key(Path(args.key) if args.key else None)
    loaded = session.plugins
    targets = targets_of(args, loaded)
    store = session.store
    with store.in_use(err.print):  # `gc` removes nothing this push reads or writes
        return _push(args, session, key, targets)


def _push(args: argparse.Namespace, session: Session, key, targets: list[str]) -> int:  # type: ignore[no-untyped-def]
    from ..substitute import push_entries
    from ..substitute.backends import redact
    from .common import err

    loaded, store = session.plugins, session.store
    engine = session.engine(substitute=False)
    order, keys, problems = engine.plan(targets)
    if problems and not args.all:
        raise WasixError("; ".join(str(p) for p in problems.values()))
    entries, missing = [], []
    for name in order:
        recipe = loaded.recipes[name]
        entry = store.lookup(recipe, keys[name]) if name in keys else None
        if entry is None:
            missing.append(name)
        else:
            entries.append((recipe, keys[name], entry))
    if missing and not args.all:
        raise WasixError(f"not in the store {store.root}, so not pushed: {', '.join(missing)} "
                         f"(build them first: wasix-build build {' '.join(targets)})")
    if missing:  # --all: push what was built here, name the rest
        err.print(f"[yellow]warning:[/] not built in {store.root}, so not pushed: {', '.join(missing)}")
    (store.root / "tmp").mkdir(parents=True, exist_ok=True)
    done = push_entries(entries, args.to, key, store, err.print)
    pushed = sum(v == "pushed" for v in done.values())
    err.print(f"{pushed} pushed, {len(done) - pushed} already there ({redact(args.to)})")
    return 0


def cmd_cache(args: argparse.Namespace, session: Session) -> int:
    from ..substitute import generate_key
    from ..substitute.keys import trusted_keys_file
    from .common import err

    if not re.fullmatch(r"[A-Za-z0-9._-]+", args.name):
        raise WasixError(f"key name {args.name!r}: use letters, digits, '.', '_' and '-' only")
    out = Path(args.out)
    secret, public = out / f"{args.name}.secret", out / f"{args.name}.public"
    if secret.exists() and not args.force:
        raise WasixError(f"{secret} exists: pass --force to replace it (pulls signed with it stop verifying)")
    out.mkdir(parents=True, exist_ok=True)
    text = generate_key(args.name, secret, public)
    err.print(f"secret key: {secret} (keep it private; push with --key {secret} or WASIX_SIGNING_KEY)")
    err.print(f"public key: {public}; to trust it, add this line to {trusted_keys_file()} or $WASIX_TRUSTED_KEYS:")
    print(text)
    return 0


def register(add) -> None:  # `add` is cli.main.make_parser's sub-command helper
    p = add("push", cmd_push, "upload store entries (the named packages and their dependencies) to a binary cache")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every package")
    p.add_argument("--to", required=True, metavar="URL", help="file:///dir, http(s)://host/prefix (PUT) or s3://bucket/prefix")
    p.add_argument("--key", default=None, metavar="FILE", help="the secret signing key (default: $WASIX_SIGNING_KEY)")
    p.add_argument("--store", default=None, help="store directory (default: $WASIX_STORE or the user cache)")
    p.add_argument("--provider", default=None, help="toolchain provider the entries were built with")
    p = add("cache", cmd_cache, "binary cache keys: `cache keygen NAME` writes NAME.secret and NAME.public")
    p.add_argument("action", choices=["keygen"])
    p.add_argument("name", metavar="NAME", help="the key's name (e.g. the cache's host name)")
    p.add_argument("--out", default=".", help="directory for the key files (default: .)")
    p.add_argument("--force", action="store_true", help="replace an existing key")
