"""Artifact signatures: team public keys (Ed25519, ECDSA P-256) and verification over the digest.

The signed message is the digest string itself, ASCII (`sha256:<hex>`); signatures arrive
base64-encoded (ECDSA in DER, as cosign and openssl produce)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from releaseportal.errors import InvalidInput


def load_public_key(pem: str) -> tuple[str, object, str]:
    """(algorithm, key, fingerprint) for a PEM public key; other key types are refused."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise InvalidInput("The public key is not a PEM-encoded public key.", code="invalid_public_key",
                           fields={"public_key_pem": ["not a PEM public key"]}) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "ed25519"
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        algorithm = "ecdsa_p256"
    else:
        raise InvalidInput("Only Ed25519 and ECDSA P-256 public keys are accepted.", code="unsupported_key_type",
                           fields={"public_key_pem": ["unsupported key type"]})
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return algorithm, key, hashlib.sha256(der).hexdigest()


def decode_signature(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify(pem: str, digest: str, signature: str) -> bool:
    raw = decode_signature(signature)
    if not raw:
        return False
    algorithm, key, _ = load_public_key(pem)
    try:
        if algorithm == "ed25519":
            key.verify(raw, digest.encode("ascii"))
        else:
            key.verify(raw, digest.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def find_signing_key(keys: Iterable, digest: str, signature: str):
    """The first of `keys` (SigningKey rows) whose public key verifies the signature, or None."""
    for key in keys:
        if verify(key.public_key_pem, digest, signature):
            return key
    return None
