"""Postal staff at a commune counter: the province's approved list and the officer's supervision."""

from __future__ import annotations

import pytest

from services.postal.model.common import Actor, PostalError
from services.postal.model.counter import ApprovedList, ApprovedProcedure, CounterReception, CounterStatus
from tests.unit.postal.postal_samples import APPLICANT, COMPONENTS, CONTACT, HOME, OFFICER, UNIT_PATH, WORKER, at

ADMIN = Actor(subject="tinh-01", name="Quản trị tỉnh", role="province_admin", unit_code="91")


def approved(*codes: str) -> ApprovedList:
    lst = ApprovedList(province_code="91")
    lst.replace([ApprovedProcedure(code=c) for c in codes], decision_ref="123/QĐ-UBND", by=ADMIN, now=at(0))
    return lst


def receive(lst: ApprovedList | None, code: str = "1.001193", **kw: object) -> CounterReception:
    values: dict[str, object] = dict(
        approved=lst,
        id="c1",
        dossier_id="d1",
        office_id="ubnd-my-binh",
        office_name="UBND",
        counter="Quầy 3",
        unit_path=UNIT_PATH,
        procedure_code=code,
        procedure_name="",
        applicant=APPLICANT,
        components=COMPONENTS,
        form_data={},
        return_channel="counter",
        return_address=None,
        return_contact=None,
        agent=WORKER,
        now=at(5),
    )
    values.update(kw)
    return CounterReception.receive(**values)  # type: ignore[arg-type]


def test_the_province_list_is_replaced_whole_without_duplicates() -> None:
    lst = approved("1.001193", "2.000815")
    assert lst.allows("2.000815") and not lst.allows("9.999") and lst.updated_by == ADMIN
    with pytest.raises(PostalError):
        lst.replace([ApprovedProcedure(code="a"), ApprovedProcedure(code="a")], decision_ref="", by=ADMIN, now=at(1))


def test_an_agent_receives_only_approved_procedures() -> None:
    with pytest.raises(PostalError) as exc:
        receive(approved("2.000815"))
    assert exc.value.code == "procedure_not_approved"
    with pytest.raises(PostalError):
        receive(None)
    reception = receive(approved("1.001193"))
    assert reception.status is CounterStatus.AWAITING_CONFIRMATION and reception.received_at == at(5)


def test_postal_return_needs_an_address() -> None:
    with pytest.raises(PostalError):
        receive(approved("1.001193"), return_channel="postal")
    r = receive(approved("1.001193"), return_channel="postal", return_address=HOME, return_contact=CONTACT)
    assert r.return_address == HOME


def test_the_officer_supervises_once_and_not_their_own_reception() -> None:
    reception = receive(approved("1.001193"))
    with pytest.raises(PostalError) as exc:
        reception.supervise(officer=WORKER, confirm=True, note="", now=at(6))
    assert exc.value.code == "same_person"
    with pytest.raises(PostalError):
        reception.supervise(officer=OFFICER, confirm=False, note=" ", now=at(6))
    reception.supervise(officer=OFFICER, confirm=True, note="đúng quy trình", now=at(7))
    assert reception.status is CounterStatus.CONFIRMED
    assert reception.supervision is not None and reception.supervision.officer == OFFICER
    assert reception.supervision.at == at(7)
    with pytest.raises(PostalError):
        reception.supervise(officer=OFFICER, confirm=False, note="x", now=at(8))
