"""Ed25519 signatures (the ``cryptography`` library) over short messages: shared-state objects on a
mirror are signed by the runner that built them and checked by the one that restores them.

Keys are PEM files: a private key in PKCS#8 (``openssl genpkey -algorithm ed25519 -out key.pem``), a
public key in SubjectPublicKeyInfo (``openssl pkey -in key.pem -pubout -out key.pub``). A signature is
stored as one line of base64.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from layerbuild.util.errors import LayerbuildError


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise LayerbuildError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def sign(private_key: str, message: bytes) -> bytes:
    """The signature line (base64, newline-terminated) of ``message`` with the key file ``private_key``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    try:
        key = load_pem_private_key(_read(private_key, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise LayerbuildError(f"{private_key} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LayerbuildError(f"{private_key} is not an Ed25519 private key")
    return base64.b64encode(key.sign(message)) + b"\n"


def verify(public_keys: Iterable[str], message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (a line :func:`sign` wrote) signs ``message`` under one of ``public_keys``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    for path in public_keys:
        try:
            key = load_pem_public_key(_read(path, "public key"))
        except (ValueError, TypeError) as exc:
            raise LayerbuildError(f"{path} is not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise LayerbuildError(f"{path} is not an Ed25519 public key")
        try:
            key.verify(raw, message)
            return True
        except InvalidSignature:
            continue
    return False
