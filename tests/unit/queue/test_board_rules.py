"""The display board's projection (pure) and the optional spoken announcements."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.notify.board import model as bm
from services.notify.board.announce import Announcer
from services.notify.board.model import BoardState

T0 = datetime(2026, 1, 14, 2, 0, tzinfo=UTC)


def called(number: str, counter: str, counter_number: int, at: datetime, attempt: int = 1) -> dict[str, object]:
    return {
        "ticket_id": f"id-{number}",
        "office_id": "o",
        "number": number,
        "counter_id": counter,
        "counter_number": counter_number,
        "attempt": attempt,
        "called_at": at.isoformat(),
    }


def test_calls_show_the_number_at_the_counter_and_the_last_calls() -> None:
    state = BoardState(office_id="o")
    entries = bm.ticket_called(state, called("A001", "q1", 1, T0), T0)
    assert [e.kind for e in entries] == ["call", "counter"]
    assert entries[0].data["text"] == "Mời số A001 đến quầy 1"
    bm.ticket_called(state, called("B001", "q2", 2, T0 + timedelta(seconds=5)), T0)
    bm.ticket_called(state, called("B001", "q2", 2, T0 + timedelta(seconds=9), attempt=2), T0)
    assert state.counters["q2"].number == "B001" and state.last_calls[0].attempt == 2
    assert [c.number for c in state.last_calls] == ["B001", "B001", "A001"]
    # an older call arriving late does not replace what the counter shows
    assert bm.ticket_called(state, called("A000", "q1", 1, T0 - timedelta(seconds=30)), T0) == []
    assert state.counters["q1"].number == "A001"
    # serving, then done: the counter is free
    assert bm.ticket_serving(state, {"ticket_id": "id-A001", "counter_id": "q1"}, T0)[0].data["status"] == "serving"
    left = bm.ticket_left_counter(state, {"ticket_id": "id-A001"}, "q1", T0 + timedelta(minutes=1))
    assert left[0].data["number"] is None and state.counters["q1"].status is None
    assert bm.ticket_left_counter(state, {"ticket_id": "id-other"}, "q2", T0) == []
    view = state.view()
    assert [c["counter_number"] for c in view["counters"]] == [1, 2]


def test_last_calls_are_bounded() -> None:
    state = BoardState(office_id="o")
    for i in range(15):
        bm.ticket_called(state, called(f"A{i:03d}", "q1", 1, T0 + timedelta(seconds=i)), T0, keep=10)
    assert len(state.last_calls) == 10 and state.last_calls[0].number == "A014"


def test_results_ready_and_pager_calls() -> None:
    state = BoardState(office_id="o")
    entries = bm.result_ready(state, number="A012", dossier_id="d1", pager_number="07", at=T0)
    assert entries[0].kind == "result_ready" and "A012" in entries[0].data["text"]
    assert bm.result_ready(state, number="A012", dossier_id="d1", pager_number="07", at=T0) == []  # once
    entry, order = bm.pager_call(
        state, call_id="c1", pager_number="07", label="A012", reason="result_ready", counter_number=None, at=T0
    )
    assert entry.kind == "pager" and order.call_id == "c1" and order.office_id == "o"
    assert order.message == "Đã có kết quả hồ sơ số A012, mời đến quầy trả kết quả"
    _, officer = bm.pager_call(
        state, call_id="c2", pager_number="07", label="A012", reason="officer_call", counter_number=3, at=T0
    )
    assert officer.message == "Mời số A012 đến quầy 3"
    gone = bm.result_collected(state, pager_number="07", at=T0)
    assert [e.data["number"] for e in gone] == ["A012"] and state.results_ready == []


def test_label_of_a_ready_result() -> None:
    code = "000.01.30.H01-260114-0042"
    assert bm.label_for_result(pager_label="A012", ticket_number="A013", pager_number="07", dossier_code=code) == "A012"
    assert bm.label_for_result(pager_label=None, ticket_number="A013", pager_number="07", dossier_code=code) == "A013"
    assert bm.label_for_result(pager_label=None, ticket_number=None, pager_number="07", dossier_code=code) == "07"
    assert bm.label_for_result(pager_label=None, ticket_number=None, pager_number=None, dossier_code=code) == "0042"


def test_retry_delays() -> None:
    assert bm.next_attempt_delay(1, (0.5, 2.0)) == 0.5
    assert bm.next_attempt_delay(2, (0.5, 2.0)) == 2.0
    assert bm.next_attempt_delay(3, (0.5, 2.0)) is None


def test_speech_text_spells_the_number() -> None:
    assert bm.speech_text("A012", 3) == "Mời số A 0 1 2, đến quầy số 3"


def test_announcements_are_optional_and_cached_per_phrase(tmp_path: Path) -> None:
    missing = Announcer(tmp_path / "none", command=None, enabled=False)
    assert not missing.available
    assert asyncio.run(missing.audio("Mời số A012 đến quầy 3")) is None

    # a stand-in synthesiser with espeak-ng's command line: counts its runs, writes the file
    runs = tmp_path / "runs"
    fake = tmp_path / "fake-espeak"
    fake.write_text(f'#!/bin/sh\necho run >> "{runs}"\nwhile [ "$1" != "-w" ]; do shift; done\nprintf RIFF > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    announcer = Announcer(tmp_path / "cache", command=str(fake))
    assert announcer.available

    async def twice() -> tuple[Path | None, Path | None, Path | None]:
        a, b = await asyncio.gather(announcer.audio("Mời số A012"), announcer.audio("Mời số A012"))
        c = await announcer.audio("Mời số A013")
        return a, b, c

    a, b, c = asyncio.run(twice())
    assert a is not None and a == b and a.read_bytes() == b"RIFF" and c is not None and c != a
    assert runs.read_text().count("run") == 2  # one synthesis per phrase
