"""Which body resolves a dossier: the competent body for the procedure and its level (Decree 118:
not necessarily where it was filed). The rules are in model/routing.py; this maps their errors."""

from __future__ import annotations

from services.intake.model.catalogue import Procedure
from services.intake.model.dossier import Handling
from services.intake.model.reception import ReceptionError
from services.intake.model.routing import RoutingError, route_to_competent_body
from services.intake.model.units import Office, UnitTree


def competent_body(
    tree: UnitTree, office: Office, procedure: Procedure, requested: str | None, *, strict: bool = True
) -> Handling | None:
    """The handling body; None when it cannot be decided and `strict` is off (decided later)."""
    try:
        return route_to_competent_body(procedure, office, tree, requested)
    except RoutingError as exc:
        if not strict:
            return None
        raise ReceptionError(exc.code, exc.message) from exc
