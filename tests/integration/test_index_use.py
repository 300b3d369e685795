"""The queries services run on a timer use an index on the real MongoDB-wire server.

A poll that scans the whole collection is invisible with a few test dossiers and costs
seconds per pass at province scale (it showed up in `make bench` as lookups slowing down as
dossiers grew). Each repository method below is called against the real server while the
commands it sends are recorded; each recorded `find` is then explained, and no plan may be a
collection scan.

That is stricter than the suite-wide audit (tests/query_plans.py): the embedded server's
`explain` shows an index only when one index serves the whole filter. Its executor also
serves a filter from its first field with an index and checks the other fields per document,
which `explain` reports as a collection scan. The hot queries here are held to the stricter
rule: one index lookup, nothing read that is then thrown away.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.repository import DossierRepository
from services.kit.mongo import Document
from services.kit.query_shapes import CommandStartedListener
from services.launcher.servers import Endpoints
from services.notify.repository.deliveries import DeliveryRepository
from services.notify.repository.dossiers import DossierRepository as NotifyDossiers
from services.payments.model.intent import Item, Payer, PaymentIntent, PaymentStatus
from services.payments.repository import PaymentsRepository
from services.scan.repository import ScanRepository

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


class FindRecorder(CommandStartedListener):
    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []
        self.write_filters: list[dict[str, Any]] = []
        self.db_name = ""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name != self.db_name:
            return
        if event.command_name == "find":
            self.finds.append(dict(event.command))
        elif event.command_name in ("update", "delete"):
            self.write_filters += [dict(u["q"]) for u in event.command.get(f"{event.command_name}s", [])]


@pytest.fixture
async def recorded(
    servers: Endpoints,
) -> AsyncIterator[tuple[AsyncMongoClient[Document], AsyncDatabase[Document], FindRecorder]]:
    recorder = FindRecorder()
    client: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongo_url, event_listeners=[recorder], tz_aware=True)
    recorder.db_name = f"t_idx_{uuid.uuid4().hex[:8]}"
    yield client, client[recorder.db_name], recorder
    await client.drop_database(recorder.db_name)
    await client.close()


async def _plans(db: AsyncDatabase[Document], finds: list[dict[str, Any]]) -> list[tuple[str, str]]:
    plans = []
    for cmd in finds:
        explained = await db.command(
            "explain",
            {k: v for k, v in cmd.items() if k in ("find", "filter", "sort", "projection", "limit")},
            verbosity="queryPlanner",
        )
        plans.append((str(cmd.get("filter")), str(explained["queryPlanner"]["winningPlan"])))
    return plans


async def _assert_indexed(
    db: AsyncDatabase[Document], recorder: FindRecorder, call: Callable[[], Awaitable[Any]]
) -> None:
    recorder.finds.clear()
    await call()
    finds = list(recorder.finds)
    assert finds, "the method sent no find"
    for query, plan in await _plans(db, finds):
        assert "COLLSCAN" not in plan, f"{query} scans the collection: {plan}"


def _no_top_level_or(filters: list[dict[str, Any]]) -> None:
    """The embedded server scans the whole collection for a top-level `$or`/`$and`, even beside
    an `_id` (300 ms per update at 20,000 documents, where `{_id, field: {$not: …}}` takes 3 ms)."""
    assert filters, "nothing was recorded"
    for query in filters:
        assert not {"$or", "$and", "$nor"} & set(query), f"{query} has a top-level logical operator"


async def test_intake_late_check_uses_indexes_and_finds_what_is_late(recorded: Any) -> None:
    client, db, recorder = recorded
    repo = DossierRepository(client, db)
    await repo.ensure_indexes()
    past, future = NOW - timedelta(hours=1), NOW + timedelta(days=3)
    step_late = {"status": "active", "due_at": past}
    await db["dossiers"].insert_many(
        [
            {
                "_id": "late",
                "status": "processing",
                "late": False,
                "statutory_due_at": past,
                "due_at": past,
                "steps": [],
            },
            {
                "_id": "flagged",
                "status": "processing",
                "late": True,
                "statutory_due_at": past,
                "due_at": past,
                "steps": [],
            },
            {"_id": "on-time", "status": "received", "late": False, "statutory_due_at": future, "due_at": future},
            {"_id": "replica", "status": "received", "late": False, "statutory_due_at": past, "replica_of": "x"},
            {"_id": "finished", "status": "resolved", "late": False, "statutory_due_at": past, "due_at": past},
            {"_id": "legacy", "status": "received", "late": False, "statutory_due_at": None, "due_at": past},
            {
                "_id": "step",
                "status": "processing",
                "late": True,
                "statutory_due_at": future,
                "steps": [step_late, {"status": "waiting", "due_at": None}],
            },
            {
                "_id": "step-flagged",
                "status": "processing",
                "late": True,
                "statutory_due_at": future,
                "steps": [{**step_late, "late_flagged_at": past}],
            },
        ]
    )
    found = await repo.late_candidates(NOW)
    assert sorted(d["_id"] for d in found) == ["late", "legacy", "step"]
    await _assert_indexed(db, recorder, lambda: repo.late_candidates(NOW))
    # the citizen's lookup: the unique index on codes is partial, which this server cannot use
    await db["dossiers"].insert_one({"_id": "coded", "code": "000.01.30.H01-261124-0001", "status": "received"})
    assert (await repo.get_by_code("000.01.30.H01-261124-0001") or {}).get("_id") == "coded"
    await _assert_indexed(db, recorder, lambda: repo.get_by_code("000.01.30.H01-261124-0001"))


async def test_notify_and_payments_polls_use_indexes(recorded: Any) -> None:
    client, db, recorder = recorded
    deliveries, dossiers, payments = DeliveryRepository(db), NotifyDossiers(db), PaymentsRepository(client, db)
    for repo in (deliveries, dossiers, payments):
        await repo.ensure_indexes()
    await db["deliveries"].insert_many(
        [
            {"_id": "due", "key": "k1", "status": "scheduled", "next_attempt_at": NOW - timedelta(minutes=1)},
            {"_id": "later", "key": "k2", "status": "scheduled", "next_attempt_at": NOW + timedelta(minutes=1)},
            {"_id": "sent", "key": "k3", "status": "sent", "next_attempt_at": NOW - timedelta(minutes=5)},
        ]
    )
    assert [d["_id"] for d in await deliveries.due(NOW)] == ["due"]
    await _assert_indexed(db, recorder, lambda: deliveries.due(NOW))
    await _assert_indexed(db, recorder, lambda: dossiers.candidates(NOW))
    await _assert_indexed(db, recorder, lambda: payments.due_for_sweep(NOW, NOW - timedelta(minutes=15)))
    await _assert_indexed(db, recorder, lambda: payments.get_by_receipt("BL-30307-2026-000001"))
    # payments, on every received dossier with fees: does it have a live intent already?
    await db["intents"].insert_many(
        [
            {"_id": "i1", "ref": "MC1", "dossier_id": "d1", "status": "expired"},
            {"_id": "i2", "ref": "MC2", "dossier_id": "d2", "status": "pending"},
        ]
    )
    assert not await payments.has_intent("d1", {"pending", "paid"})
    assert await payments.has_intent("d2", {"pending", "paid"})
    await _assert_indexed(db, recorder, lambda: payments.has_intent("d1", {"pending", "paid"}))

    # the cashier's list: by dossier or by unit, with a status, a page at a time
    listed = [("30307", PaymentStatus.PAID), ("30307", PaymentStatus.PENDING), ("30280", PaymentStatus.PAID)]
    listed.append(("30307", PaymentStatus.PAID))
    refs_made = []
    for n, (unit, status) in enumerate(listed):
        opened = PaymentIntent.open(
            dossier_id="d9", dossier_code="C-9", unit_code=unit, unit_path=[unit, "91"], payer=Payer(name="B"),
            items=[Item(kind="fee", name="Phí", amount=1_000)], now=NOW + timedelta(minutes=n),
            ttl=timedelta(minutes=15),
        )
        await payments.insert(opened.model_copy(update={"status": status}), [])
        refs_made.append(opened.ref)

    async def refs(wanted: dict[str, Any], **page: int) -> list[int]:
        return [refs_made.index(i.ref) for i in await payments.find_intents(wanted, **page)]

    assert await refs({"unit_path": "30307", "dossier_id": "d9"}) == [3, 1, 0]
    assert await refs({"unit_path": "91", "dossier_code": "C-9", "status": "paid"}) == [3, 2, 0]
    assert await refs({"unit_path": "30307", "status": "paid"}, limit=1, skip=1) == [0]
    by_dossier = {"unit_path": "30307", "dossier_id": "d9", "status": "paid"}
    for wanted in (by_dossier, {"unit_path": "30307", "status": "paid"}):
        await _assert_indexed(db, recorder, lambda: payments.find_intents(wanted))  # noqa: B023


async def test_notify_lists_a_units_deliveries_from_one_index_each(recorded: Any) -> None:
    """The desk's delivery list: by dossier (a digest lists several), by event, or by unit in
    time order; the unit and exact filters are checked in Python (`{unit_path, dossier_code}`
    was served from the unit's index, every delivery of the unit fetched and checked)."""
    _, db, recorder = recorded
    deliveries = DeliveryRepository(db)
    await deliveries.ensure_indexes()

    def row(n: int, unit: str, **extra: Any) -> Document:
        at = NOW + timedelta(minutes=n)
        base = {"_id": f"r{n}", "unit_path": [unit, "91"], "created_at": at, "status": "sent", "channel": "email"}
        return {**base, "event_id": f"e{n}", "dossier_code": f"C{n}", **extra}

    await db["deliveries"].insert_many(
        [
            row(1, "30307"),
            row(2, "30307", dossier_code="C1", status="permanent_failure"),
            row(3, "30280", dossier_code="C1"),  # another commune's
            row(4, "30307", dossier_code=None, dossier_codes=["C1", "C9"], event_id="e1"),  # a digest
            row(5, "30307", channel="sms"),
        ]
    )

    async def ids(**kwargs: Any) -> list[str]:
        return [d["_id"] for d in await deliveries.listing(**kwargs)]

    assert await ids(unit_code="30307", dossier_code="C1") == ["r4", "r2", "r1"]
    assert await ids(unit_code="91", dossier_code="C1") == ["r4", "r3", "r2", "r1"]  # the province sees both
    assert await ids(unit_code="30307", dossier_code="C1", filters={"status": "sent"}) == ["r4", "r1"]
    assert await ids(unit_code="30307", event_id="e1") == ["r4", "r1"]
    assert await ids(unit_code="30307", dossier_code="C1", event_id="e1") == ["r4", "r1"]
    assert await ids(unit_code="30307", filters={"channel": "email"}, limit=2) == ["r4", "r2"]
    assert await ids(unit_code="30280") == ["r3"]
    for call in (
        lambda: deliveries.listing("30307", dossier_code="C1", filters={"status": "sent"}),
        lambda: deliveries.listing("30307", event_id="e1"),
        lambda: deliveries.listing("30307", filters={"channel": "sms"}),
    ):
        await _assert_indexed(db, recorder, call)


async def test_scan_lists_a_dossiers_papers_and_their_access_log_from_one_index_each(recorded: Any) -> None:
    """{dossier_code, unit_path, status}: no index holds all three, so the server used the first
    indexed field and checked the rest on each document; now one index serves each read."""
    client, db, recorder = recorded
    scan = ScanRepository(client, db)
    await scan.ensure_indexes()
    other_commune = {"unit_path": ["30280", "91"], "status": "active", "uploaded_at": NOW}
    await db["documents"].insert_one({"_id": "s1", "dossier_code": "S-1", "kind": "result", **other_commune})
    await db["access_audit"].insert_one({"_id": "a1", "dossier_code": "S-1", "document_id": "s1", "at": NOW,
                                         "unit_path": ["30280", "91"]})
    assert await scan.list_for_dossier("S-1", "30307", include_inactive=False) == []  # another commune's
    assert await scan.list_access("30307", dossier_code="S-1", document_id=None, since=None, limit=10) == []
    for call in (
        lambda: scan.list_for_dossier("S-1", "30307", include_inactive=False),
        lambda: scan.results_for_dossier("S-404"),
        lambda: scan.list_access("30307", dossier_code="S-1", document_id=None, since=NOW, limit=10),
        lambda: scan.list_access("30307", dossier_code="S-1", document_id="s1", since=None, limit=10),
        lambda: scan.list_access("30307", dossier_code=None, document_id=None, since=None, limit=10),
    ):
        await _assert_indexed(db, recorder, call)


async def test_postal_sweeps_use_indexes_and_pick_what_is_owed(recorded: Any) -> None:
    from services.postal.model.delivery import NextAction
    from services.postal.repository import DELIVERIES, PICKUPS, PostalRepository

    client, db, recorder = recorded
    repo = PostalRepository(client, db)
    await repo.ensure_indexes()
    await db[PICKUPS].insert_many(
        [
            {
                "_id": "owed",
                "ref": "r1",
                "status": "requested",
                "order_code": None,
                "order_attempts": 1,
                "updated_at": NOW,
            },
            {"_id": "placed", "ref": "r2", "status": "requested", "order_code": "VN1", "updated_at": NOW},
            {
                "_id": "gave-up",
                "ref": "r3",
                "status": "requested",
                "order_code": None,
                "order_attempts": 9,
                "updated_at": NOW,
            },
        ]
    )
    await db[DELIVERIES].insert_many(
        [
            {"_id": "redeliver", "next_action": "redeliver", "action_attempts": 0, "updated_at": NOW},
            {"_id": "idle", "next_action": None, "updated_at": NOW},
        ]
    )

    def owed(d: Document) -> bool:
        return d.get("order_code") is None and int(d.get("order_attempts") or 0) < 5

    pickups = await repo.ids(PICKUPS, [{"status": "requested"}], owed, ("order_code", "order_attempts"))
    assert pickups == ["owed"]
    queries = [{"next_action": a.value} for a in NextAction]
    assert await repo.ids(DELIVERIES, queries, lambda d: True, ("action_attempts",)) == ["redeliver"]
    await _assert_indexed(db, recorder, lambda: repo.ids(PICKUPS, [{"status": "requested"}], owed, ()))
    await _assert_indexed(db, recorder, lambda: repo.ids(DELIVERIES, queries, lambda d: True, ()))


async def test_postal_lists_read_one_index_each(recorded: Any) -> None:
    """The counter's lists of pickups, hand-over records, deliveries and agents' receptions
    filter beside the unit (status, office, kind, dossier): read by one indexed field, the
    rest checked while reading."""
    from services.postal.model.counter import CounterReception
    from services.postal.model.delivery import Delivery
    from services.postal.model.handover import HandoverRecord
    from services.postal.model.pickup import PickupOrder
    from services.postal.repository import COUNTER, DELIVERIES, HANDOVERS, PICKUPS, PostalRepository

    client, db, recorder = recorded
    repo = PostalRepository(client, db)
    await repo.ensure_indexes()
    unit = {"unit_path": "30307"}
    calls = [
        lambda: repo.find(PickupOrder, PICKUPS, {**unit, "status": "requested", "office_id": "o1"}),
        lambda: repo.find(HandoverRecord, HANDOVERS, {**unit, "status": "signed", "kind": {"$in": ["dossiers", None]}}),
        lambda: repo.find(Delivery, DELIVERIES, {**unit, "shipment_status": "delivered", "dossier_code": "C-1"}),
        lambda: repo.find(Delivery, DELIVERIES, {**unit, "shipment_status": "delivered"}),
        lambda: repo.find(CounterReception, COUNTER, {**unit, "status": "confirmed"}, sort="received_at"),
    ]
    for call in calls:
        await _assert_indexed(db, recorder, call)


async def test_hot_reads_and_writes_carry_no_top_level_or(recorded: Any) -> None:
    from services.notify.model.reminders import DossierView

    client, db, recorder = recorded
    intake, notify_dossiers, deliveries = DossierRepository(client, db), NotifyDossiers(db), DeliveryRepository(db)
    for repo in (intake, notify_dossiers, deliveries):
        await repo.ensure_indexes()

    # notify's projection: three saves per reception; an older event must not overwrite a newer one
    view = DossierView(
        dossier_id="d1", dossier_code="C-1", office_id="o", unit_code="30307", status="received", last_event_at=NOW
    )
    recorder.write_filters.clear()
    assert await notify_dossiers.save(view)
    assert await notify_dossiers.save(
        view.model_copy(update={"status": "processing", "last_event_at": NOW + timedelta(minutes=1)})
    )
    assert not await notify_dossiers.save(view.model_copy(update={"status": "transferred"}))
    stored = await notify_dossiers.get("d1")
    assert stored is not None and stored.status == "processing"
    await db["dossiers"].update_one({"_id": "d1"}, {"$unset": {"last_event_at": 1}})  # written before the field existed
    assert await notify_dossiers.save(view.model_copy(update={"status": "resolved"}))
    _no_top_level_or(recorder.write_filters)

    # the officers' inbox: received here or handled here, newest first, paged
    await db["dossiers"].insert_many(
        [
            {
                "_id": f"r{i}",
                "unit_path": ["91", "30307"],
                "handling": {"unit_path": ["91", "30316"]},
                "status": "received",
                "received_at": NOW + timedelta(minutes=i),
            }
            for i in range(3)
        ]
        + [
            {
                "_id": "h",
                "unit_path": ["91", "30316"],
                "handling": {"unit_path": ["91", "30307"]},
                "status": "processing",
                "received_at": NOW + timedelta(minutes=10),
            },
            {
                "_id": "both",
                "unit_path": ["91", "30307"],
                "handling": {"unit_path": ["91", "30307"]},
                "status": "received",
                "received_at": NOW - timedelta(minutes=1),
            },
            {"_id": "other", "unit_path": ["91", "30316"], "status": "received", "received_at": NOW},
        ]
    )
    scopes = [{"handling.unit_path": "30307"}, {"unit_path": "30307"}]
    page1 = await intake.list_any(scopes, limit=3)
    page2 = await intake.list_any(scopes, limit=3, skip=3)
    assert [d["_id"] for d in page1 + page2] == ["h", "r2", "r1", "r0", "both"]
    received = lambda d: d.get("status") == "received"  # noqa: E731  # the inbox's status filter
    only_received = await intake.list_any(scopes, keep=received, limit=10)
    assert [d["_id"] for d in only_received] == ["r2", "r1", "r0", "both"]
    assert [d["_id"] for d in await intake.list_any(scopes, keep=received, limit=2, skip=1)] == ["r1", "r0"]
    await _assert_indexed(db, recorder, lambda: intake.list_any(scopes, limit=3))
    await _assert_indexed(db, recorder, lambda: intake.list_any(scopes, keep=received, limit=3))

    # notify's delivery list by dossier code (one code, or several on a digest)
    await db["deliveries"].insert_many(
        [
            {"_id": "one", "key": "a", "unit_path": ["30307"], "dossier_code": "C-1", "created_at": NOW},
            {
                "_id": "digest",
                "key": "b",
                "unit_path": ["30307"],
                "dossier_codes": ["C-1", "C-2"],
                "created_at": NOW + timedelta(minutes=1),
            },
            {"_id": "else", "key": "c", "unit_path": ["30307"], "dossier_code": "C-2", "created_at": NOW},
        ]
    )
    assert [d["_id"] for d in await deliveries.listing("30307", dossier_code="C-1")] == ["digest", "one"]
    recorder.finds.clear()
    await deliveries.listing("30307", dossier_code="C-1")
    _no_top_level_or([cmd["filter"] for cmd in recorder.finds])
