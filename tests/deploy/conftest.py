"""Fixtures of the deployment tests: the secret files gen-secrets.sh writes, generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.deploy_lib import COMPOSE_FILES, generate_secrets


@pytest.fixture(scope="session")
def deploy_secrets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Compose file ("province", "commune") → a directory as `./gen-secrets.sh [--commune]` leaves it."""
    root = tmp_path_factory.mktemp("deploy-secrets")
    return {which: generate_secrets(root / which, commune=which == "commune") for which in COMPOSE_FILES}
