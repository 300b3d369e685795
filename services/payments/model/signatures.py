"""Shared-secret signatures for the webhooks of the POS terminal and the bank. Pure.

The sender signs `"<unix timestamp>.<raw body>"` with HMAC-SHA256 and sends the timestamp and
the hex digest in headers; the receiver recomputes it over the exact bytes it received,
compares in constant time and refuses timestamps outside a tolerance (replays).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

DEFAULT_TOLERANCE_S = 300


def sign_body(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_body(
    secret: str,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    if not secret or not timestamp or not signature or not timestamp.strip().lstrip("-").isdigit():
        return False
    ts = int(timestamp.strip())
    if abs(now.timestamp() - ts) > tolerance_s:
        return False
    expected = sign_body(secret, ts, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("ascii", "replace"))


def sign_link(secret: str, resource: str, expires: int) -> str:
    """Signature of a short-lived public link (the receipt PDF sent to the payer)."""
    return hmac.new(secret.encode("utf-8"), f"{resource}|{int(expires)}".encode(), hashlib.sha256).hexdigest()


def verify_link(secret: str, resource: str, expires: str | None, signature: str | None, *, now: datetime) -> bool:
    if not secret or not expires or not signature or not expires.isdigit():
        return False
    if int(expires) < now.timestamp():
        return False
    expected = sign_link(secret, resource, int(expires))
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("ascii", "replace"))
