"""`/metrics` on a service: HTTP latency, outbox backlog and consumer lag from the real servers."""

from __future__ import annotations

import re

from services.kit.auth import Role
from services.launcher.servers import Endpoints
from services.notify.app import NotifySettings
from services.notify.app import create_app as create_notify
from tests.support import auth, running_app, settings_for


async def test_metrics_endpoint_exposes_the_shared_names(servers: Endpoints) -> None:
    app = create_notify(settings_for(servers, NotifySettings))
    async with running_app(app) as client:
        await client.get("/deliveries", headers=auth(Role.INSPECTOR, unit_code="91"))
        text = (await client.get("/metrics")).text
    latency = (
        'motcua_http_request_duration_seconds_count{method="GET",route="/deliveries",service="notify",status="200"}'
    )
    assert latency in text
    assert 'motcua_outbox_backlog{service="notify"} 0.0' in text
    assert re.search(r'motcua_consumer_pending_messages\{durable="notify-[a-z0-9-]+",service="notify"\} \d', text)
    assert 'motcua_dead_letters{stream="DEADLETTER"}' in text
