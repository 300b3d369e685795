"""The committed AsyncAPI documents match the code (`make docs` regenerates them)."""

from pathlib import Path

from services.launcher.docs import BUS_SERVICES, asyncapi_documents, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_committed_asyncapi_documents_are_current() -> None:
    current = asyncapi_documents()
    assert set(current) == set(BUS_SERVICES)
    stale = [
        name
        for name, doc in current.items()
        if not (DOCS / f"{name}.json").exists() or (DOCS / f"{name}.json").read_text(encoding="utf-8") != render(doc)
    ]
    assert not stale, f"docs/asyncapi is stale for {stale}: run `make docs` and commit"


def test_intake_documents_the_event_it_publishes() -> None:
    intake = asyncapi_documents()["intake"]
    assert any("dossier.received" in channel for channel in intake["channels"])
