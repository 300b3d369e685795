from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.bus import ensure_streams
from services.kit.mongo import Document, make_mongo_client
from services.launcher.servers import Endpoints

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def mongo_client(servers: Endpoints) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = make_mongo_client(servers.mongo_url, app_name="tests")
    yield client
    await client.close()


@pytest.fixture
async def db(mongo_client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncDatabase[Document]]:
    """A fresh database per test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.fixture
async def nc(servers: Endpoints) -> AsyncIterator[NatsClient]:
    client = await nats.connect(servers.nats_url)
    await ensure_streams(client.jetstream())
    yield client
    await client.close()
