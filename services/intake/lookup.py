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
from collections.abc import Iterable
from typing import Any

from services.intake.model import lifecycle as lc
from services.intake.model.dossier import STATUS_LABELS_VI, Dossier, DossierStatus
from services.intake.repository import DossierRepository
from services.intake.service import IntakeService
from services.kit.errors import Invalid, NotFound
from services.kit.ratelimit import LOOPBACK, AddressSet, TokenBucket, client_address

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
        trusted_proxies: Iterable[str] = LOOPBACK,
    ) -> None:
        self.intake = intake
        self.dossiers = dossiers
        self.limiter = limiter
        self.trusted_proxies = AddressSet(trusted_proxies)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client to rate-limit (behind the portal: the citizen, from `X-Forwarded-For`)."""
        return client_address(peer, forwarded_for, self.trusted_proxies)

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
