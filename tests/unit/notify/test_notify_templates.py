"""Templates: the shipped defaults, rendering, and every way a template is refused when saved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.model.common import Channel
from services.notify.model.templates import TEMPLATES, ZNS_PARAM_MAX, TemplateProblem, render, validate
from services.notify.service.templates import load_default_sources

EMAIL = """{% block subject %}Hồ sơ {{ dossier_code }}{% endblock %}
{% block body %}Kính gửi {{ recipient_name }}, hẹn trả {{ due_at | vn_datetime }}.{% endblock %}"""


def test_every_shipped_default_renders_with_its_sample_variables() -> None:
    defaults = load_default_sources()
    assert len(defaults) >= 28
    assert {key for key, _ in defaults} == set(TEMPLATES)
    for (key, channel), source in defaults.items():
        message = validate(key, channel, source)
        assert message.body, (key, channel)
    # every applicant notice exists on every channel
    for key in ("dossier_received", "late_apology", "result_ready", "payment_receipt", "shipment_update"):
        assert {c for k, c in defaults if k == key} == set(Channel)


def test_email_renders_subject_and_body_in_vietnam_time() -> None:
    message = render(
        EMAIL,
        Channel.EMAIL,
        {"dossier_code": "X-1", "recipient_name": "Nguyễn Văn A", "due_at": datetime(2026, 1, 14, 10, tzinfo=UTC)},
    )
    assert message.subject == "Hồ sơ X-1"
    assert message.body == "Kính gửi Nguyễn Văn A, hẹn trả 17 giờ 00 phút, ngày 14/01/2026."


def test_filters_tolerate_missing_values() -> None:
    message = render(EMAIL, Channel.EMAIL, {"dossier_code": "X", "recipient_name": "A", "due_at": None})
    assert message.body == "Kính gửi A, hẹn trả ."


def test_sms_is_sent_without_diacritics_by_default() -> None:
    source = "{% block body %}Hồ sơ {{ dossier_code }} đã được tiếp nhận{% endblock %}"
    assert render(source, Channel.SMS, {"dossier_code": "X"}).body == "Ho so X da duoc tiep nhan"
    kept = render(source, Channel.SMS, {"dossier_code": "X"}, sms_strip_diacritics=False)
    assert kept.body == "Hồ sơ X đã được tiếp nhận"


def test_zalo_parameters_come_from_param_blocks_and_are_cut_when_sending() -> None:
    source = (
        "{% block zns_template_id %} 12345 {% endblock %}{% block param_code %}{{ dossier_code }}{% endblock %}"
        "{% block param_long %}{{ 'x' * 300 }}{% endblock %}{% block body %}Mã {{ dossier_code }}{% endblock %}"
    )
    message = render(source, Channel.ZALO, {"dossier_code": "X-9"})
    assert message.zns_template_id == "12345"
    assert message.params["code"] == "X-9" and len(message.params["long"]) == ZNS_PARAM_MAX
    with pytest.raises(TemplateProblem) as problem:
        render(source, Channel.ZALO, {"dossier_code": "X-9"}, strict_limits=True)
    assert problem.value.code == "template_too_long" and problem.value.block == "param_long"


@pytest.mark.parametrize(
    ("channel", "source", "code"),
    [
        (
            Channel.EMAIL,
            "{% block subject %}A{% endblock %}{% block body %}{{ dossier_code {% endblock %}",
            "template_syntax_error",
        ),
        (Channel.EMAIL, "{% block body %}{{ dossier_code }}{% endblock %}", "template_missing_block"),
        (Channel.SMS, "{% block body %}{{ no_such_variable }}{% endblock %}", "template_undefined_variable"),
        (Channel.SMS, "{% block body %}{{ ''.__class__.__mro__ }}{% endblock %}", "template_unsafe"),
        (Channel.SMS, "{% block body %}{{ 1 / 0 }}{% endblock %}", "template_render_error"),
        (Channel.SMS, "{% block body %}   {% endblock %}", "template_empty"),
        (Channel.SMS, "{% block body %}{{ procedure_name * 40 }}{% endblock %}", "template_too_long"),
        (
            Channel.ZALO,
            "{% block zns_template_id %}1{% endblock %}{% block body %}x{% endblock %}",
            "template_missing_block",
        ),
    ],
)
def test_bad_templates_are_refused_with_a_stable_code(channel: Channel, source: str, code: str) -> None:
    with pytest.raises(TemplateProblem) as problem:
        validate("dossier_received", channel, source)
    assert problem.value.code == code


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateProblem) as problem:
        validate("dossier_received", Channel.SMS, "{% block body %}\nok\n{% if %}\n{% endblock %}")
    assert problem.value.line == 3


def test_variables_are_checked_against_the_notice_they_belong_to() -> None:
    source = "{% block body %}{{ amount | vnd }}{% endblock %}"
    assert validate("payment_receipt", Channel.SMS, source).body == "58.000 dong"
    with pytest.raises(TemplateProblem) as problem:
        validate("dossier_received", Channel.SMS, source)  # a receipt has no amount
    assert problem.value.code == "template_undefined_variable"
    with pytest.raises(TemplateProblem) as unknown:
        validate("no_such_notice", Channel.SMS, source)
    assert unknown.value.code == "template_unknown"


class _CountingRepo:
    """A template store that counts lookups (the service layer's fake)."""

    def __init__(self) -> None:
        self.lookups = 0
        self.saved: list[dict[str, object]] = []

    async def active_for_path(self, key: str, channel: str, unit_path: list[str]) -> dict[str, object] | None:
        self.lookups += 1
        mine = [d for d in self.saved if d["key"] == key and d["channel"] == channel and d["unit_code"] in unit_path]
        return mine[-1] if mine else None

    async def add_version(self, doc: dict[str, object]) -> dict[str, object]:
        record = {**doc, "version": len(self.saved) + 1}
        self.saved.append(record)
        return record


async def test_the_applicable_template_is_looked_up_once_per_cache_period_and_a_save_clears_it() -> None:
    from services.notify.service.templates import TemplateService

    now = [0.0]
    repo = _CountingRepo()
    defaults = load_default_sources()
    service = TemplateService(repo, defaults, sms_strip_diacritics=True, cache_s=15, clock=lambda: now[0])  # type: ignore[arg-type]
    sample = TEMPLATES["dossier_received"].sample
    path = ["91", "30307"]
    first = await service.render("dossier_received", Channel.SMS, path, sample)
    await service.render("dossier_received", Channel.SMS, path, sample)
    assert first is not None and first.version == "default"
    assert repo.lookups == 1
    now[0] = 16.0  # another replica may have saved: look again after the period
    await service.render("dossier_received", Channel.SMS, path, sample)
    assert repo.lookups == 2
    source = defaults[("dossier_received", Channel.SMS)].replace("{% block body %}", "{% block body %}XA 30307 ", 1)
    await service.save(
        "dossier_received", Channel.SMS, "30307", source, user="admin", comment="", now=datetime.now(UTC)
    )
    after = await service.render("dossier_received", Channel.SMS, path, sample)
    assert after is not None and after.version == "30307:v1"
    assert "XA 30307" in after.message.body
