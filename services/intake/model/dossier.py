"""The dossier (hồ sơ) and its reception rules. Pure: no I/O, time comes in as an argument."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from services.intake.model.calendar import Pause


class DossierStatus(StrEnum):
    """Status codes seen in a provincial system (DOMAIN §3), with their national-portal string."""

    REGISTERED = "registered"  # 1 — đã đăng ký trực tuyến, chưa tiếp nhận
    RECEIVED = "received"  # 2 — đã tiếp nhận
    TRANSFERRED = "transferred"  # 2b — đã chuyển cơ quan có thẩm quyền
    NOT_RECEIVED = "not_received"  # 3 — không tiếp nhận (từ chối / yêu cầu bổ sung tại quầy)
    PROCESSING = "processing"  # 4 — đang xử lý
    SUPPLEMENT_REQUESTED = "supplement_requested"  # 5 — yêu cầu bổ sung
    AWAITING_PAYMENT = "awaiting_payment"  # 6 — chờ thanh toán
    WITHDRAWN = "withdrawn"  # 7 — rút hồ sơ
    SUSPENDED = "suspended"  # 8 — tạm dừng
    RESOLVED = "resolved"  # 9 — đã giải quyết
    REFUSED = "refused"  # 9b — từ chối giải quyết sau thẩm định
    RESULT_READY = "result_ready"  # 9c — có kết quả, chờ trả
    RETURNED = "returned"  # 10 — đã trả kết quả


class Channel(StrEnum):
    """Reception channel (kênh tiếp nhận); national-portal numbering 1/2/3."""

    COUNTER = "counter"
    ONLINE = "online"
    POSTAL = "postal"


_CODE_RE = re.compile(r"^(?P<unit>[0-9A-Z]+(?:\.[0-9A-Z]+)*)-(?P<date>\d{6})-(?P<seq>\d{4})$")


def dossier_code_prefix(receiving_unit_id: str, received_at: datetime) -> str:
    """`<receiving unit identifier>-<YYMMDD>-`: what one unit's codes of one day share."""
    return f"{receiving_unit_id}-{received_at:%y%m%d}-"


def format_dossier_code(receiving_unit_id: str, received_at: datetime, sequence: int) -> str:
    """`<receiving unit identifier>-<YYMMDD>-<NNNN>` (DOMAIN §4); the date is the local reception day."""
    if not 1 <= sequence <= 9999:
        raise ValueError(f"daily sequence {sequence} is outside 1..9999")
    return f"{dossier_code_prefix(receiving_unit_id, received_at)}{sequence:04d}"


class DossierCodeTaken(Exception):
    """The code given to a dossier is already used (another process numbered the same day and
    unit): the store refuses it, and the reception is numbered again."""

    def __init__(self, code: str) -> None:
        super().__init__(f"dossier code {code} is already taken")
        self.code = code


def parse_dossier_code(code: str) -> tuple[str, str, int] | None:
    m = _CODE_RE.match(code.strip().upper())
    if not m:
        return None
    return m.group("unit"), m.group("date"), int(m.group("seq"))


class StatusChange(BaseModel):
    """One line of the process control slip (phiếu kiểm soát quá trình, form 05)."""

    at: datetime
    from_status: DossierStatus | None
    to_status: DossierStatus
    actor: str
    role: str = ""
    unit_code: str = ""
    note: str = ""
    action: str = Field(default="", description="Lifecycle action that caused the line (empty for reception)")
    holder: str = Field(default="", description="Who holds the dossier after this step")


