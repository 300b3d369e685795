"""Message templates (mẫu thông báo): Jinja2, per event and channel, in Vietnamese.

A template is one Jinja2 source with named blocks; each channel needs its own blocks:

- e-mail: `subject` (one line) and `body` (plain text);
- SMS: `body` (sent without diacritics by default: brand-name SMS is priced per 160-char GSM
  segment, 70 with Unicode);
- Zalo ZNS: `zns_template_id` (the template approved by Zalo for the OA), one `param_<name>`
  block per ZNS parameter, and `body` — the text shown in the delivery record and previews.

Text outside blocks is ignored. Templates run in Jinja2's sandbox with strict undefined
variables, and are validated when saved by rendering them with the sample variables of their
event, so a template that cannot render is refused at the desk of the administrator, not at
3 a.m. when the message goes out. Pure: the sources come in as strings.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field
from text_unidecode import unidecode

from services.notify.model.common import Channel, format_vn_date, format_vn_moment, format_vnd

SUBJECT_MAX = 200
SMS_MAX_GSM = 459  # 3 concatenated GSM-7 segments (153 each)
SMS_MAX_UNICODE = 201  # 3 concatenated UCS-2 segments (67 each)
ZNS_PARAM_MAX = 100  # ZNS parameters are short fields; longer values are cut when sending
BODY_MAX = 20_000

REQUIRED_BLOCKS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("subject", "body"),
    Channel.SMS: ("body",),
    Channel.ZALO: ("zns_template_id", "body"),
}


class TemplateProblem(Exception):
    """A template that cannot be used; `code` is stable (the API answers 422 with it)."""

    def __init__(self, code: str, message: str, *, line: int | None = None, block: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.block = block

    def details(self) -> dict[str, Any]:
        return {k: v for k, v in {"line": self.line, "block": self.block}.items() if v is not None}


class RenderedMessage(BaseModel):
    subject: str = ""
    body: str
    zns_template_id: str = ""
    params: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class TemplateInfo:
    """One template key: what it is for and the variables its events provide."""

    key: str
    title: str
    sample: dict[str, Any] = field(default_factory=dict)


def strip_diacritics(text: str) -> str:
    """`Hồ sơ đã được tiếp nhận` → `Ho so da duoc tiep nhan` (GSM-7 friendly)."""
    return unidecode(text)


def _as_moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _vn_datetime(value: Any) -> str:
    moment = _as_moment(value)
    return format_vn_moment(moment) if moment else ("" if value is None else str(value))


def _vn_date(value: Any) -> str:
    moment = _as_moment(value)
    return format_vn_date(moment) if moment else ("" if value is None else str(value))


def _vnd(value: Any) -> str:
    try:
        return format_vnd(int(value)) if value is not None and value != "" else ""
    except (TypeError, ValueError):
        return str(value)


def _make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, autoescape=False, auto_reload=False
    )
    env.filters.update(vn_datetime=_vn_datetime, vn_date=_vn_date, vnd=_vnd, unaccent=strip_diacritics)
    return env


_ENV = _make_env()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _one_line(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Compiling is most of a render's cost; templates change rarely (sources are the cache key)."""
    return _ENV.from_string(source)


