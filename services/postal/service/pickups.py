"""Pickup orders: request (online or by phone), operator order, paper check, dispatch slip,
cancellation; and linking intake's dossier code when `dossier.received` comes back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.contracts.events import DossierReceived
from services.contracts.postal import POSTAL_DOSSIER_RECEIVED
from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import AppError, Conflict, Invalid
from services.postal.adapters.base import OperatorRejected, OperatorUnavailable, OrderRequest, Party
from services.postal.model.common import (
    Address,
    Applicant,
    Component,
    ComponentCheck,
    Contact,
    PostalError,
    SignatureMethod,
)
from services.postal.model.counter import CounterReception
from services.postal.model.pickup import PickupOrder, PickupStatus, PostalOption, RequestChannel
from services.postal.model.tariff import Charge, ChargeKind
from services.postal.repository import COUNTER, PICKUPS, Tx
from services.postal.service import events as ev
from services.postal.service.base import VN_TZ, ServiceBase, actor_of, domain_error, log, new_id

UNIT_CODE = r"^\d{2,6}$"


class PickupRequest(BaseModel):
    """A pickup order (citizen online, or an officer taking it by phone)."""

    option: PostalOption
    office_id: str = Field(min_length=1, max_length=100, description="The receiving office (intake's id)")
    office_name: str = Field("", max_length=300)
    unit_path: list[str] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Optional: derived from the office (intake's reference data); when given it must match",
    )
    procedure_code: str = Field(min_length=1, max_length=50)
    procedure_name: str = Field("", max_length=500)
    applicant: Applicant
    contact: Contact | None = Field(None, description="Who the postal worker calls; default the applicant")
    pickup_address: Address | None = Field(None, description="Where to collect the papers (submit, both)")
    return_address: Address | None = Field(None, description="Where to deliver the result; default pickup address")
    return_contact: Contact | None = None
    components: list[Component] = Field(
        default_factory=list, max_length=100, description="The procedure's papers from the published catalogue"
    )
    form_data: dict[str, Any] = Field(default_factory=dict)
    dossier_code: str | None = Field(None, max_length=64, description="receive only: the received dossier's code")
    preferred_time: str = Field("", max_length=200)
    note: str = Field("", max_length=1000)

    def unit_codes_valid(self) -> bool:
        return all(code.isdigit() and 2 <= len(code) <= 6 for code in self.unit_path or [])


class SlipRequest(BaseModel):
    sender_name: str = Field(min_length=1, max_length=200, description="Who signs as sender (người gửi)")
    sender_method: SignatureMethod = SignatureMethod.SIGNATURE
    seal_number: str = Field(min_length=1, max_length=50)
    collected_fees: list[Charge] = Field(
        default_factory=list, max_length=20, description="Fees and duties collected on the agency's behalf"
    )
    prepay_return: bool = Field(False, description="Collect the return carriage now (else on delivery)")
    slip_number: str | None = Field(None, max_length=30, description="Paper slip number when the operator is down")


class PickupUseCases(ServiceBase):
    # ---- request -------------------------------------------------------------------------
    async def request_pickup(self, request: PickupRequest, principal: Principal | None) -> PickupOrder:
        if not request.unit_codes_valid():
            raise Invalid("unit_path holds administrative unit codes (digits)", code="invalid_unit_path")
        place = await self.place_of(request.office_id, request.unit_path)
        if principal is not None:
            ensure_unit(principal, place.unit_path)
        contact = request.contact
        if contact is None:
            if not request.applicant.phone:
                raise Invalid("A phone number for the postal worker is required", code="contact_required")
            contact = Contact(
                name=request.applicant.full_name, phone=request.applicant.phone, email=request.applicant.email
            )
        now = self.clock()
        try:
            order = PickupOrder.request(
                id=new_id(),
                ref=f"BC{now.astimezone(VN_TZ):%y%m%d}-{new_id()[:6].upper()}",
                option=request.option,
                via=RequestChannel.PHONE if principal else RequestChannel.ONLINE,
                by=actor_of(principal) if principal else None,
                office_id=place.office_id,
                office_name=request.office_name or place.office_name,
                unit_path=place.unit_path,
                procedure_code=request.procedure_code,
                procedure_name=request.procedure_name,
                applicant=request.applicant,
                contact=contact,
                pickup_address=request.pickup_address,
                return_address=request.return_address,
                return_contact=request.return_contact,
                components=request.components,
                form_data=request.form_data,
                dossier_id=new_id() if request.option.submits else None,
                dossier_code=request.dossier_code.strip().upper() if request.dossier_code else None,
                preferred_time=request.preferred_time,
                note=request.note,
                now=now,
            )
        except PostalError as exc:
            raise domain_error(exc) from exc

        async def work(tx: Tx) -> None:
            await tx.insert(PICKUPS, order)

        await self.repo.run(work)
        log.info("pickup %s requested (%s, %s)", order.ref, order.option.value, order.requested_via.value)
        if order.needs_order:
            await self.place_pickup_order(order.id)
            return await self._pickup(order.id)
        return order

    async def _pickup(self, pickup_id: str) -> PickupOrder:
        found = await self.repo.get(PickupOrder, PICKUPS, {"_id": pickup_id})
        if found is None:
            raise self.not_found("pickup", pickup_id)
        return found

    async def place_pickup_order(self, pickup_id: str) -> bool:
        """Place the operator's pickup order (retried by the sweeper while the operator is down)."""
        pickup = await self._pickup(pickup_id)
        if not pickup.needs_order or pickup.pickup_address is None:
            return False
        adapter = self.adapter()
        office = Address(
            province_code=pickup.province_code if pickup.province_code and len(pickup.province_code) == 2 else None,
            province=pickup.pickup_address.province,
            commune=pickup.office_name or pickup.office_id,
            street=pickup.office_name or pickup.office_id,
        )
        request = OrderRequest(
            client_ref=pickup.id,
            kind="pickup",
            sender=Party(pickup.contact.name, pickup.contact.phone, pickup.pickup_address),
            receiver=Party(pickup.office_name or self.config.sender_name, self.config.sender_phone, office),
            content=f"Hồ sơ TTHC {pickup.procedure_code} — {pickup.ref}",
            note=pickup.preferred_time,
        )
        try:
            placed = await adapter.create_order(request)
        except (OperatorUnavailable, OperatorRejected) as exc:
            message = exc.message

            async def failed(tx: Tx) -> None:
                current = await tx.get(PickupOrder, PICKUPS, {"_id": pickup_id})
                if current is not None and current.needs_order:
                    current.order_failed(message, self.clock())
                    await tx.save(PICKUPS, current)

            await self.repo.run(failed)
            log.warning("pickup %s: operator order not placed yet: %s", pickup.ref, message)
            return False

        async def work(tx: Tx) -> bool:
            current = await tx.get(PickupOrder, PICKUPS, {"_id": pickup_id})
            if current is None:
                return False
            previous = current.shipment_status
            if not current.scheduled(
                operator=adapter.name,
                order_code=placed.order_code,
                tracking_number=placed.tracking_number,
                now=self.clock(),
            ):
                return False
            await tx.save(PICKUPS, current)
            tx.emit(ev.pickup_shipment(current, current.shipment_status, previous))
            return True

        done = await self.repo.run(work)
        self.wake()
        return done

    # ---- reads ---------------------------------------------------------------------------
    async def get_pickup(self, principal: Principal, pickup_id: str) -> PickupOrder:
        pickup = await self._pickup(pickup_id)
        ensure_unit(principal, pickup.unit_path)
        return pickup

    async def list_pickups(
        self, principal: Principal, *, status: str | None, office_id: str | None, limit: int, skip: int
    ) -> list[PickupOrder]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["status"] = status
        if office_id:
            query["office_id"] = office_id
        return await self.repo.find(PickupOrder, PICKUPS, query, limit=limit, skip=skip)

    async def public_pickup(self, ref: str, phone: str) -> PickupOrder:
        """The citizen's own order, by reference and the phone number given with it."""
        pickup = await self.repo.get(PickupOrder, PICKUPS, {"ref": ref.strip().upper()})
        digits = "".join(ch for ch in phone if ch.isdigit())
        if pickup is None or not digits or pickup.contact.phone[-9:] != digits[-9:]:
            raise self.not_found("pickup", ref)
        return pickup

    # ---- the postal worker's steps -------------------------------------------------------
    async def _change_pickup(self, principal: Principal | None, pickup_id: str, mutate: Any) -> PickupOrder:
        async def work(tx: Tx) -> PickupOrder:
            pickup = await tx.get(PickupOrder, PICKUPS, {"_id": pickup_id})
            if pickup is None:
                raise self.not_found("pickup", pickup_id)
            if principal is not None:
                ensure_unit(principal, pickup.unit_path)
            previous = pickup.shipment_status
            try:
                await mutate(tx, pickup)
            except PostalError as exc:
                raise domain_error(exc) from exc
            await tx.save(PICKUPS, pickup)
            if pickup.shipment_status is not previous and pickup.shipment_status not in ev.UNANNOUNCED:
                tx.emit(ev.pickup_shipment(pickup, pickup.shipment_status, previous, reason=pickup.cancel_reason))
            return pickup

        result = await self.repo.run(work)
        self.wake()
        return result

    async def check_papers(self, principal: Principal, pickup_id: str, items: list[ComponentCheck]) -> PickupOrder:
        worker = actor_of(principal, Role.POSTAL_AGENT)

        async def mutate(_: Tx, pickup: PickupOrder) -> None:
            pickup.check_papers(items, by=worker, now=self.clock())

        return await self._change_pickup(principal, pickup_id, mutate)

    async def sign_slip(self, principal: Principal, pickup_id: str, request: SlipRequest) -> PickupOrder:
        worker = actor_of(principal, Role.POSTAL_AGENT)
        for fee in request.collected_fees:
            if fee.kind not in (ChargeKind.FEE, ChargeKind.DUTY):
                raise Invalid(
                    "Only fees and duties (phí, lệ phí) are collected on the agency's behalf", code="invalid_fee"
                )

        async def mutate(tx: Tx, pickup: PickupOrder) -> None:
            now = self.clock()
            paper = None if pickup.tracking_number else (request.slip_number or "").strip() or None
            if paper and await tx.find_one(PICKUPS, {"tracking_number": paper, "_id": {"$ne": pickup.id}}):
                raise Conflict(
                    f"Dispatch slip number {paper} is already used by another pickup", code="duplicate_slip_number"
                )
            year = now.astimezone(VN_TZ).year
            number = await tx.next_number(f"receipt:{pickup.unit_code}:{year}")
            pickup.sign_slip(
                worker=worker,
                sender_name=request.sender_name,
                sender_method=request.sender_method.value,
                seal_number=request.seal_number,
                collected_fees=request.collected_fees,
                prepay_return=request.prepay_return,
                tariff=self.tariff,
                receipt_number=f"BC/{year % 100:02d}-{pickup.unit_code}-{number:06d}",
                slip_number=paper,
                now=now,
            )

        return await self._change_pickup(principal, pickup_id, mutate)

    async def cancel_pickup(self, principal: Principal | None, pickup_id: str, reason: str) -> PickupOrder:
        pickup = await self._pickup(pickup_id)
        if principal is not None:
            ensure_unit(principal, pickup.unit_path)
        if pickup.status is PickupStatus.SCHEDULED and pickup.tracking_number:
            try:
                await self.adapter(pickup.operator).cancel(pickup.tracking_number, reason)
            except OperatorRejected as exc:
                raise AppError(exc.message, code="operator_refused_cancel") from exc
        by = principal.subject if principal else "citizen"

        async def mutate(_: Tx, current: PickupOrder) -> None:
            current.cancel(reason, by=by, now=self.clock())

        return await self._change_pickup(principal, pickup_id, mutate)

    # ---- intake's dossier.received ---------------------------------------------------------
    async def on_dossier_received(self, event: DossierReceived) -> str:
        """Record the dossier code intake gave to a dossier collected or received by postal staff."""
        p = event.payload
        if p.channel not in ("postal", "counter"):
            return "ignored"
        if p.channel == "counter" and p.postal_reception_id is None:
            return "unknown"  # most counter dossiers: intake says no postal staff received them
        # A pickup is handed over as a "postal" dossier, a postal agent's counter reception as a
        # "counter" one (events.py): only that collection can know it. Tell that from one plain
        # read, without opening a transaction (the embedded server serialises transactions).
        by_pickup = p.channel == "postal"
        query = {"dossier_id": p.dossier_id}
        seen = await (
            self.repo.get(PickupOrder, PICKUPS, query) if by_pickup else self.repo.get(CounterReception, COUNTER, query)
        )
        if seen is None:
            log.info("dossier.received %s: unknown", p.dossier_code)
            return "unknown"

        async def work(tx: Tx) -> str:
            pickup = await tx.get(PickupOrder, PICKUPS, query) if by_pickup else None
            reception = None if by_pickup else await tx.get(CounterReception, COUNTER, query)
            if pickup is None and reception is None:
                return "unknown"
            if not await tx.mark(POSTAL_DOSSIER_RECEIVED.durable, event.event_id):
                return "duplicate"
            if pickup is not None:
                pickup.dossier_code = p.dossier_code
                pickup.updated_at = self.clock()
                await tx.save(PICKUPS, pickup)
            elif reception is not None:
                reception.dossier_code = p.dossier_code
                await tx.save(COUNTER, reception)
            return "linked"

        result = await self.repo.run(work)
        log.info("dossier.received %s: %s", p.dossier_code, result)
        return result
