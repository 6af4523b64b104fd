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
import stat
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
    def public_bytes(self) -> bytes:
        return bytes(_crypto().Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw())

    @property
    def public(self) -> str:
        return f"{self.name}:{base64.b64encode(self.public_bytes).decode()}"


def verify(public: bytes, message: bytes, signature: object) -> bool:
    """Whether ``signature`` (base64 text) signs ``message``; False for anything else, whatever
    its type (a manifest's signatures come from the network)."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(signature, str):
        return False
    try:
        sig = base64.b64decode(signature, validate=True)
        _crypto().Ed25519PublicKey.from_public_bytes(public).verify(sig, _CONTEXT + message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def generate_key(name: str, secret_file: Path, public_file: Path) -> str:
    """Write a new key pair (the secret one readable by its owner only); the public key."""
    seed = os.urandom(32)
    key = SecretKey(_parse(f"{name}:{base64.b64encode(seed).decode()}", "key name")[0], seed)
    _write_private(secret_file, f"{name}:{base64.b64encode(seed).decode()}\n".encode())
    atomic_write_bytes(public_file, (key.public + "\n").encode())
    return key.public


def _write_private(dest: Path, data: bytes) -> None:
    """``dest`` readable by its owner only from its first byte on, replaced by one rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_secret_key(path: Path | None) -> SecretKey:
    """The signing key in ``path``, else in the file ``$WASIX_SIGNING_KEY`` names."""
    value = path or (Path(os.environ["WASIX_SIGNING_KEY"]) if os.environ.get("WASIX_SIGNING_KEY") else None)
    if value is None:
        raise WasixError("pushing needs a signing key: pass --key FILE or set WASIX_SIGNING_KEY "
                         "(make one with `wasix-build cache keygen NAME`)")
    try:
        with open(value, "rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            raw = fh.read(4096)
    except OSError as exc:
        raise WasixError(f"cannot read the signing key {value}: {exc.strerror or exc}") from None
    if mode & 0o077:
        # As ssh does with private keys: whoever else can read it can sign entries that every
        # user of the cache trusts, and whoever can write it can swap it.
        raise WasixError(
            f"the signing key {value} is accessible by others (mode {stat.S_IMODE(mode):04o}); "
            f"refusing to use it: make it private with `chmod 600 {value}`, and make a new key "
            "(`wasix-build cache keygen NAME`) if others may have read it"
        )
    name, seed = _parse(_decode(raw, f"the signing key {value}"), f"signing key in {value}")
    return SecretKey(name, seed)


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WasixError(f"{what} is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); "
                         "it should hold lines of NAME:BASE64") from None


def trusted_keys_file() -> Path:
    return Path(os.environ.get("WASIX_TRUSTED_KEYS_FILE") or user_config_path("wasix-backend") / "trusted-keys")


def trusted_keys(extra: list[str] | None = None) -> dict[str, bytes]:
    """``name -> public key`` of every key the user trusts (plus ``extra``, as given)."""
    texts = [*(extra or []), *re.split(r"[\s,]+", os.environ.get("WASIX_TRUSTED_KEYS", ""))]
    file = trusted_keys_file()
    if file.is_file():
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise WasixError(f"cannot read the trusted keys file {file}: {exc.strerror or exc}") from None
        text = _decode(raw, f"the trusted keys file {file}")
        texts += [line.split("#", 1)[0] for line in text.splitlines()]
    keys: dict[str, bytes] = {}
    for text in (t.strip() for t in texts):
        if text:
            name, raw = _parse(text, f"trusted key (from $WASIX_TRUSTED_KEYS or {file})")
            keys[name] = raw
    return keys
