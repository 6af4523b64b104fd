"""ed25519 signing keys in Nix's text form: ``NAME:BASE64`` (secret: the 32-byte seed).

Trusted public keys come from ``$WASIX_TRUSTED_KEYS`` (separated by spaces, commas or
newlines) and the file ``$WASIX_TRUSTED_KEYS_FILE`` (default
``<user config>/wasix-backend/trusted-keys``, one key per line, ``#`` comments).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_config_path

from ..errors import WasixError
from ..fsutil import atomic_write_bytes

#: Domain separation: a signature over a manifest cannot be replayed as anything else.
_CONTEXT = b"wasix-backend binary cache manifest v1\n"


def _crypto():  # type: ignore[no-untyped-def]
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise WasixError("binary caches need the `cryptography` package: pip install cryptography") from None
    return ed25519


def _parse(text: str, what: str) -> tuple[str, bytes]:
    name, sep, data = text.strip().partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise WasixError(f"{what} {text.strip()[:40]!r} is not NAME:BASE64 (make one with `wasix-build cache keygen NAME`)")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise WasixError(f"{what} {name!r}: the part after ':' is not 32 bytes of base64")
    return name, raw


@dataclass(frozen=True)
class SecretKey:
    name: str
    seed: bytes

    def sign(self, message: bytes) -> str:
        key = _crypto().Ed25519PrivateKey.from_private_bytes(self.seed)
        return base64.b64encode(key.sign(_CONTEXT + message)).decode()

    @property
    def public(self) -> str:
        key = _crypto().Ed25519PrivateKey.from_private_bytes(self.seed)
        return f"{self.name}:{base64.b64encode(key.public_key().public_bytes_raw()).decode()}"


def verify(public: bytes, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        sig = base64.b64decode(signature, validate=True)
        _crypto().Ed25519PublicKey.from_public_bytes(public).verify(sig, _CONTEXT + message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def generate_key(name: str, secret_file: Path, public_file: Path) -> str:
    """Write a new key pair (the secret one readable by its owner only); the public key."""
    seed = os.urandom(32)
    key = SecretKey(_parse(f"{name}:{base64.b64encode(seed).decode()}", "key name")[0], seed)
    atomic_write_bytes(secret_file, f"{name}:{base64.b64encode(seed).decode()}\n".encode())
    os.chmod(secret_file, 0o600)
    atomic_write_bytes(public_file, (key.public + "\n").encode())
    return key.public


def load_secret_key(path: Path | None) -> SecretKey:
    """The signing key in ``path``, else in the file ``$WASIX_SIGNING_KEY`` names."""
    value = path or (Path(os.environ["WASIX_SIGNING_KEY"]) if os.environ.get("WASIX_SIGNING_KEY") else None)
    if value is None:
        raise WasixError("pushing needs a signing key: pass --key FILE or set WASIX_SIGNING_KEY "
                         "(make one with `wasix-build cache keygen NAME`)")
    try:
        text = Path(value).read_text()
    except OSError as exc:
        raise WasixError(f"cannot read the signing key {value}: {exc.strerror or exc}") from None
    name, seed = _parse(text, f"signing key in {value}")
    return SecretKey(name, seed)


def trusted_keys_file() -> Path:
    return Path(os.environ.get("WASIX_TRUSTED_KEYS_FILE") or user_config_path("wasix-backend") / "trusted-keys")


def trusted_keys(extra: list[str] | None = None) -> dict[str, bytes]:
    """``name -> public key`` of every key the user trusts (plus ``extra``, as given)."""
    texts = [*(extra or []), *re.split(r"[\s,]+", os.environ.get("WASIX_TRUSTED_KEYS", ""))]
    file = trusted_keys_file()
    if file.is_file():
        texts += [line.split("#", 1)[0] for line in file.read_text().splitlines()]
    keys: dict[str, bytes] = {}
    for text in (t.strip() for t in texts):
        if text:
            name, raw = _parse(text, f"trusted key (from $WASIX_TRUSTED_KEYS or {file})")
            keys[name] = raw
    return keys
