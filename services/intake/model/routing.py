"""Routing a dossier to the competent body (cơ quan có thẩm quyền). Pure.

Decree 118/2025 (DOMAIN §2): provincial and commune centres accept dossiers regardless of the
administrative boundary within the province, so the body that resolves a dossier follows from
the procedure's level and competent body — not from the office where it was filed:

- central / province-level procedures go to the province's competent body (unit = province);
- district-level procedures (three-tier deployments) go to the district named by the applicant,
  or to the receiving office's district;
- commune-level procedures go to the commune the applicant names (usually where they live or
  where the land is), or to the receiving office's commune.

A misdirected dossier is forwarded to another unit of the same level in the same province,
keeping its history (`Dossier.routing`).
"""

from __future__ import annotations

from datetime import date

from services.intake.model.catalogue import Procedure
from services.intake.model.dossier import Handling
from services.intake.model.units import AdminLevel, Office, UnitTree, UnknownUnitError


class RoutingError(ValueError):
    """A routing the rules refuse; `code` is stable for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _path(tree: UnitTree, unit_code: str, on: date | None) -> list[str]:
    return [unit_code] + [u.code for u in tree.ancestors(unit_code, on)]


def handling_for_unit(procedure: Procedure, tree: UnitTree, unit_code: str, on: date | None = None) -> Handling:
    """The competent body of `procedure` sitting in `unit_code` (checked: exists, right level)."""
    try:
        unit = tree.get(unit_code, on)
    except UnknownUnitError as exc:
        raise RoutingError("unknown_unit", str(exc)) from None
    wanted = procedure.level if procedure.level is not AdminLevel.CENTRAL else AdminLevel.PROVINCE
    if unit.level is not wanted:
        raise RoutingError(
            "wrong_level",
            f"Procedure {procedure.code} is resolved at {wanted.value} level; unit {unit.code} ({unit.name}) "
            f"is a {unit.level.value}",
        )
    return Handling(
        body_name=procedure.competent_body.name,
        body_kind=procedure.competent_body.kind.value,
        level=wanted.value,
        unit_code=unit.code,
        unit_name=unit.name,
        unit_path=_path(tree, unit.code, on),
    )


def route_to_competent_body(
    procedure: Procedure,
    office: Office,
    tree: UnitTree,
    requested_unit_code: str | None = None,
    on: date | None = None,
) -> Handling:
    """Where a dossier for `procedure` received at `office` is resolved (see the module doc)."""
    province = tree.province_of(office.unit_code, on)
    level = procedure.level
    if level in (AdminLevel.CENTRAL, AdminLevel.PROVINCE):
        if requested_unit_code and requested_unit_code != province.code:
            raise RoutingError(
                "wrong_level",
                f"Procedure {procedure.code} is a {level.value}-level procedure: it is resolved by the province",
            )
        return handling_for_unit(procedure, tree, province.code, on)
    if requested_unit_code:
        handling = handling_for_unit(procedure, tree, requested_unit_code, on)
        if province.code not in handling.unit_path:
            raise RoutingError(
                "outside_province",
                f"Unit {requested_unit_code} is not in the province of office {office.id} ({province.name})",
            )
        return handling
    if office.level is level:
        return handling_for_unit(procedure, tree, office.unit_code, on)
    raise RoutingError(
        "competent_unit_required",
        f"Procedure {procedure.code} is resolved by a {level.value}; name it (competent_unit_code) "
        f"when receiving it at office {office.id}",
    )


def check_forward(current: Handling, target: Handling) -> None:
    """A forward must change the unit and stay within the province."""
    if target.unit_code == current.unit_code:
        raise RoutingError("same_unit", f"The dossier is already with unit {current.unit_code}")
    if current.unit_path[-1] != target.unit_path[-1]:
        raise RoutingError("outside_province", "A misdirected dossier is forwarded within the same province")
