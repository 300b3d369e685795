"""From notices to delivery records: recipients, channel routes, consent, templates, timing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.kit.mongo import Document
from services.notify.model.common import (
    Channel,
    DeliveryStatus,
    RecipientRole,
    delivery_id,
    delivery_key,
    mask_contact,
)
from services.notify.model.policy import Action, Preferences, QuietHours, allowed_route, decide
from services.notify.model.routing import Audience, Contact, Notice, StaffContact, address_for, routes
from services.notify.repository import ContactRepository, PreferenceRepository
from services.notify.service.templates import TemplateService

log = logging.getLogger("motcua.notify.plan")


class Planner:
    def __init__(
        self,
        templates: TemplateService,
        preferences: PreferenceRepository,
        contacts: ContactRepository,
        *,
        channels: Callable[[], frozenset[Channel]],
        quiet_hours: QuietHours,
        clock: Callable[[], datetime],
    ) -> None:
        self.templates = templates
        self.preferences = preferences
        self.contacts = contacts
        self.channels = channels
        self.quiet_hours = quiet_hours
        self.clock = clock

    async def _staff(self, notice: Notice) -> list[Contact]:
        if not notice.office_id:
            return []
        doc = await self.contacts.get(notice.office_id)
        if doc is None:
            log.info("no %s configured for office %s", notice.audience, notice.office_id)
            return []
        field = "postal_workers" if notice.audience is Audience.POSTAL_WORKERS else "officers"
        staff = [StaffContact.model_validate(c) for c in doc.get(field, [])]
        return [s.as_contact() for s in staff if s.active]

    async def records(
        self,
        notices: list[Notice],
        *,
        event_id: str,
        event_type: str,
        unit_code: str,
        unit_path: list[str],
        trace_id: str | None,
    ) -> list[Document]:
        """The delivery records for an event's notices (nothing is written here)."""
        now = self.clock()
        enabled = self.channels()
        path = unit_path or [unit_code]
        planned: list[tuple[Notice, Contact, list[Channel], dict[str, Any]]] = []
        for notice in notices:
            people = [notice.contact] if notice.audience is Audience.APPLICANT and notice.contact else []
            if notice.audience is not Audience.APPLICANT:
                people = await self._staff(notice)
            for person in people:
                variables = dict(notice.variables)
                if notice.role is not RecipientRole.APPLICANT:
                    variables["recipient_name"] = person.name
                planned += [(notice, person, route, variables) for route in routes(person, notice.role, enabled)]
        # Applicants' consent for every address at once: one read per event, not one per channel.
        addresses = {
            address
            for notice, person, route, _ in planned
            if notice.role is RecipientRole.APPLICANT and (address := address_for(person, route[0])) is not None
        }
        consents = await self.preferences.get_many(sorted(addresses)) if addresses else {}
        out: list[Document] = []
        for notice, person, route, variables in planned:
            record = await self._record(
                notice,
                person,
                route,
                variables,
                consents,
                now=now,
                event_id=event_id,
                event_type=event_type,
                unit_code=unit_code,
                unit_path=path,
                trace_id=trace_id,
            )
            if record is not None:
                out.append(record)
        return out

    async def _record(
        self,
        notice: Notice,
        person: Contact,
        route: list[Channel],
        variables: dict[str, Any],
        consents: dict[str, Document],
        *,
        now: datetime,
        event_id: str,
        event_type: str,
        unit_code: str,
        unit_path: list[str],
        trace_id: str | None,
    ) -> Document | None:
        address = address_for(person, route[0])
        if address is None:
            return None
        stored = consents.get(address) if notice.role is RecipientRole.APPLICANT else None
        prefs = Preferences.model_validate(stored) if stored else None
        allowed = allowed_route(route, purpose=notice.purpose, essential=notice.essential, preferences=prefs)
        rendered: dict[Channel, Any] = {}
        for channel in allowed:
            result = await self.templates.render(notice.template_key, channel, unit_path, variables)
            if result is not None:
                rendered[channel] = result
        usable = [c for c in allowed if c in rendered]
        if not usable:
            if route:
                log.info(
                    "no %s notice for %s on %s (%s)",
                    notice.template_key,
                    mask_contact(address),
                    "/".join(route),
                    "opted out" if not allowed else "no template",
                )
            return None
        first = usable[0]
        decision = decide(
            now,
            channel=first,
            purpose=notice.purpose,
            essential=notice.essential,
            preferences=prefs,
            quiet_hours=self.quiet_hours,
        )
        start = decision.at if decision.action is Action.DEFER and decision.at else now
        key = delivery_key(event_id, first.value, address)

        def content(channel: Channel) -> Document:
            m = rendered[channel].message
            return {
                "subject": m.subject,
                "body": m.body,
                "zns_template_id": m.zns_template_id,
                "params": m.params,
                "template_version": rendered[channel].version,
            }

        return {
            "_id": delivery_id(key),
            "key": key,
            "event_id": event_id,
            "event_type": event_type,
            "template_key": notice.template_key,
            "purpose": notice.purpose.value,
            "essential": notice.essential,
            "role": notice.role.value,
            "recipient": address,
            "recipient_name": person.name,
            "channel": first.value,
            **content(first),
            "fallback": [c.value for c in usable[1:]],
            "alternates": {c.value: content(c) for c in usable[1:]},
            "fallback_of": None,
            "dossier_code": notice.dossier_code,
            "office_id": notice.office_id,
            "unit_code": unit_code,
            "unit_path": unit_path,
            "trace_id": trace_id,
            "status": DeliveryStatus.SCHEDULED.value,
            "next_attempt_at": start,
            "attempts": 0,
            "provider": None,
            "provider_message_id": None,
            "history": [
                {
                    "at": now,
                    "status": DeliveryStatus.SCHEDULED.value,
                    **({"detail": f"deferred: {decision.reason}"} if start != now else {}),
                }
            ],
            "created_at": now,
            "updated_at": now,
        }
