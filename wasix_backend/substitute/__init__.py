"""Binary caches ("substituters"): store entries pushed to and pulled from shared storage.

An entry travels as two objects: ``<key>.json``, a manifest (key, name, version, the archive's
sha256 and size, the entry's record) signed with ed25519 keys, and ``<sha256>.tar.gz``, the
install tree. A pull checks the signature against the keys the user trusts and the archive
against the manifest before anything is unpacked (the model is Nix's signed narinfo files).
"""

from .caches import BinaryCaches, CacheRefused, push_entries
from .keys import generate_key, load_secret_key, trusted_keys

__all__ = ["BinaryCaches", "CacheRefused", "generate_key", "load_secret_key", "push_entries", "trusted_keys"]
