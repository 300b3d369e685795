"""NATS least privilege: one user per service, generated from services/contracts, enforced by
the embedded server the whole test session runs on (the launcher starts it with
deploy/nats/accounts.conf and gives each service its own credentials).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, NoStreamResponseError

from services.contracts.streams import PAYMENT
from services.kit.bus import ensure_streams, inbox_prefix
from services.launcher.nats_accounts import DEFAULT_PATH, bus_services, permissions, render
from services.launcher.servers import Endpoints

pytestmark = pytest.mark.integration


def test_committed_accounts_file_is_current() -> None:
    committed = Path(DEFAULT_PATH).read_text()
    assert committed == render(), "deploy/nats/accounts.conf is stale: run python -m services.launcher.nats_accounts"


def test_each_service_publishes_only_its_own_subjects() -> None:
    owned = {"intake": {"dossier.>", "queue.>"}, "scan": {"document.>"}, "payments": {"payment.>"},
             "postal": {"shipment.>", "postal.>"}, "notify": {"notify.>"}}
    assert set(bus_services()) == set(owned)
    for service, subjects in owned.items():
        perms = permissions(service)
        plain = {s for s in perms.publish if not s.startswith(("$JS.", "_INBOX"))}
        assert plain == subjects | {"deadletter.>", f"privacy.erased.{service}"}, service
        assert perms.subscribe == (f"_INBOX_{service}.>",)
        assert not any(".DELETE." in s or ".PURGE." in s or "MSG.GET" in s or s in (">", "$JS.>", "$JS.API.>")
                       for s in perms.publish), service


class Errors:
    """The asynchronous errors the server sent (permission violations arrive this way)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    async def wait_for(self, *words: str) -> bool:
        for _ in range(100):  # up to 5 s
            if any(all(w in e.lower() for w in words) for e in self.seen):
                return True
            await asyncio.sleep(0.05)
        return False


@asynccontextmanager
async def connect(url: str, service: str | None = None) -> AsyncIterator[tuple[NatsClient, Errors]]:
    """A connection as a service's user (with that service's inbox prefix, as kit.bus does)."""
    errors = Errors()
    prefix = {"inbox_prefix": inbox_prefix(service)} if service else {}
    nc = await nats.connect(url, error_cb=errors.record, allow_reconnect=False, connect_timeout=3, **prefix)
    try:
        yield nc, errors
    finally:
        await nc.close()


async def _count(admin: NatsClient, subject: str, marker: str) -> int:
    sub = await admin.jetstream().subscribe(subject, stream=PAYMENT.name, ordered_consumer=True)
    found = 0
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return found
            found += marker in msg.data.decode()
    finally:
        await sub.unsubscribe()


async def test_notify_cannot_publish_payment_paid_but_payments_can(servers: Endpoints) -> None:
    assert servers.nats_service_urls, "the embedded NATS runs with per-service users"
    async with connect(servers.nats_url) as (admin, _):
        await ensure_streams(admin.jetstream())
    forged = json.dumps({"event_id": f"forged-{uuid.uuid4().hex}", "payload": {"intent_id": "x"}})
    async with connect(servers.nats_service_urls["notify"], "notify") as (nc, errors):
        await nc.publish("payment.paid", forged.encode())
        await nc.flush()
        with pytest.raises((NoRespondersError, NoStreamResponseError, NatsTimeout, APIError)):
            await nc.jetstream().publish("payment.paid", forged.encode(), timeout=1)
        assert await errors.wait_for("permissions violation", "payment.paid"), errors.seen
    genuine = json.dumps({"event_id": f"genuine-{uuid.uuid4().hex}"})
    async with connect(servers.nats_service_urls["payments"], "payments") as (nc, errors):
        ack = await nc.jetstream().publish("payment.paid", genuine.encode(), stream=PAYMENT.name, timeout=5)
        assert ack.stream == PAYMENT.name and not errors.seen
    async with connect(servers.nats_url) as (admin, _):
        assert await _count(admin, "payment.paid", forged[:40]) == 0, "the forged event reached the stream"
        assert await _count(admin, "payment.paid", genuine[:40]) == 1


async def test_a_service_cannot_read_streams_it_does_not_consume(servers: Endpoints) -> None:
    async with connect(servers.nats_service_urls["scan"], "scan") as (nc, errors):
        # scan consumes dossier.received only: no consumer on PAYMENT, no direct subscription
        with pytest.raises((NatsTimeout, APIError, NoRespondersError)):
            await nc.jetstream().add_consumer(PAYMENT.name, durable_name="scan-snoop", timeout=1)
        await nc.subscribe("payment.>")
        await nc.flush()
        assert await errors.wait_for("permissions violation", "subscription", "payment.>"), errors.seen


async def test_a_service_reads_only_its_own_inbox(servers: Endpoints) -> None:
    """Replies and pulled messages go to `_INBOX_<service>.…`: notify cannot listen to the
    replies payments gets (JetStream acks, pulled payment events), nor to the shared `_INBOX`."""
    async with connect(servers.nats_service_urls["notify"], "notify") as (nc, errors):
        info = await nc.jetstream().account_info()  # a request: the reply arrives in notify's own inbox
        assert info.streams >= 1 and not errors.seen
        await nc.subscribe("_INBOX_payments.>")
        await nc.flush()
        assert await errors.wait_for("permissions violation", "subscription", "_inbox_payments.>"), errors.seen
        await nc.subscribe("_INBOX.>")
        await nc.flush()
        assert await errors.wait_for("permissions violation", "subscription", "_inbox.>"), errors.seen


async def test_no_anonymous_or_wrong_password_connection(servers: Endpoints) -> None:
    host = servers.nats_url.rsplit("@", 1)[1]
    for url in (f"nats://{host}", f"nats://notify:wrong@{host}"):
        with pytest.raises(Exception, match=r"(?i)authorization"):
            nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0)
            await nc.close()


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("motcua test CA")).issuer_name(name("motcua test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("nats")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


async def test_tls_is_a_matter_of_configuration(tmp_path: Path) -> None:
    """accounts.conf + the documented `tls {}` block: services connect with tls://, plaintext is refused."""
    import ssl

    from services.launcher.nats_accounts import ADMIN_USER, password_variable
    from services.launcher.servers import nats_process, with_credentials

    ca, cert, key = _certificates(tmp_path)
    (tmp_path / "accounts.conf").write_text(render())
    config = tmp_path / "nats-tls.conf"
    config.write_text(f'include "accounts.conf"\ntls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n'
                      f'  ca_file: "{ca}"\n  timeout: 2\n}}\n')
    users = {u: f"p{uuid.uuid4().hex}" for u in [*bus_services(), ADMIN_USER]}
    proc, url = nats_process(tmp_path, config=config, env={password_variable(u): p for u, p in users.items()})
    proc.start()
    try:
        await asyncio.to_thread(proc.wait_ready, 20)
        context = ssl.create_default_context(cafile=str(ca))
        tls_url = with_credentials(url.replace("nats://", "tls://"), "scan", users["scan"])
        nc = await nats.connect(tls_url, tls=context, allow_reconnect=False, connect_timeout=3)
        assert nc.is_connected and nc.connected_url is not None and nc.connected_url.scheme == "tls"
        await nc.close()
        with pytest.raises(Exception, match=r"(?i)tls|ssl|secure|handshake"):  # the server requires TLS
            plain = await nats.connect(with_credentials(url, "scan", users["scan"]), allow_reconnect=False,
                                       connect_timeout=2, max_reconnect_attempts=0)
            await plain.close()
    finally:
        await asyncio.to_thread(proc.stop, 5)
