"""A three-node JetStream cluster on loopback (deploy/nats/cluster.conf), R3 streams: one node
is killed during load and restarted; nothing is lost and nothing is duplicated."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsRouter
from pymongo.asynchronous.database import AsyncDatabase

from services.contracts.events import ApplicantContact, DossierReceived, DossierReceivedPayload
from services.contracts.streams import DOSSIER, ConsumerSpec
from services.kit.bus import BrokerPublisher, durable_subscriber, ensure_streams, make_broker
from services.kit.idempotency import mark_processed
from services.kit.mongo import Document, in_transaction
from services.kit.outbox import OUTBOX_COLLECTION, OutboxRelay, add_to_outbox
from services.launcher.ports import free_ports
from services.launcher.processes import ManagedProcess, venv_bin

pytestmark = pytest.mark.integration

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster.conf"


def _http_ok(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?js-enabled-only=true", timeout=1) as r:
            return bool(r.status == 200)
    except Exception:
        return False


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[list[ManagedProcess], str]]:
    ports = free_ports(12)
    client, http, route, leaf = ports[0:3], ports[3:6], ports[6:9], ports[9:12]
    nodes = []
    for i in range(3):
        env = {
            "NATS_SERVER_NAME": f"n{i + 1}",
            "NATS_LISTEN": f"127.0.0.1:{client[i]}",
            "NATS_HTTP": f"127.0.0.1:{http[i]}",
            "NATS_STORE_DIR": str(tmp_path / f"n{i + 1}"),
            "NATS_CLUSTER_LISTEN": f"127.0.0.1:{route[i]}",
            "NATS_ROUTE_1": f"nats-route://127.0.0.1:{route[0]}",
            "NATS_ROUTE_2": f"nats-route://127.0.0.1:{route[1]}",
            "NATS_ROUTE_3": f"nats-route://127.0.0.1:{route[2]}",
            "NATS_LEAF_LISTEN": f"127.0.0.1:{leaf[i]}",
        }
        node = ManagedProcess(
            f"nats-{i + 1}",
            [venv_bin("nats-server"), "-c", str(CONF)],
            env=env,
            log_path=tmp_path / f"n{i + 1}.log",
            ready=functools.partial(_http_ok, http[i]),
        )
        node.start()
        nodes.append(node)
    for node in nodes:
        node.wait_ready(30)
    yield nodes, ",".join(f"nats://127.0.0.1:{p}" for p in client)
    for node in nodes:
        node.stop()


def _event(n: int) -> DossierReceived:
    return DossierReceived(
        unit_code="91",
        payload=DossierReceivedPayload(
            dossier_id=f"c{n}",
            dossier_code=f"C-{n}",
            procedure_code="1.001193",
            procedure_name="Khai sinh",
            office_id="o",
            channel="counter",
            applicant=ApplicantContact(name="A"),
            received_at=_now(),
        ),
    )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_killing_a_cluster_node_under_load_loses_and_duplicates_nothing(
    cluster: tuple[list[ManagedProcess], str], db: AsyncDatabase[Document], mongo_client: Any
) -> None:
    nodes, urls = cluster
    producer = make_broker(urls, service="cluster-producer")
    await producer.connect()
    js = producer.config.connection_state.stream
    for _ in range(60):  # the cluster needs a leader for the meta layer first
        try:
            await ensure_streams(js, replicas=3)
            break
        except Exception:
            await asyncio.sleep(0.5)
    info = await js.stream_info(DOSSIER.name)
    assert info.config.num_replicas == 3

    subject = f"dossier.cluster{uuid.uuid4().hex[:6]}"
    spec = ConsumerSpec(f"cluster-{uuid.uuid4().hex[:6]}", DOSSIER.name, (subject,), "tests")
    handled: list[str] = []
    deliveries = 0

    async def handler(event: DossierReceived) -> None:
        nonlocal deliveries
        deliveries += 1

        async def work(session: Any) -> None:
            if await mark_processed(db, spec.durable, event.event_id, session=session):
                handled.append(event.event_id)

        await in_transaction(mongo_client, work)

    consumer = make_broker(urls, service="cluster-consumer", backoff_s=(0.2,))
    router = NatsRouter()
    durable_subscriber(router, spec, max_deliver=20)(handler)
    consumer.include_router(router)
    await consumer.start()

    relay = OutboxRelay(db, BrokerPublisher(producer), poll_s=0.1)
    relay.start()
    written: list[str] = []
    killed_at = restarted_at = 0.0
    started = time.monotonic()
    for n in range(150):
        event = _event(n)
        event.type = subject
        await add_to_outbox(db, [event], session=None)
        written.append(event.event_id)
        relay.wake()
        if n == 40:
            nodes[0].send(9)  # kill -9 one node in the middle of the load
            killed_at = time.monotonic()
        if n == 100:
            nodes[0].start()
            restarted_at = time.monotonic()
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        await db[OUTBOX_COLLECTION].count_documents({"published_at": None}) or len(handled) < len(written)
    ):
        await asyncio.sleep(0.2)
    recovered = time.monotonic() - started
    await relay.stop()
    await consumer.stop()
    await producer.stop()
    print(
        f"\ncluster: written={len(written)} handled={len(handled)} deliveries={deliveries} "
        f"killed at {killed_at - started:.1f}s restarted at {restarted_at - started:.1f}s all done at {recovered:.1f}s"
    )
    assert sorted(handled) == sorted(written), "every event handled exactly once"
    assert len(set(handled)) == len(handled)
