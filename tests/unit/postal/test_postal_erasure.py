"""Erasing an applicant from postal's records of an anonymised dossier (model.erasure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.contracts.events import ANONYMISED_NAME
from services.postal.model.common import ERASED_PHONE, STORED, Contact
from services.postal.model.erasure import erase_handover_items, erase_pickup
from services.postal.model.handover import HandoverItem, HandoverRecord
from services.postal.model.pickup import PickupOrder
from services.postal.repository import from_doc, to_doc
from tests.unit.postal.postal_samples import CONTACT, FAR, OFFICER, at, collected


def test_a_pickup_keeps_the_area_and_the_staff_but_nothing_that_names_the_applicant() -> None:
    order = collected()
    order.return_address, order.return_contact = FAR, CONTACT
    assert erase_pickup(order, at(200))
    stored = str(to_doc(order))
    for personal in ("Nguyễn Văn An", "089203004567", "0987654321", "12 Trần Hưng Đạo", "1 Lê Lợi", "Nguyễn Văn Bình",
                     "sáng thứ Hai"):
        assert personal not in stored, personal
    assert order.applicant.full_name == order.contact.name == ANONYMISED_NAME and order.form_data == {}
    assert order.pickup_address is not None and order.pickup_address.commune == "Phường Mỹ Bình"
    assert order.return_address is not None and order.return_address.province_code == "79"
    assert order.slip is not None and order.slip.sender_signature.name == ANONYMISED_NAME
    assert order.slip.worker_signature.name == "Trần Văn Bưu"  # staff keep their names
    assert order.tracking_number == "EP100000015VN" and order.anonymised_at == at(200)
    assert not erase_pickup(order, at(300)) and order.anonymised_at == at(200)  # once


def test_an_erased_record_reads_back_but_input_still_needs_a_phone() -> None:
    order = collected()
    erase_pickup(order, at(200))
    again = from_doc(PickupOrder, to_doc(order))
    assert again.contact.phone == ERASED_PHONE and again.anonymised_at == at(200)
    with pytest.raises(ValidationError):
        Contact(name="Nguyễn Văn An", phone="")  # a request may not leave the phone out
    assert Contact.model_validate({"name": "x", "phone": ""}, context=STORED).phone == ""


def test_a_handover_record_loses_the_dossiers_lines_only() -> None:
    mine, other = collected(pickup_id="p1"), collected(pickup_id="p2", slip="EP100000029VN")
    other.dossier_id = "e" * 32
    items = [
        HandoverItem(pickup_id=o.id, slip_number=o.tracking_number or "", dossier_id=o.dossier_id,
                     procedure_code="1.001193", applicant_name="Nguyễn Văn An", address="12 Trần Hưng Đạo", papers=3)
        for o in (mine, other)
    ]
    record = HandoverRecord.draft(id="h1", number="BBGN-1", office_id="ubnd-my-binh", office_name="",
                                  unit_path=["30280", "91"], items=items, by=OFFICER, now=at(100))
    assert mine.dossier_id is not None and erase_handover_items(record, mine.dossier_id)
    assert (record.items[0].applicant_name, record.items[0].address) == (ANONYMISED_NAME, "")
    assert (record.items[1].applicant_name, record.items[1].address) == ("Nguyễn Văn An", "12 Trần Hưng Đạo")
    assert not erase_handover_items(record, mine.dossier_id)
