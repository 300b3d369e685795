"""Satisfaction ratings (đánh giá mức độ hài lòng) and the Circular-01 indicators. Pure.

Levels seen in practice: very satisfied / satisfied / unsatisfied. Circular 01/2018 Arts. 13–15
(DOMAIN §8): nine indicators scored 0, 1 or 2, averaged per dossier to one decimal. Two of them
can be derived from the dossier itself when the applicant does not answer: the total time
(early 2, on time 1, late 0) and each agency's time (every inter-agency step on time 2, one
late 1, more 0).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.model.dossier import Dossier, StepStatus


class SatisfactionLevel(StrEnum):
    VERY_SATISFIED = "very_satisfied"  # rất hài lòng
    SATISFIED = "satisfied"  # hài lòng
    UNSATISFIED = "unsatisfied"  # không hài lòng


class RatingSource(StrEnum):
    DEVICE = "device"  # thiết bị đánh giá tại quầy
    ONLINE = "online"  # trực tuyến
    PAPER = "paper"  # phiếu giấy (nhập lại)


# Circular 01/2018/TT-VPCP, Art. 13: the nine indicators (key → Vietnamese label).
INDICATORS: dict[str, str] = {
    "total_time": "Tổng thời gian giải quyết so với quy định",
    "agency_time": "Thời gian thực hiện của từng cơ quan, đơn vị",
    "contacts": "Số lần phải liên hệ để hoàn thiện hồ sơ",
    "agencies_contacted": "Số cơ quan, đơn vị phải liên hệ",
    "counter_model": "Thực hiện theo cơ chế một cửa, một cửa liên thông",
    "publicity": "Công khai thủ tục hành chính",
    "staff_attitude": "Thái độ của cán bộ, công chức",
    "feedback_handling": "Tiếp thu, giải trình phản ánh, kiến nghị",
    "online_service": "Cung cấp dịch vụ công trực tuyến",
}


class RatingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: SatisfactionLevel
    indicators: dict[str, int] = Field(default_factory=dict, description="Circular-01 indicator → 0, 1 or 2")
    comment: str = Field(default="", max_length=2000)

    @field_validator("indicators")
    @classmethod
    def _scores(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(INDICATORS))
        if unknown:
            raise ValueError(f"unknown indicator(s): {', '.join(unknown)}; known: {', '.join(INDICATORS)}")
        bad = sorted(k for k, v in value.items() if v not in (0, 1, 2))
        if bad:
            raise ValueError(f"indicators are scored 0, 1 or 2: {', '.join(bad)}")
        return value


def derived_indicators(d: Dossier) -> dict[str, int]:
    """Indicators the system knows from the dossier (used when the applicant gives none)."""
    out: dict[str, int] = {}
    if d.timeliness in ("early", "on_time", "late"):
        out["total_time"] = {"early": 2, "on_time": 1, "late": 0}[d.timeliness]
    done = [s for s in d.steps if s.status is StepStatus.DONE]
    if done:
        late = sum(1 for s in done if s.due_at is not None and s.completed_at is not None and s.completed_at > s.due_at)
        out["agency_time"] = 2 if late == 0 else (1 if late == 1 else 0)
    return out


def score(indicators: dict[str, int]) -> float | None:
    """Average of the answered indicators, one decimal (None when none answered)."""
    if not indicators:
        return None
    return round(sum(indicators.values()) / len(indicators) + 1e-9, 1)