class ApplicantContactInfo(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None


class DossierComponent(BaseModel):
    component_id: str
    name: str
    kind: str
    count: int = 1
    provided: bool = True
    document_id: str | None = None
    digitised: bool = False
    reused: bool = False


class ApplicantRecord(BaseModel):
    """The applicant as stored (personal data: read through audited endpoints only)."""

    kind: str
    name: str
    id_number: str | None = None
    id_masked: str = ""
    birth_year: int | None = None
    gender: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str = ""
    organisation: dict[str, str] | None = None


class ActorRef(BaseModel):
    subject: str
    name: str = ""
    role: str = ""
    unit_code: str = ""


class NoWritingRecord(BaseModel):
    """Ngày không viết: who filled the forms; how the applicant confirmed; no writing fee."""

    filled_by: ActorRef
    applicant_confirmation: str
    writing_fee: int = 0


class MissingRecord(BaseModel):
    name: str
    reason: str


class Handling(BaseModel):
    """The competent body (cơ quan có thẩm quyền) a dossier is routed to, and where it sits."""

    body_name: str
    body_kind: str = ""
    level: str
    unit_code: str
    unit_name: str = ""
    unit_path: list[str]
    since: datetime | None = Field(default=None, description="When the body received the dossier")


class RoutingRecord(BaseModel):
    """One hand-over between bodies: a transfer, or the forwarding of a misdirected dossier."""

    at: datetime
    kind: str = Field(description="transfer | forward")
    from_unit: str
    to_unit: str
    to_body: str
    actor: str
    reason: str = ""
    on_time: bool = True


class StepStatus(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    DONE = "done"


class InterAgencyStep(BaseModel):
    """One body's part of an inter-agency (liên thông) procedure."""

    index: int
    body: str
    task: str = ""
    deadline_working_days: float
    lead: bool = False
    status: StepStatus = StepStatus.WAITING
    started_at: datetime | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str = ""
    note: str = ""
    late_flagged_at: datetime | None = None


class SupplementRequest(BaseModel):
    """A supplement asked by the competent body during processing (form 02)."""

    requested_at: datetime
    requested_by: ActorRef
    missing: list[MissingRecord]
    completed_at: datetime | None = None


class Apology(BaseModel):
    """Apology and new appointment (form 04): at most once per dossier."""

    at: datetime
    actor: ActorRef
    reason: str
    previous_due_at: datetime
    new_due_at: datetime


class ResultRecord(BaseModel):
    ready_at: datetime | None = None
    pickup_place: str = ""
    pager_number: str | None = None
    document_id: str | None = None
    digitised: bool = False
    digitised_at: datetime | None = None


class ReturnRecord(BaseModel):
    at: datetime
    via: str = Field(description="counter | postal")
    actor: ActorRef
    note: str = ""


class PaymentState(BaseModel):
    """The latest payment status seen on the bus (payments service)."""

    status: str
    intent_id: str | None = None
    channel: str | None = None
    amount: int | None = None
    paid_at: datetime | None = None
    receipt_no: str | None = None
    updated_at: datetime


class ShipmentState(BaseModel):
    """The latest postal shipment status seen on the bus (postal service)."""

    status: str
    subject: str
    kind: str | None = Field(default=None, description="pickup (papers to the office) | delivery (result)")
    shipment_id: str | None = None
    tracking_number: str | None = None
    at: datetime | None = Field(default=None, description="When the status happened (postal's / the operator's time)")
    updated_at: datetime


class Dossier(BaseModel):
    """Hồ sơ — one application for one procedure."""

    id: str
    code: str | None = None
    reference: str = Field(description="Stable reference, also for dossiers that were not received")
    status: DossierStatus
    channel: Channel
    office_id: str
    office_name: str
    receiving_unit_id: str
    unit_code: str
    unit_path: list[str]
    procedure_code: str
    procedure_name: str
    field_code: str
    procedure_level: str
    applicant: ApplicantRecord
    components: list[DossierComponent] = Field(default_factory=list)
    form_data: dict[str, object] = Field(default_factory=dict)
    missing: list[MissingRecord] = Field(default_factory=list)
    refusal_reason: str | None = None
    no_writing: NoWritingRecord | None = None
    no_appointment: bool = False
    print_slip: bool = True
    return_channel: str = "counter"
    fees_due: list[dict[str, object]] = Field(default_factory=list)
    registered_at: datetime | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None
    processing_time: dict[str, object] | None = None
    transfer_deadline: datetime | None = None
    received_by: ActorRef | None = None
    postal_reception_id: str | None = Field(
        default=None, description="Postal's pickup or agent's counter reception, when postal staff received it"
    )
    history: list[StatusChange] = Field(default_factory=list)
    version: int = 1
    created_at: datetime
    # ---- processing (Intake II) ----------------------------------------------------------
    handling: Handling | None = None
    routing: list[RoutingRecord] = Field(default_factory=list)
    route_mode: str | None = None
    lead_body: str | None = None
    steps: list[InterAgencyStep] = Field(default_factory=list)
    clock_start: datetime | None = Field(default=None, description="Where the processing period counts from")
    statutory_due_at: datetime | None = Field(default=None, description="Legal due moment (pauses, restarts)")
    pauses: list[Pause] = Field(default_factory=list)
    resume_status: DossierStatus | None = None
    supplements: list[SupplementRequest] = Field(default_factory=list)
    apology: Apology | None = None
    late: bool = False
    late_since: datetime | None = None
    late_flagged_at: datetime | None = None
    finished_at: datetime | None = None
    timeliness: str | None = None
    status_reason: str | None = None
    result: ResultRecord | None = None
    returned: ReturnRecord | None = None
    payment: PaymentState | None = None
    shipment: ShipmentState | None = None
    shipments: list[ShipmentState] = Field(default_factory=list, description="Every shipment status seen, in order")
    anonymised_at: datetime | None = Field(default=None, description="Personal data erased (deletion request)")

    def access_path(self) -> list[str]:
        """Units allowed to see the dossier: the receiving unit's path and the handling body's."""
        path = list(self.unit_path)
        if self.handling is not None:
            path += [u for u in self.handling.unit_path if u not in path]
        return path

    def to_document(self) -> dict[str, object]:
        doc = self.model_dump(mode="python")
        doc["_id"] = doc.pop("id")
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, object]) -> Dossier:
        data = dict(doc)
        data["id"] = data.pop("_id")
        return cls.model_validate(data)


STATUS_LABELS_VI: dict[DossierStatus, str] = {
    DossierStatus.REGISTERED: "Đã đăng ký trực tuyến",
    DossierStatus.RECEIVED: "Đã tiếp nhận",
    DossierStatus.TRANSFERRED: "Đã chuyển cơ quan giải quyết",
    DossierStatus.NOT_RECEIVED: "Không tiếp nhận",
    DossierStatus.PROCESSING: "Đang xử lý",
    DossierStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    DossierStatus.AWAITING_PAYMENT: "Chờ thanh toán",
    DossierStatus.WITHDRAWN: "Đã rút hồ sơ",
    DossierStatus.SUSPENDED: "Tạm dừng",
    DossierStatus.RESOLVED: "Đã giải quyết",
    DossierStatus.REFUSED: "Từ chối giải quyết",
    DossierStatus.RESULT_READY: "Có kết quả, chờ trả",
    DossierStatus.RETURNED: "Đã trả kết quả",
}
