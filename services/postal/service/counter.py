"""Postal staff at a commune counter: the province's approved list, the agent's reception and
the one-stop officer's supervision (confirm → `postal.counter_reception_confirmed`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.kit.auth import Principal, Role, ensure_unit
from services.kit.errors import Invalid
from services.postal.model.common import Address, Applicant, Component, Contact, PostalError
from services.postal.model.counter import ApprovedList, ApprovedProcedure, CounterReception, CounterStatus
from services.postal.repository import APPROVED, COUNTER, Tx
from services.postal.service import events as ev
from services.postal.service.base import ServiceBase, actor_of, domain_error, log, new_id


class CounterReceptionRequest(BaseModel):
    office_id: str = Field(min_length=1, max_length=100)
    office_name: str = Field("", max_length=300)
    counter: str = Field("", max_length=50, description="Counter (quầy) where the agent sits")
    unit_path: list[str] = Field(min_length=1, max_length=4)
    procedure_code: str = Field(min_length=1, max_length=50)
    procedure_name: str = Field("", max_length=500)
    applicant: Applicant
    components: list[Component] = Field(min_length=1, max_length=100)
    form_data: dict[str, Any] = Field(default_factory=dict)
    return_channel: str = Field("counter", pattern="^(counter|postal)$")
    return_address: Address | None = None
    return_contact: Contact | None = None


class CounterUseCases(ServiceBase):
    async def approved_list(self, province_code: str) -> ApprovedList:
        found = await self.repo.get(ApprovedList, APPROVED, {"_id": province_code}, id_field="province_code")
        return found or ApprovedList(province_code=province_code)

    async def replace_approved_list(
        self, principal: Principal, province_code: str, procedures: list[ApprovedProcedure], decision_ref: str
    ) -> ApprovedList:
        ensure_unit(principal, [province_code])
        by = actor_of(principal, Role.PROVINCE_ADMIN)

        async def work(tx: Tx) -> ApprovedList:
            current = await tx.get(ApprovedList, APPROVED, {"_id": province_code}, id_field="province_code")
            approved = current or ApprovedList(province_code=province_code)
            try:
                approved.replace(procedures, decision_ref=decision_ref, by=by, now=self.clock())
            except PostalError as exc:
                raise domain_error(exc) from exc
            await tx.upsert(APPROVED, approved, id_field="province_code")
            return approved

        approved = await self.repo.run(work)
        log.info("province %s approved %d procedures for postal staff", province_code, len(procedures))
        return approved

    async def counter_receive(self, principal: Principal, request: CounterReceptionRequest) -> CounterReception:
        if not all(code.isdigit() for code in request.unit_path):
            raise Invalid("unit_path holds administrative unit codes (digits)", code="invalid_unit_path")
        ensure_unit(principal, request.unit_path)
        agent = actor_of(principal, Role.POSTAL_AGENT)
        approved = await self.approved_list(request.unit_path[-1])
        try:
            reception = CounterReception.receive(
                approved=approved,
                id=new_id(),
                dossier_id=new_id(),
                office_id=request.office_id,
                office_name=request.office_name,
                counter=request.counter,
                unit_path=request.unit_path,
                procedure_code=request.procedure_code,
                procedure_name=request.procedure_name,
                applicant=request.applicant,
                components=request.components,
                form_data=request.form_data,
                return_channel=request.return_channel,
                return_address=request.return_address,
                return_contact=request.return_contact,
                agent=agent,
                now=self.clock(),
            )
        except PostalError as exc:
            raise domain_error(exc) from exc

        async def work(tx: Tx) -> None:
            await tx.insert(COUNTER, reception)

        await self.repo.run(work)
        return reception

    async def get_reception(self, principal: Principal, reception_id: str) -> CounterReception:
        found = await self.repo.get(CounterReception, COUNTER, {"_id": reception_id})
        if found is None:
            raise self.not_found("counter reception", reception_id)
        ensure_unit(principal, found.unit_path)
        return found

    async def list_receptions(
        self, principal: Principal, *, status: str | None, limit: int, skip: int
    ) -> list[CounterReception]:
        query: dict[str, Any] = {"unit_path": principal.unit_code}
        if status:
            query["status"] = status
        return await self.repo.find(CounterReception, COUNTER, query, limit=limit, skip=skip, sort="received_at")

    async def supervise(self, principal: Principal, reception_id: str, *, confirm: bool, note: str) -> CounterReception:
        officer = actor_of(principal, Role.RECEPTION_OFFICER)

        async def work(tx: Tx) -> CounterReception:
            reception = await tx.get(CounterReception, COUNTER, {"_id": reception_id})
            if reception is None:
                raise self.not_found("counter reception", reception_id)
            ensure_unit(principal, reception.unit_path)
            try:
                reception.supervise(officer=officer, confirm=confirm, note=note, now=self.clock())
            except PostalError as exc:
                raise domain_error(exc) from exc
            await tx.save(COUNTER, reception)
            if reception.status is CounterStatus.CONFIRMED:
                tx.emit(ev.counter_confirmed(reception))
            return reception

        reception = await self.repo.run(work)
        self.wake()
        return reception
