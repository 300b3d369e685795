"""Procedure catalogue (danh mục thủ tục hành chính). Pure: pydantic models, no I/O.

A procedure carries what the counter needs: the dossier components to check (thành phần hồ sơ),
form fields an officer can fill in for the citizen on No-writing day (Ngày không viết), the
statutory processing time in working days or working hours, fees (phí, lệ phí, cước bưu chính),
the channels it can be submitted through, the counter models it is eligible for, and — for
inter-agency procedures (liên thông) — the route between bodies.
"""

from __future__ import annotations

import re
from collections import Counter as _Multiset
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_serializer, field_validator

from services.intake.model.units import AdminLevel

__all__ = [
    "HOURS_PER_WORKING_DAY",
    "PROCEDURE_CODE_RE",
    "BodyKind",
    "CompetentBody",
    "Component",
    "ComponentKind",
    "Fee",
    "FeeKind",
    "FormField",
    "FormFieldType",
    "InterAgencyRoute",
    "Procedure",
    "ProcedureCatalogue",
    "ProcessingTime",
    "RouteMode",
    "RouteStep",
    "ServiceChannel",
    "ServiceModels",
    "TimeUnit",
    "UnknownProcedureError",
    "validate_catalogue",
]

# 07:00–11:30 + 13:30–17:00 (DOMAIN §5); used only to compare hours with day-based route steps.
HOURS_PER_WORKING_DAY = 8

# National database code: "1.001193"; provincial variants append suffixes ("1.001193.000.00.00.H01").
PROCEDURE_CODE_RE = re.compile(r"^\d+\.\d{6}(?:[.\-][0-9A-Za-z]+)*$")

_ID_RE = r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$"


class TimeUnit(StrEnum):
    WORKING_DAYS = "working_days"  # ngày làm việc
    WORKING_HOURS = "working_hours"  # giờ làm việc


class ProcessingTime(BaseModel):
    """Statutory processing time (thời hạn giải quyết)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: int | float = Field(gt=0)
    unit: TimeUnit = TimeUnit.WORKING_DAYS
    note: str = Field(default="", description="Nguyên văn quy định, ví dụ 'Ngay trong ngày…'")

    def in_working_days(self) -> float:
        if self.unit is TimeUnit.WORKING_HOURS:
            return self.value / HOURS_PER_WORKING_DAY
        return float(self.value)


class BodyKind(StrEnum):
    """Kind of competent body (cơ quan có thẩm quyền)."""

    PEOPLES_COMMITTEE = "peoples_committee"  # Ủy ban nhân dân
    DEPARTMENT = "department"  # Sở / cơ quan chuyên môn thuộc UBND
    POLICE = "police"  # Công an
    TAX = "tax"  # Cơ quan thuế
    SOCIAL_INSURANCE = "social_insurance"  # Bảo hiểm xã hội
    LAND_REGISTRATION = "land_registration"  # Văn phòng đăng ký đất đai
    OTHER = "other"


class CompetentBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: BodyKind
    level: AdminLevel


class ComponentKind(StrEnum):
    """How a dossier component must be supplied."""

    ORIGINAL = "original"  # bản chính
    COPY = "copy"  # bản sao (đối chiếu bản chính)
    CERTIFIED_COPY = "certified_copy"  # bản sao có chứng thực / bản sao từ sổ gốc
    PRESENT_ORIGINAL = "present_original"  # xuất trình bản chính (không nộp)


class Component(BaseModel):
    """A dossier component (thành phần hồ sơ)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_RE)
    name: str = Field(min_length=1)
    kind: ComponentKind
    count: int = Field(default=1, ge=1)
    mandatory: bool = True
    reusable_digitised: bool = Field(
        default=False, description="Có thể dùng lại bản điện tử đã số hóa (kho dữ liệu, CSDL dân cư)"
    )
    note: str = ""


class FormFieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    DATE = "date"
    NUMBER = "number"
    SELECT = "select"
    CHECKBOX = "checkbox"
    CITIZEN_ID = "citizen_id"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class FormField(BaseModel):
    """A field of the application form, for assisted filling (viết hộ)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, description="Nhãn tiếng Việt như trên tờ khai")
    type: FormFieldType = FormFieldType.TEXT
    required: bool = False
    options: list[str] = Field(default_factory=list)


class FeeKind(StrEnum):
    FEE = "fee"  # phí
    DUTY = "duty"  # lệ phí
    POSTAL = "postal"  # cước dịch vụ bưu chính

    @property
    def label(self) -> str:
        return {"fee": "Phí", "duty": "Lệ phí", "postal": "Cước bưu chính"}[self.value]


class Fee(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FeeKind
    name: str = Field(min_length=1)
    amount: int = Field(ge=0, description="VND")
    basis: str = Field(default="", description="Đơn vị tính: 'trang', 'bản', 'hồ sơ', …")
    exemptions: str = Field(default="", description="Miễn, giảm")


class ServiceChannel(StrEnum):
    """Ways a procedure can be submitted (cách thức thực hiện)."""

    COUNTER = "counter"  # trực tiếp
    ONLINE_FULL = "online_full"  # trực tuyến toàn trình
    ONLINE_PARTIAL = "online_partial"  # trực tuyến một phần
    POSTAL = "postal"  # qua dịch vụ bưu chính công ích


class ServiceModels(BaseModel):
    """Eligibility for the counter models of DOMAIN §1 (lists issued by the province)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    eligible_no_writing: bool = False  # Ngày không viết
    eligible_no_appointment: bool = False  # Ngày không hẹn (cấp xã)
    no_writing_forbidden_by_law: bool = False  # pháp luật không cho viết hộ


class RouteMode(StrEnum):
    PARALLEL = "parallel"  # điện tử: gửi đồng thời, có cơ quan chủ trì
    SEQUENTIAL = "sequential"  # giấy: chuyển lần lượt, mỗi bước một thời hạn


class RouteStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    body: str = Field(min_length=1)
    task: str = ""
    deadline_working_days: int | float = Field(gt=0)


