"""Routing, feedback, ratings, national-portal mapping, lookup factor and rate limiter (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.intake.lookup import factor_matches
from services.intake.model import feedback as fbm
from services.intake.model import lifecycle as lc
from services.intake.model.national_portal import NATIONAL_STATUSES, STATUS_MAP, portal_document, portal_status
from services.intake.model.rating import INDICATORS, RatingInput, derived_indicators, score
from services.intake.model.routing import RoutingError, route_to_competent_body
from services.intake.registry import applicant_key, fold, registry_entry
from services.intake.reports.service import rates, share
from services.kit.ratelimit import RateLimited, TokenBucket
from tests.unit.intake.lifecycle_fixtures import (
    BIRTH,
    BIRTH_BUNDLE,
    LAND,
    LEADER,
    LONG_XUYEN,
    OFFICER,
    PROVINCE_OFFICE,
    TREE,
    at,
    ctx,
    received,
)

# ---- routing (Decree 118: by procedure level and body, not where it was filed) ------------------


def test_commune_procedure_at_a_commune_office_goes_to_that_commune() -> None:
    h = route_to_competent_body(BIRTH, LONG_XUYEN, TREE)
    assert (h.unit_code, h.body_name, h.unit_path) == ("30307", "Ủy ban nhân dân cấp xã", ["30307", "91"])


def test_province_office_routes_a_commune_procedure_to_the_named_commune() -> None:
    with pytest.raises(RoutingError) as err:
        route_to_competent_body(BIRTH, PROVINCE_OFFICE, TREE)
    assert err.value.code == "competent_unit_required"
    h = route_to_competent_body(BIRTH, PROVINCE_OFFICE, TREE, "30316")
    assert h.unit_code == "30316" and h.unit_name == "Phường Châu Đốc"


def test_filed_in_one_commune_resolved_in_another() -> None:
    h = route_to_competent_body(BIRTH, LONG_XUYEN, TREE, "31078")  # Đặc khu Phú Quốc
    assert h.unit_code == "31078" and h.unit_path == ["31078", "91"]


def test_province_level_procedures_go_to_the_province_body() -> None:
    h = route_to_competent_body(LAND, LONG_XUYEN, TREE)
    assert h.unit_code == "91" and h.body_name == "Sở Nông nghiệp và Môi trường tỉnh An Giang"
    with pytest.raises(RoutingError) as err:
        route_to_competent_body(LAND, LONG_XUYEN, TREE, "30307")
    assert err.value.code == "wrong_level"


@pytest.mark.parametrize(
    ("unit", "code"), [("91", "wrong_level"), ("99999", "unknown_unit"), ("30280", "outside_province")]
)
def test_bad_competent_units_are_refused(unit: str, code: str) -> None:
    with pytest.raises(RoutingError) as err:
        route_to_competent_body(BIRTH, LONG_XUYEN, TREE, unit)
    assert err.value.code == code


# ---- feedback ---------------------------------------------------------------------------------


def _feedback_input(**over: object) -> fbm.FeedbackInput:
    data: dict[str, object] = {
        "channel": "hotline_1022",
        "name": "Võ Thị Lan",
        "address": "Phường Long Xuyên",
        "phone": "0912 345 678",
        "summary": "Hồ sơ trễ hẹn mà không được báo",
        **over,
    }
    return fbm.FeedbackInput.model_validate(data)


@pytest.mark.parametrize("missing", ["name", "address", "phone", "summary"])
def test_feedback_needs_name_address_phone_and_summary(missing: str) -> None:
    data = _feedback_input().model_dump()
    data.pop(missing)
    with pytest.raises(ValidationError):
        fbm.FeedbackInput.model_validate(data)
    with pytest.raises(ValidationError):
        _feedback_input(phone="12345")
    assert _feedback_input().phone == "0912345678"


def test_feedback_lifecycle_and_public_view() -> None:
    fb = fbm.Feedback(
        id="f1",
        reference="PA-260112-0001",
        channel=fbm.FeedbackChannel.HOTLINE_1022,
        name="Võ Thị Lan",
        address="Phường Long Xuyên",
        phone="0912345678",
        summary="Hồ sơ trễ hẹn",
        unit_code="91",
        unit_path=["91"],
        received_at=at(12),
        response_due_at=at(26, 17),
    )
    assert fb.overdue(at(27)) and not fb.overdue(at(20))
    with pytest.raises(fbm.FeedbackError):
        fbm.publish_answer(fb, "u", at(13))
    fbm.assign(fb, "30307", ["30307", "91"], at(23, 17), "admin", at(12, 10))
    assert fb.status is fbm.FeedbackStatus.ASSIGNED and fb.unit_code == "30307"
    fbm.answer(fb, "Đã trả kết quả, xin lỗi ông bà", "spec-1", "Trần Văn Bình", at(14), publish=True)
    assert fb.status is fbm.FeedbackStatus.PUBLISHED and fb.published_at == at(14)
    view = fbm.public_answer(fb)
    assert view["name"] == "V. T. Lan" and "phone" not in view and "address" not in view
    with pytest.raises(fbm.FeedbackError):
        fbm.close(fb, "trùng", "u", at(15))
    assert [e.action for e in fb.history] == ["assign", "answer", "publish"]


# ---- ratings ----------------------------------------------------------------------------------


def test_rating_indicators_are_circular01_keys_scored_0_1_2() -> None:
    assert len(INDICATORS) == 9
    with pytest.raises(ValidationError):
        RatingInput(level="satisfied", indicators={"staff_attitude": 3})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        RatingInput(level="satisfied", indicators={"smile": 2})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        RatingInput(level="happy")  # type: ignore[arg-type]
    assert score({"staff_attitude": 2, "publicity": 1, "contacts": 2}) == 1.7
    assert score({"a": 1, "b": 2, "c": 2, "d": 2}) == 1.8  # 1.75 → one decimal
    assert score({}) is None


def test_derived_indicators_from_the_dossier() -> None:
    assert BIRTH_BUNDLE.route is not None
    d = received(BIRTH_BUNDLE)
    lc.start_processing(d, ctx(at(12, 10)), BIRTH_BUNDLE.route)
    for i, day in ((0, 13), (1, 14), (2, 16)):  # step 2 is late (due Thursday 15/01)
        lc.complete_step(d, ctx(at(day, 10)), i)
    lc.resolve(d, ctx(at(16, 11), LEADER))
    assert derived_indicators(d) == {"total_time": 2, "agency_time": 1}


# ---- national portal --------------------------------------------------------------------------


def test_every_status_maps_to_a_national_string() -> None:
    assert set(STATUS_MAP.values()) <= NATIONAL_STATUSES
    assert set(STATUS_MAP) == set(lc.S)


def test_portal_document_shape() -> None:
    assert BIRTH_BUNDLE.route is not None
    d = received(BIRTH_BUNDLE)
    lc.transfer(d, ctx(at(12, 9, 30), OFFICER), d.handling)  # type: ignore[arg-type]
    lc.start_processing(d, ctx(at(12, 10)), BIRTH_BUNDLE.route)
    assert portal_status(d) == "interoperating"
    assert portal_status(d, {"processing": "processing"}) == "processing"
    doc = portal_document(d)
    assert doc["MaHoSo"] == d.code and doc["MaTTHC"] == "2.002621" and doc["KenhThucHien"] == 1
    assert doc["NgayTiepNhan"] == "20260112090000" and doc["TrangThaiHoSo"] == "interoperating"
    assert [h["DenTrangThai"] for h in doc["QuaTrinhXuLy"]] == ["received", "transferred", "processing"]
    assert doc["QuaTrinhXuLy"][1]["TrangThaiQuocGia"] == "processing"


# ---- lookup second factor and the rate limiter --------------------------------------------------


def test_second_factor_is_the_last_four_digits_of_phone_or_id() -> None:
    d = received()
    assert factor_matches(d, "4321") and factor_matches(d, "4567")
    assert not factor_matches(d, "0000")


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    bucket = TokenBucket.per_minute(6, 2, clock=lambda: now[0])
    assert bucket.take("a") is None and bucket.take("a") is None
    wait = bucket.take("a")
    assert wait is not None and 9.9 < wait <= 10.0
    assert bucket.take("b") is None  # per client
    now[0] = 10.0
    assert bucket.take("a") is None
    with pytest.raises(RateLimited):
        bucket.check("a")


def test_client_address_trusts_forwarded_for_only_from_trusted_proxies() -> None:
    from services.intake.lookup import LookupService

    svc = LookupService(None, None, TokenBucket(1, 1), ["127.0.0.1"])  # type: ignore[arg-type]
    assert svc.client_address("198.51.100.9", "203.0.113.7") == "198.51.100.9"
    assert svc.client_address("127.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert svc.client_address("127.0.0.1", "10.0.0.1, 203.0.113.7, 127.0.0.1") == "203.0.113.7"
    assert svc.client_address("127.0.0.1", None) == "127.0.0.1"


# ---- registry folding and report shares -------------------------------------------------------


def test_names_are_folded_without_diacritics() -> None:
    assert fold("  Nguyễn   Văn Ánh ") == "nguyen van anh"
    assert fold("Đặng Thị Đào") == "dang thi dao"
    d = received()
    assert applicant_key(d.applicant.model_dump()) == "id:089203004567"
    entry = registry_entry(d.to_document())
    assert entry is not None
    assert entry["_id"] == d.id and entry["key"] == "id:089203004567"
    assert entry["name_folded"] == "nguyen van an" and entry["units"] == ["30307", "91"]


def test_report_rates_have_one_decimal_and_no_division_by_zero() -> None:
    assert share(1, 3) == 33.3 and share(0, 0) is None
    r = rates({"early": 1, "on_time": 1, "late": 1, "received": 4, "online": 1, "paid": 0})
    assert r["late_rate"] == 33.3 and r["online_share"] == 25.0 and r["paid_online_share"] is None


def test_intake_consumers_point_at_existing_streams_with_unique_durables() -> None:
    from services.contracts.consumers import ALL_CONSUMERS
    from services.contracts.intake_consumers import INTAKE_CONSUMERS
    from services.contracts.streams import ALL_STREAMS, stream_for_subject

    names = {s.name for s in ALL_STREAMS}
    durables = [c.durable for c in ALL_CONSUMERS]
    assert len(durables) == len(set(durables))
    assert set(INTAKE_CONSUMERS) <= set(ALL_CONSUMERS)
    for consumer in INTAKE_CONSUMERS:
        assert consumer.stream in names and consumer.service == "intake"
        assert all(stream_for_subject(s).name == consumer.stream for s in consumer.subjects)


def test_every_published_dossier_event_is_on_the_dossier_stream() -> None:
    from services.contracts.streams import stream_for_subject
    from services.intake.events_out import PUBLISHED_EVENTS

    assert {stream_for_subject(e.subject).name for e in PUBLISHED_EVENTS} == {"DOSSIER"}
    assert {e.subject for e in PUBLISHED_EVENTS} >= {"dossier.transferred", "dossier.step_late", "dossier.late"}
