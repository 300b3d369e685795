"""Citizen lookup (tra cứu hồ sơ): dossier code + a second factor → status, timeline, due date,
where to collect. No other personal data. Public, rate-limited per client.

The second factor is the last 4 digits of the applicant's phone number or ID number (tax code
for an organisation). A wrong factor and an unknown code give the same answer, so the
endpoint does not reveal which codes exist. The QR code on every slip carries the lookup link
(`{public_base_url}/tra-cuu?code=…`); the portal's page asks for the 4 digits and calls this.

Not recorded in the read audit trail (privacy.service): the answer holds no personal data, and
recording every anonymous attempt would let anyone flood the trail; the rate limit bounds it.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from services.intake.model import lifecycle as lc
from services.intake.model.dossier import STATUS_LABELS_VI, Dossier, DossierStatus
from services.intake.repository import DossierRepository
from services.intake.service import IntakeService
from services.kit.errors import AppError, Invalid, NotFound


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Too many requests; try again in {int(retry_after) + 1} seconds")
        self.retry_after = retry_after


class TokenBucket:
    """A token bucket per key (client address), in process: `rate` tokens a minute, `burst` at most."""

    def __init__(
        self, rate_per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """None when allowed; otherwise the seconds to wait for the next token."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[key] = (tokens, now)
                allowed = False
            if len(self._buckets) > self.max_keys:
                self._prune(now)
        if allowed:
            return None
        return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait is not None:
            raise RateLimited(wait)

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate if self.rate > 0 else 3600.0
        for key in [k for k, (_, last) in self._buckets.items() if now - last > full_after]:
            del self._buckets[key]


_FACTOR_RE = re.compile(r"^\d{4}$")


def factor_matches(d: Dossier, factor: str) -> bool:
    """Last 4 digits of the phone, the ID number or the organisation's tax code."""
    candidates = [d.applicant.phone, d.applicant.id_number, (d.applicant.organisation or {}).get("tax_code")]
    ok = False
    for value in candidates:
        digits = re.sub(r"\D", "", value or "")
        if len(digits) >= 4:
            ok |= hmac.compare_digest(digits[-4:], factor)
    return ok


class LookupService:
    def __init__(
        self,
        intake: IntakeService,
        dossiers: DossierRepository,
        limiter: TokenBucket,
        trusted_proxies: Iterable[str] = ("127.0.0.1", "::1"),
    ) -> None:
        self.intake = intake
        self.dossiers = dossiers
        self.limiter = limiter
        self.trusted_proxies = frozenset(trusted_proxies)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client to rate-limit: the peer, or — behind a trusted proxy such as the portal —
        the right-most address of `X-Forwarded-For` that is not itself a trusted proxy."""
        if peer not in self.trusted_proxies or not forwarded_for:
            return peer
        for address in reversed([a.strip() for a in forwarded_for.split(",") if a.strip()]):
            if address not in self.trusted_proxies:
                return address
        return peer

    async def verified(self, code: str, factor: str, client: str) -> Dossier:
        """The dossier, when the code and the second factor match (rate-limited per client)."""
        self.limiter.check(client)
        factor = factor.strip()
        if not _FACTOR_RE.match(factor):
            raise Invalid("Give the last 4 digits of the phone or ID number", code="invalid_factor")
        doc = await self.dossiers.get_by_code(code.strip().upper())
        if doc is None:
            raise NotFound("No dossier matches this code and these digits", code="not_found")
        d = Dossier.from_document(doc)
        if not factor_matches(d, factor):
            raise NotFound("No dossier matches this code and these digits", code="not_found")
        return d

    async def lookup(self, code: str, factor: str, client: str) -> dict[str, Any]:
        d = await self.verified(code, factor, client)
        return self.public_status(d)

    def public_status(self, d: Dossier) -> dict[str, Any]:
        """Status, timeline, due date, where to collect — no personal data."""
        ref = self.intake.reference
        try:
            office = ref.office(d.office_id)
            address = office.address
        except Exception:
            address = ""
        if d.return_channel == "postal":
            collect = {"channel": "postal", "place": "Gửi qua dịch vụ bưu chính công ích đến địa chỉ đã đăng ký"}
        else:
            collect = {"channel": "counter", "place": d.office_name, "address": address}
        if d.result is not None and d.result.pickup_place and d.return_channel != "postal":
            collect["place"] = d.result.pickup_place
        timeline = [
            {"at": h.at, "status": h.to_status.value, "label": STATUS_LABELS_VI[h.to_status]}
            for h in d.history
            if h.from_status != h.to_status or h.action == "apologise"
        ]
        return {
            "code": d.code,
            "procedure_code": d.procedure_code,
            "procedure_name": d.procedure_name,
            "status": d.status.value,
            "status_label": STATUS_LABELS_VI[d.status],
            "received_at": d.received_at,
            "due_at": d.due_at,
            "new_appointment": d.apology is not None,
            "late": d.late or lc.is_late(d, self.intake.clock.now()),
            "result_ready": d.status is DossierStatus.RESULT_READY,
            "returned_at": d.returned.at if d.returned else None,
            "collect": collect,
            "timeline": timeline,
        }
