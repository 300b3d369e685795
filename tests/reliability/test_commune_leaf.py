"""A commune office on a NATS leaf node with its own JetStream domain keeps receiving dossiers
while the link to the province is cut (≥ 60 s); when the link returns, everything reaches the
province (streams sourced across domains) in order, without duplicates, and the province's
intake then counts them.

Topology on loopback (deploy/nats/hub-single.conf + leaf-commune.conf):
  commune intake ─ leaf nats (domain commune-30307) ─ [cuttable TCP link] ─ hub nats (domain province) ─ province intake
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from services.intake.app import IntakeSettings, create_app
from services.kit.auth import Role
from services.kit.bus import commune_stream_name
from services.launcher.ports import free_ports
from services.launcher.processes import ManagedProcess, venv_bin
from services.launcher.servers import Endpoints
from tests.support import auth, running_app, settings_for

pytestmark = pytest.mark.integration

NATS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nats"
DOMAIN = "commune-30307"
OFFICER = auth(Role.RECEPTION_OFFICER, unit_code="30307", name="Cán bộ xã")
PROVINCE_INSPECTOR = auth(Role.INSPECTOR, unit_code="91")
CUT_SECONDS = 60


class CuttableLink:
    """A TCP proxy for the leaf connection that can be cut and restored."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port, self.target_port = listen_port, target_port
        self.server: asyncio.base_events.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            target_r, target_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self.writers.update({client_w, target_w})
        await asyncio.gather(self._pipe(client_r, target_w), self._pipe(target_r, client_w))

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port, reuse_address=True)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()
        await self.server.wait_closed()


def _http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?js-enabled-only=true", timeout=1) as r:
            return bool(r.status == 200)
    except Exception:
        return False


@pytest.fixture
def nats_pair(tmp_path: Path) -> Iterator[dict[str, Any]]:
    hub_client, hub_http, hub_leaf, leaf_client, leaf_http, link = free_ports(6)
    hub = ManagedProcess(
        "hub",
        [venv_bin("nats-server"), "-c", str(NATS_DIR / "hub-single.conf")],
        env={
            "NATS_SERVER_NAME": "province-hub",
            "NATS_LISTEN": f"127.0.0.1:{hub_client}",
            "NATS_HTTP": f"127.0.0.1:{hub_http}",
            "NATS_STORE_DIR": str(tmp_path / "hub"),
            "NATS_LEAF_LISTEN": f"127.0.0.1:{hub_leaf}",
        },
        log_path=tmp_path / "hub.log",
        ready=functools.partial(_http_ok, hub_http),
    )
    leaf = ManagedProcess(
        "leaf",
        [venv_bin("nats-server"), "-c", str(NATS_DIR / "leaf-commune.conf")],
        env={
            "NATS_SERVER_NAME": "commune-30307",
            "NATS_LISTEN": f"127.0.0.1:{leaf_client}",
            "NATS_HTTP": f"127.0.0.1:{leaf_http}",
            "NATS_STORE_DIR": str(tmp_path / "leaf"),
            "NATS_JS_DOMAIN": DOMAIN,
            "NATS_PROVINCE_LEAF_URL": f"nats-leaf://127.0.0.1:{link}",
        },
        log_path=tmp_path / "leaf.log",
        ready=functools.partial(_http_ok, leaf_http),
    )
    hub.start()
    hub.wait_ready(20)
    leaf.start()
    leaf.wait_ready(20)
    yield {
        "hub": f"nats://127.0.0.1:{hub_client}",
        "leaf": f"nats://127.0.0.1:{leaf_client}",
        "hub_leaf_port": hub_leaf,
        "link_port": link,
        "hub_http": hub_http,
    }
    leaf.stop()
    hub.stop()


def _leaf_connected(hub_http: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hub_http}/leafz", timeout=1) as r:
            return bool(json.loads(r.read()).get("leafnodes", 0) >= 1)
    except OSError:
        return False


