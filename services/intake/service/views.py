"""How a dossier and a reception error are shown to callers (personal data masked)."""

from __future__ import annotations

from typing import Any

from services.intake.model.dossier import STATUS_LABELS_VI, Dossier
from services.intake.model.reception import ReceptionError
from services.kit.errors import Invalid


def public_view(dossier: Dossier) -> dict[str, Any]:
    """What a dossier page shows, with personal data masked."""
    data = dossier.model_dump(mode="json", exclude={"form_data"})
    data["applicant"] = {
        "kind": dossier.applicant.kind,
        "name": dossier.applicant.name,
        "id_masked": dossier.applicant.id_masked,
    }
    data["status_label"] = STATUS_LABELS_VI[dossier.status]
    return data


def reception_error_to_http(exc: ReceptionError) -> Invalid:
    status_404 = {"unknown_office", "unknown_procedure"}
    err = Invalid(exc.message, code=exc.code, details=exc.details)
    if exc.code in status_404:
        err.status_code = 422
    return err