def render(
    source: str,
    channel: Channel,
    variables: dict[str, Any],
    *,
    sms_strip_diacritics: bool = True,
    strict_limits: bool = False,
) -> RenderedMessage:
    """Render a template for one channel; raises TemplateProblem.

    `strict_limits` (when saving) refuses over-long output; when sending, ZNS parameters are
    cut to their limit instead and long SMS go out as more segments.
    """
    try:
        template = _compiled(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem("template_syntax_error", f"Syntax error: {exc.message}", line=exc.lineno) from exc
    blocks = dict(template.blocks)
    for name in REQUIRED_BLOCKS[channel]:
        if name not in blocks:
            raise TemplateProblem(
                "template_missing_block",
                f"A {channel} template needs a {{% block {name} %}}…{{% endblock %}}",
                block=name,
            )
    context = template.new_context(dict(variables))

    def block(name: str) -> str:
        try:
            return "".join(blocks[name](context))
        except UndefinedError as exc:
            raise TemplateProblem("template_undefined_variable", f"{exc.message}", block=name) from exc
        except SecurityError as exc:
            raise TemplateProblem("template_unsafe", f"Not allowed in a template: {exc}", block=name) from exc
        except TemplateError as exc:
            raise TemplateProblem("template_render_error", f"{exc}", block=name) from exc
        except Exception as exc:
            raise TemplateProblem("template_render_error", f"{type(exc).__name__}: {exc}", block=name) from exc

    body = _tidy(block("body"))
    if not body:
        raise TemplateProblem("template_empty", "The message body is empty", block="body")
    if len(body) > BODY_MAX:
        raise TemplateProblem("template_too_long", f"The body exceeds {BODY_MAX} characters", block="body")
    message = RenderedMessage(body=body)
    if channel is Channel.EMAIL:
        message.subject = _one_line(block("subject"))
        if not message.subject:
            raise TemplateProblem("template_empty", "The e-mail subject is empty", block="subject")
        if len(message.subject) > SUBJECT_MAX:
            raise TemplateProblem("template_too_long", f"The subject exceeds {SUBJECT_MAX} characters", block="subject")
    elif channel is Channel.SMS:
        if sms_strip_diacritics:
            message.body = strip_diacritics(message.body)
        limit = SMS_MAX_GSM if sms_strip_diacritics else SMS_MAX_UNICODE
        if strict_limits and len(message.body) > limit:
            raise TemplateProblem(
                "template_too_long",
                f"The SMS is {len(message.body)} characters with the sample data; keep it under {limit} "
                "(three segments)",
                block="body",
            )
    else:
        message.zns_template_id = _one_line(block("zns_template_id"))
        if not message.zns_template_id:
            raise TemplateProblem("template_empty", "The ZNS template id is empty", block="zns_template_id")
        names = [name for name in blocks if name.startswith("param_")]
        if not names:
            raise TemplateProblem(
                "template_missing_block", "A Zalo template needs at least one {% block param_<name> %}", block="param_"
            )
        for name in names:
            value = _one_line(block(name))
            if strict_limits and len(value) > ZNS_PARAM_MAX:
                raise TemplateProblem(
                    "template_too_long", f"ZNS parameters are limited to {ZNS_PARAM_MAX} characters", block=name
                )
            message.params[name.removeprefix("param_")] = value[:ZNS_PARAM_MAX]
    return message


def validate(key: str, channel: Channel, source: str, *, sms_strip_diacritics: bool = True) -> RenderedMessage:
    """Check a template before it is saved: it must render with its event's sample variables."""
    info = TEMPLATES.get(key)
    if info is None:
        raise TemplateProblem("template_unknown", f"No notice is called {key!r}")
    return render(source, channel, info.sample, sms_strip_diacritics=sms_strip_diacritics, strict_limits=True)


# ---- the template keys and their sample variables ------------------------------------------
_T0 = datetime(2026, 1, 13, 2, 15, tzinfo=UTC)  # 09:15 in Vietnam
_DUE = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
_LOOKUP = "https://motcua.example.gov.vn/tra-cuu/000.01.30.H01-260113-0042"

_DOSSIER: dict[str, Any] = {
    "recipient_name": "Nguyễn Văn An",
    "applicant_name": "Nguyễn Văn An",
    "dossier_code": "000.01.30.H01-260113-0042",
    "procedure_code": "1.001193",
    "procedure_name": "Đăng ký khai sinh",
    "office_id": "ttpvhcc-long-xuyen",
    "unit_code": "30307",
    "status": "processing",
    "status_label": "Đang xử lý",
    "channel": "counter",
    "return_channel": "counter",
    "due_at": _DUE,
    "lookup_url": _LOOKUP,
}

TEMPLATES: dict[str, TemplateInfo] = {
    info.key: info
    for info in (
        TemplateInfo(
            "dossier_received",
            "Tiếp nhận hồ sơ (giấy tiếp nhận và hẹn trả kết quả)",
            {
                **_DOSSIER,
                "status": "received",
                "status_label": "Đã tiếp nhận",
                "received_at": _T0,
                "no_appointment": False,
                "fees": [{"name": "Lệ phí", "amount": 8000}],
                "fees_total": 8000,
            },
        ),
        TemplateInfo(
            "supplement_requested",
            "Yêu cầu bổ sung, hoàn thiện hồ sơ",
            {
                **_DOSSIER,
                "status": "supplement_requested",
                "status_label": "Yêu cầu bổ sung",
                "missing": [{"name": "Tờ khai đăng ký khai sinh", "reason": "Thiếu chữ ký của người yêu cầu"}],
            },
        ),
        TemplateInfo(
            "late_apology",
            "Xin lỗi và hẹn lại ngày trả kết quả",
            {
                **_DOSSIER,
                "reason": "Cần xác minh thông tin với cơ quan khác",
                "previous_due_at": _DUE,
                "new_due_at": datetime(2026, 1, 23, 10, 0, tzinfo=UTC),
            },
        ),
        TemplateInfo(
            "result_ready",
            "Có kết quả giải quyết hồ sơ",
            {
                **_DOSSIER,
                "status": "resolved",
                "status_label": "Đã giải quyết",
                "pickup_place": "Quầy số 3, Trung tâm Phục vụ hành chính công",
                "pager_number": "A012",
            },
        ),
        TemplateInfo(
            "returned",
            "Đã trả kết quả",
            {
                **_DOSSIER,
                "status": "returned",
                "status_label": "Đã trả kết quả",
                "returned_via": "counter",
                "returned_at": _DUE,
            },
        ),
        TemplateInfo(
            "status_changed",
            "Thay đổi trạng thái hồ sơ",
            {
                **_DOSSIER,
                "status": "suspended",
                "status_label": "Tạm dừng",
                "from_status": "processing",
                "from_status_label": "Đang xử lý",
                "note": "Theo đề nghị của người nộp hồ sơ",
            },
        ),
        TemplateInfo(
            "payment_receipt",
            "Biên lai thu phí, lệ phí",
            {
                "recipient_name": "Nguyễn Văn An",
                "dossier_code": "000.01.30.H01-260113-0042",
                "amount": 58000,
                "receipt_no": "0000123",
                "receipt_url": "https://motcua.example.gov.vn/bien-lai/abc",
                "paid_at": _T0,
                "payment_channel": "vietqr",
                "intent_ref": "MC0042",
                "items": [
                    {"name": "Lệ phí hộ tịch", "amount": 8000, "kind": "fee"},
                    {"name": "Cước bưu chính", "amount": 50000, "kind": "postal"},
                ],
            },
        ),
        TemplateInfo(
            "shipment_update",
            "Cập nhật bưu gửi",
            {
                "recipient_name": "Nguyễn Văn An",
                "dossier_code": "000.01.30.H01-260113-0042",
                "shipment_status": "out_for_delivery",
                "shipment_status_label": "Đang phát",
                "tracking_code": "EB123456789VN",
                "event_at": _T0,
                "shipment": {"carrier": "VNPost"},
            },
        ),
        TemplateInfo(
            "postal_result_ready",
            "Báo nhân viên bưu điện nhận kết quả để phát",
            {
                **_DOSSIER,
                "recipient_name": "Trần Văn Bưu",
                "status": "resolved",
                "status_label": "Đã giải quyết",
                "pickup_place": "Quầy số 3",
                "applicant_phone": "0987654321",
            },
        ),
        TemplateInfo(
            "officer_reminder",
            "Nhắc cán bộ hồ sơ sắp đến hạn và quá hạn",
            {
                "recipient_name": "Lê Thị Thu",
                "office_id": "ttpvhcc-long-xuyen",
                "day": "2026-01-19",
                "due_soon": [
                    {
                        "dossier_code": "000.01.30.H01-260113-0042",
                        "procedure_name": "Đăng ký khai sinh",
                        "due_at": _DUE,
                        "status_label": "Đang xử lý",
                    }
                ],
                "late": [
                    {
                        "dossier_code": "000.01.30.H01-260105-0007",
                        "procedure_name": "Chứng thực bản sao",
                        "due_at": datetime(2026, 1, 16, 10, 0, tzinfo=UTC),
                        "status_label": "Đang xử lý",
                    }
                ],
                "count": 2,
            },
        ),
    )
}