async def _wait_for_leaf(hub_http: int, limit_s: float = 30) -> float:
    """Seconds until the hub sees the commune's leaf connection."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if await asyncio.to_thread(_leaf_connected, hub_http):
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError("the leaf node never connected to the hub")


def _dossier(n: int) -> dict[str, Any]:
    return {
        "office_id": "ttpvhcc-long-xuyen",
        "procedure_code": "2.000815",
        "applicant": {"full_name": f"Người dân {n}", "id_number": "089303001234", "phone": "0912345678"},
        "components": [{"component_id": "ban_chinh"}],
        "form_data": {"ten_giay_to": "Giấy khai sinh", "so_trang": 1, "so_ban": 1},
    }


@pytest.fixture
async def link(nats_pair: dict[str, Any]) -> AsyncIterator[CuttableLink]:
    proxy = CuttableLink(nats_pair["link_port"], nats_pair["hub_leaf_port"])
    await proxy.up()
    await _wait_for_leaf(nats_pair["hub_http"])
    yield proxy
    if proxy.server is not None and proxy.server.is_serving():
        await proxy.cut()


async def test_commune_keeps_working_offline_and_catches_up(
    servers: Endpoints, nats_pair: dict[str, Any], link: CuttableLink
) -> None:
    commune = create_app(settings_for(servers, IntakeSettings, nats_url=nats_pair["leaf"]))
    province = create_app(settings_for(servers, IntakeSettings, nats_url=nats_pair["hub"], commune_domains=[DOMAIN]))
    accepted: list[dict[str, Any]] = []
    async with running_app(commune) as commune_http, running_app(province) as province_http:
        province_db = province.state.runtime.db

        async def receive(n: int) -> None:
            r = await commune_http.post("/dossiers", json=_dossier(n), headers=OFFICER)
            assert r.status_code == 201, r.text
            accepted.append(r.json())

        for n in range(5):  # link up: flows through at once
            await receive(n)
        t0 = time.monotonic()
        for _ in range(300):
            if await province_db.dossiers.count_documents({"replica_of": DOMAIN}) == 5:
                break
            await asyncio.sleep(0.1)
        print(f"\nfirst replication after {time.monotonic() - t0:.1f}s")
        if await province_db.dossiers.count_documents({"replica_of": DOMAIN}) != 5:
            for url in (nats_pair["hub"], nats_pair["leaf"]):
                c = await nats.connect(url)
                for si in await c.jetstream().streams_info():
                    print("DEBUG", url, si.config.name, si.state.messages, si.config.subjects, si.sources)
                await c.close()
        assert await province_db.dossiers.count_documents({"replica_of": DOMAIN}) == 5

        await link.cut()
        cut_at = time.monotonic()
        n = 5
        while time.monotonic() - cut_at < CUT_SECONDS:  # the counter keeps receiving, offline
            await receive(n)
            n += 1
            await asyncio.sleep(0.5)
        offline = len(accepted) - 5
        assert await province_db.dossiers.count_documents({"replica_of": DOMAIN}) == 5, "the link really was cut"

        await link.up()
        restored_at = time.monotonic()
        relinked = await _wait_for_leaf(nats_pair["hub_http"])
        deadline = restored_at + 150
        while time.monotonic() < deadline:
            if await province_db.dossiers.count_documents({"replica_of": DOMAIN}) == len(accepted):
                break
            await asyncio.sleep(0.2)
        caught_up = time.monotonic() - restored_at
        replicated = await province_db.dossiers.count_documents({"replica_of": DOMAIN})
        print(
            f"\nleaf: accepted offline={offline} total={len(accepted)} replicated={replicated} "
            f"leaf reconnected after {relinked:.1f}s, caught up {caught_up:.1f}s after the link returned"
        )
        assert replicated == len(accepted)

        # in order and without duplicates in the province's copy of the commune stream
        hub = await nats.connect(nats_pair["hub"])
        js = hub.jetstream()
        info = await js.stream_info(commune_stream_name("DOSSIER", DOMAIN))
        codes = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(commune_stream_name("DOSSIER", DOMAIN), seq)
            if msg.subject == "dossier.received":
                codes.append(json.loads(msg.data)["payload"]["dossier_code"])
        await hub.close()
        assert codes == [d["code"] for d in accepted], "every dossier once, in the commune's order"

        # the province sees them: lookup by code as a province inspector
        last = accepted[-1]["code"]
        r = await province_http.get(f"/dossiers/by-code/{last}", headers=PROVINCE_INSPECTOR)
        assert r.status_code == 200 and r.json()["unit_path"] == ["30307", "91"]