class InterAgencyRoute(BaseModel):
    """Inter-agency route (quy trình liên thông)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: RouteMode
    lead_body: str | None = None
    steps: list[RouteStep] = Field(min_length=1)


class Procedure(BaseModel):
    """An administrative procedure (thủ tục hành chính)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str = Field(min_length=1)
    field_code: str = Field(min_length=1)
    level: AdminLevel
    competent_body: CompetentBody
    components: list[Component] = Field(default_factory=list)
    form_fields: list[FormField] = Field(default_factory=list)
    processing_time: ProcessingTime
    fees: list[Fee] = Field(default_factory=list)
    channels: frozenset[ServiceChannel] = Field(min_length=1)
    models: ServiceModels = Field(default_factory=ServiceModels)
    route: InterAgencyRoute | None = None
    result: str = Field(default="", description="Kết quả thực hiện")
    legal_basis: list[str] = Field(default_factory=list)
    notes: str = ""

    @field_validator("code")
    @classmethod
    def _check_code(cls, value: str) -> str:
        value = value.strip()
        if not PROCEDURE_CODE_RE.match(value):
            raise ValueError(f"procedure code {value!r} must look like '1.001193'")
        return value

    @field_serializer("channels")
    def _serialize_channels(self, channels: frozenset[ServiceChannel]) -> list[str]:
        order = list(ServiceChannel)
        return [c.value for c in sorted(channels, key=order.index)]

    def total_fee(self) -> int:
        """Sum of the fixed amounts (per-page or per-copy bases are counted once)."""
        return sum(f.amount for f in self.fees)

    def problems(self) -> list[str]:
        """Consistency problems of this procedure alone (see `validate_catalogue`)."""
        out: list[str] = []
        where = f"procedure {self.code}"
        ids = [c.id for c in self.components]
        for dup in sorted(k for k, n in _Multiset(ids).items() if n > 1):
            out.append(f"{where}: duplicate component id {dup}")
        names = [f.name for f in self.form_fields]
        for dup in sorted(k for k, n in _Multiset(names).items() if n > 1):
            out.append(f"{where}: duplicate form field {dup}")
        for ff in self.form_fields:
            if ff.type is FormFieldType.SELECT and not ff.options:
                out.append(f"{where}: select field {ff.name} has no options")
        if self.models.eligible_no_writing and self.models.no_writing_forbidden_by_law:
            out.append(f"{where}: eligible for No-writing day but the law forbids writing on behalf")
        route = self.route
        if route is not None:
            total = self.processing_time.in_working_days()
            bodies = [s.body for s in route.steps]
            if route.mode is RouteMode.PARALLEL:
                if not route.lead_body:
                    out.append(f"{where}: a parallel route needs a lead body")
                elif route.lead_body not in bodies:
                    out.append(f"{where}: lead body {route.lead_body!r} is not one of the route steps")
                for step in route.steps:
                    if step.deadline_working_days > total + 1e-9:
                        out.append(
                            f"{where}: step {step.body!r} takes {step.deadline_working_days} working days, "
                            f"more than the total processing time ({_fmt(total)})"
                        )
            else:
                if route.lead_body and route.lead_body not in bodies:
                    out.append(f"{where}: lead body {route.lead_body!r} is not one of the route steps")
                spent = sum(s.deadline_working_days for s in route.steps)
                if spent > total + 1e-9:
                    out.append(
                        f"{where}: sequential steps take {_fmt(spent)} working days, "
                        f"more than the total processing time ({_fmt(total)})"
                    )
        return out


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class UnknownProcedureError(KeyError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"unknown procedure code {self.code!r}"


class ProcedureCatalogue(BaseModel):
    """The procedures offered, with lookups by code, field and level."""

    model_config = ConfigDict(extra="forbid")

    source: str = ""
    note: str = ""
    procedures: list[Procedure] = Field(default_factory=list)

    _by_code: dict[str, Procedure] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        index: dict[str, Procedure] = {}
        for p in self.procedures:
            index.setdefault(p.code, p)
        self._by_code = index

    def __len__(self) -> int:
        return len(self.procedures)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Procedure:
        try:
            return self._by_code[code.strip()]
        except KeyError:
            raise UnknownProcedureError(code) from None

    def by_field(self, field_code: str) -> list[Procedure]:
        return [p for p in self.procedures if p.field_code == field_code]

    def by_level(self, level: AdminLevel | str) -> list[Procedure]:
        wanted = AdminLevel(level)
        return [p for p in self.procedures if p.level is wanted]

    def eligible_no_writing(self) -> list[Procedure]:
        return [p for p in self.procedures if p.models.eligible_no_writing]

    def eligible_no_appointment(self) -> list[Procedure]:
        return [p for p in self.procedures if p.models.eligible_no_appointment]

    def field_codes(self) -> set[str]:
        return {p.field_code for p in self.procedures}

    def validate_problems(self, known_fields: set[str] | None = None) -> list[str]:
        return validate_catalogue(self, known_fields)


def validate_catalogue(catalogue: ProcedureCatalogue, known_fields: set[str] | None = None) -> list[str]:
    """Consistency problems of the whole catalogue, human-readable.

    Checks unique codes, per-procedure rules (`Procedure.problems`: route lead body among the
    steps for parallel routes, sequential deadlines within the total time, …) and, when
    ``known_fields`` is given, that every field code exists (fields live in the unit data file).
    """
    problems: list[str] = []
    counts = _Multiset(p.code for p in catalogue.procedures)
    for code in sorted(c for c, n in counts.items() if n > 1):
        problems.append(f"procedure {code}: duplicate code ({counts[code]} entries)")
    for p in catalogue.procedures:
        problems.extend(p.problems())
        if known_fields is not None and p.field_code not in known_fields:
            problems.append(f"procedure {p.code}: unknown field {p.field_code}")
    return problems
