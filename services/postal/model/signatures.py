"""HMAC signatures of the operator's webhooks. Pure.

The operator signs `"<unix timestamp>.<raw body>"` with HMAC-SHA256 under the shared secret
and sends the timestamp and the hex digest in headers. The receiver recomputes it over the
exact bytes received, compares in constant time (`hmac.compare_digest`) and refuses
timestamps outside a tolerance, so a captured webhook cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum

DEFAULT_TOLERANCE_S = 300


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing_signature"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale_timestamp"


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
) -> Verdict:
    if not secret or not timestamp or not signature:
        return Verdict.MISSING
    ts_text = timestamp.strip()
    if not ts_text.lstrip("-").isdigit():
        return Verdict.BAD_SIGNATURE
    ts = int(ts_text)
    expected = sign_body(secret, ts, body).encode("ascii")
    given = signature.strip().lower().encode("ascii", "replace")
    if not hmac.compare_digest(expected, given):
        return Verdict.BAD_SIGNATURE
    if abs(now.timestamp() - ts) > tolerance_s:
        return Verdict.STALE
    return Verdict.OK
