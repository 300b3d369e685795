"""Erasing an applicant's personal data from postal's records of one dossier, after intake
anonymised it on a deletion request (`dossier.anonymised`, Decree 13/2023 art. 16). Pure.

What goes: names, ID numbers, birth dates, phones, e-mails, street addresses, the sender's
signature name and the form data. What stays, because it is not personal and the statistics,
charges and liability need it: the province and commune, statuses, tracking, charges, times
and the staff who acted.
"""

from __future__ import annotations

from datetime import datetime

from services.contracts.events import ANONYMISED_NAME
from services.postal.model.common import ERASED_PHONE, Address, Applicant, Contact, Signature
from services.postal.model.counter import CounterReception
from services.postal.model.delivery import Delivery, Recipient
from services.postal.model.handover import HandoverRecord
from services.postal.model.pickup import PickupOrder


def erased_address(address: Address | None) -> Address | None:
    """The area (province, commune) without the street and house number."""
    if address is None:
        return None
    return address.model_copy(update={"street": ANONYMISED_NAME})


def erased_contact(contact: Contact | None) -> Contact | None:
    if contact is None:
        return None
    return Contact.model_construct(name=ANONYMISED_NAME, phone=ERASED_PHONE, email=None)


def erased_applicant(applicant: Applicant) -> Applicant:
    return Applicant(kind=applicant.kind, full_name=ANONYMISED_NAME)


def _erased_sender(signature: Signature) -> Signature:
    """Staff signatures keep their names; the citizen's (the sender) does not."""
    return signature.model_copy(update={"name": ANONYMISED_NAME}) if signature.subject is None else signature


def erase_pickup(pickup: PickupOrder, now: datetime) -> bool:
    """False when it was erased already."""
    if pickup.anonymised_at is not None:
        return False
    pickup.applicant = erased_applicant(pickup.applicant)
    contact = erased_contact(pickup.contact)
    assert contact is not None
    pickup.contact = contact
    pickup.pickup_address = erased_address(pickup.pickup_address)
    pickup.return_address = erased_address(pickup.return_address)
    pickup.return_contact = erased_contact(pickup.return_contact)
    pickup.form_data = {}
    pickup.note = ""
    pickup.preferred_time = ""
    if pickup.slip is not None:
        pickup.slip = pickup.slip.model_copy(update={"sender_signature": _erased_sender(pickup.slip.sender_signature)})
    pickup.anonymised_at = now
    pickup.updated_at = now
    return True


def erase_counter_reception(reception: CounterReception, now: datetime) -> bool:
    if reception.anonymised_at is not None:
        return False
    reception.applicant = erased_applicant(reception.applicant)
    reception.return_address = erased_address(reception.return_address)
    reception.return_contact = erased_contact(reception.return_contact)
    reception.form_data = {}
    reception.anonymised_at = now
    return True


def erase_delivery(delivery: Delivery, now: datetime) -> bool:
    if delivery.anonymised_at is not None:
        return False
    delivery.recipient = Recipient(name=ANONYMISED_NAME)
    delivery.address = erased_address(delivery.address)
    delivery.contact = erased_contact(delivery.contact)
    delivery.anonymised_at = now
    delivery.updated_at = now
    return True


def erase_handover_items(handover: HandoverRecord, dossier_id: str) -> bool:
    """The dossier's lines of a signed hand-over record lose the name and address; the record,
    its counts and the staff signatures stay. False when there was nothing left to erase."""
    changed = False
    for item in handover.items:
        if item.dossier_id == dossier_id and (item.applicant_name != ANONYMISED_NAME or item.address):
            item.applicant_name, item.address = ANONYMISED_NAME, ""
            changed = True
    return changed
