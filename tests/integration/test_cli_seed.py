"""`motcua seed` against a deployment that only knows its issuer's tokens: the bearer token is
given (`--token`, `--token-file`, `MOTCUA_TOKEN`) instead of minted with a dev secret. Intake runs
on real HTTP against the real servers, with no sample data."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.intake.app import IntakeSettings
from services.intake.app import create_app as create_intake
from services.kit.auth import Role
from services.launcher.cli import main
from services.launcher.servers import Endpoints
from tests.integration.test_queue_flow import serve_over_http
from tests.support import running_app, settings_for, token

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "services" / "intake" / "data"
UNITS, PROCEDURES = DATA / "units_an_giang.json", DATA / "procedures.json"
KIOSK = "/queue/offices/ttpvhcc-long-xuyen/kiosk"  # answers once units are loaded


@pytest.fixture
async def intake_url(servers: Endpoints) -> AsyncIterator[str]:
    settings = settings_for(
        servers, IntakeSettings, seed_sample_if_empty=False, durable_suffix=f"-t{uuid.uuid4().hex[:8]}"
    )
    app = create_intake(settings)
    async with running_app(app):
        server, serving, port = await serve_over_http(app)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 15)


@pytest.fixture(autouse=True)
def no_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A production operator's machine: no `motcua up` state, no dev secret."""
    monkeypatch.setenv("MOTCUA_DATA_DIR", str(tmp_path / "nothing-here"))
    for name in ("MOTCUA_AUTH_DEV_SECRET", "MOTCUA_TOKEN", "MOTCUA_INTAKE_URL"):
        monkeypatch.delenv(name, raising=False)


async def seed(*args: str) -> int:
    return await asyncio.to_thread(main, ["seed", *args])


async def test_seed_with_a_given_token(
    intake_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with httpx.AsyncClient(base_url=intake_url) as http:
        assert (await http.get(KIOSK)).json()["error"]["code"] == "reference_data_missing"  # nothing loaded yet

        # without a token and without a local stack, it says what to do
        with pytest.raises(SystemExit, match="--token"):
            await seed("--intake-url", intake_url, "--units", str(UNITS))

        admin = token(Role.PROVINCE_ADMIN, unit_code="91", subject="ops")
        # a given token never loads the sample by default: that would overwrite a province's units
        assert await seed("--intake-url", intake_url, "--token", admin) == 2
        assert "nothing to load" in capsys.readouterr().err

        # the issuer's token is sent as is: a wrong one is refused, so is a role that may not load data
        assert await seed("--intake-url", intake_url, "--token", "not-a-jwt", "--units", str(UNITS)) == 1
        assert "units: 401" in capsys.readouterr().out
        officer = token(Role.RECEPTION_OFFICER, unit_code="91")
        assert await seed("--intake-url", intake_url, "--token", officer, "--units", str(UNITS)) == 1
        assert "units: 403" in capsys.readouterr().out
        assert (await http.get(KIOSK)).status_code == 422

        # from a file (out of the process list), "Bearer " prefix allowed
        token_file = tmp_path / "token"
        token_file.write_text(f"Bearer {admin}\n")
        files = ("--units", str(UNITS), "--procedures", str(PROCEDURES))
        assert await seed("--intake-url", intake_url, "--token-file", str(token_file), *files) == 0
        out = capsys.readouterr().out
        assert "units: 200" in out and "procedures: 200" in out
        assert (await http.get(KIOSK)).status_code == 200

        # from the environment, with the sample asked for explicitly
        monkeypatch.setenv("MOTCUA_TOKEN", admin)
        monkeypatch.setenv("MOTCUA_INTAKE_URL", intake_url)
        assert await seed("--sample") == 0
        assert '"procedures"' in capsys.readouterr().out
        menu = (await http.get(KIOSK)).json()
        assert menu["office_id"] == "ttpvhcc-long-xuyen" and menu["fields"]
