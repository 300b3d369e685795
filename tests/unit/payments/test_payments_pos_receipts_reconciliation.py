"""POS signatures and card hygiene, receipts (numbers, words, PDF), reconciliation rules."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pypdf
import pytest

from services.payments.model import pos, signatures
from services.payments.model import reconciliation as rec
from services.payments.model.intent import Actor, Channel, Item, Payer, PaymentIntent
from services.payments.model.receipt import amount_in_words, format_vnd, make_receipt, receipt_code
from services.payments.receipt_pdf import render_receipt

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PAN = "4111111111111111"


# ---- POS ------------------------------------------------------------------------------------
def test_terminal_signature_checks_body_secret_and_time() -> None:
    body = b'{"ref":"MC0123456789","amount":150000}'
    ts = int(NOW.timestamp())
    sig = signatures.sign_body("pos-secret", ts, body)
    assert signatures.verify_body("pos-secret", str(ts), body, sig, now=NOW)
    assert signatures.verify_body("pos-secret", str(ts), body, sig.upper(), now=NOW)
    assert not signatures.verify_body("pos-secret", str(ts), body.replace(b"150000", b"1"), sig, now=NOW)
    assert not signatures.verify_body("other", str(ts), body, sig, now=NOW)
    assert not signatures.verify_body("pos-secret", str(ts), body, sig, now=NOW + timedelta(minutes=10))  # replay
    assert not signatures.verify_body("pos-secret", None, body, sig, now=NOW)
    assert not signatures.verify_body("", str(ts), body, sig, now=NOW)


def test_card_data_is_stripped_at_any_depth() -> None:
    payload = {
        "ref": "MC0123456789", "amount": 150000, "status": "approved", "pan": PAN, "expiry": "12/29",
        "track2": f"{PAN}=2912101", "message": f"APPROVED card {PAN[:4]} {PAN[4:8]} {PAN[8:12]} {PAN[12:]}",
        "emv": {"card_number": PAN, "aid": "A0000000031010"}, "rrn": "000012345678",
    }
    clean = pos.strip_card_data(payload)
    text = json.dumps(clean)
    assert PAN not in text and PAN[:6] + "******" not in text and "2912101" not in text
    assert "************1111" in clean["message"]
    assert clean["rrn"] == "000012345678"  # 12 digits, not a card number: kept


def test_pos_result_keeps_last_four_only() -> None:
    result = pos.parse_result({"terminal_id": "POS-01", "sale_id": "S1", "ref": "MC0123456789", "amount": "150000",
                               "status": "APPROVED", "pan": PAN, "rrn": "000012345678", "approval_code": "123456"})
    assert result.approved and result.amount == 150000 and result.card_last4 == "1111"
    assert PAN not in json.dumps(result.stored())
    with pytest.raises(pos.PosPayloadError):
        pos.parse_result({"ref": "x"})
    with pytest.raises(pos.PosPayloadError):
        pos.parse_result({"terminal_id": "t", "sale_id": "s", "ref": "r", "amount": 1, "status": "maybe"})


def test_signed_links_expire() -> None:
    exp = int((NOW + timedelta(days=1)).timestamp())
    sig = signatures.sign_link("k", "intent-1", exp)
    assert signatures.verify_link("k", "intent-1", str(exp), sig, now=NOW)
    assert not signatures.verify_link("k", "intent-2", str(exp), sig, now=NOW)
    assert not signatures.verify_link("k", "intent-1", str(exp), sig, now=NOW + timedelta(days=2))


# ---- receipts -------------------------------------------------------------------------------
@pytest.mark.parametrize(("amount", "words"), [
    (0, "Không đồng"),
    (15, "Mười lăm đồng"),
    (21, "Hai mươi mốt đồng"),
    (105, "Một trăm linh năm đồng"),
    (25_000, "Hai mươi lăm nghìn đồng"),
    (150_000, "Một trăm năm mươi nghìn đồng"),
    (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
    (2_000_000, "Hai triệu đồng"),
    (1_234_567_890, "Một tỷ hai trăm ba mươi bốn triệu năm trăm sáu mươi bảy nghìn tám trăm chín mươi đồng"),
])
def test_amount_in_words(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words


def test_receipt_numbers_run_per_unit_and_vietnamese_year() -> None:
    assert receipt_code("30280", 2026, 42) == "30280-2026-0000042"
    new_year_eve_utc = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)  # 00:30 on 1/1/2026 in Vietnam
    assert make_receipt("30280", 1, new_year_eve_utc).series == "30280:2026"
    assert format_vnd(1_250_000) == "1.250.000 đ"


def test_receipt_pdf_has_vietnamese_text() -> None:
    intent = PaymentIntent.open(
        dossier_id="d1", dossier_code="000.00.12.H01-260302-0007", unit_code="30280", unit_path=["30280", "91"],
        payer=Payer(name="Nguyễn Thị Hương"), now=NOW, ttl=timedelta(minutes=15), procedure_name="Đăng ký khai sinh",
        items=[Item(kind="fee", name="Lệ phí đăng ký hộ tịch", amount=150_000)],
    )
    intent.pay(channel=Channel.CASH, amount=150_000, now=NOW, by=Actor(subject="c1", name="Lê Văn Thu"))
    intent.issue_receipt(make_receipt("30280", 7, NOW))
    pdf = render_receipt(intent, issuer_name="UBND phường Long Xuyên")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    for expected in ("BIÊN LAI THU PHÍ, LỆ PHÍ", "Nguyễn Thị Hương", "Một trăm năm mươi nghìn đồng", "0000007",
                     "Tiền mặt", "Lê Văn Thu", "150.000 đ", "Đăng ký khai sinh"):
        assert expected in text, expected
    assert reader.metadata is not None and reader.metadata.get("/Keywords") == "30280-2026-0000007"


# ---- reconciliation ---------------------------------------------------------------------------
def _ours(ref: str, amount: int) -> rec.OurPayment:
    return rec.OurPayment(ref=ref, amount=amount, paid_at=NOW, intent_id=f"i-{ref}")


def test_vnpay_statement_is_parsed_in_vnd_and_failed_rows_skipped() -> None:
    csv_text = rec.write_statement(Channel.VNPAY, [
        {"vnp_TxnRef": "MCAAAAAAAAAA", "vnp_TransactionNo": "1", "vnp_Amount": "15000000",
         "vnp_PayDate": "20260302090000", "vnp_BankCode": "NCB", "vnp_TransactionStatus": "00"},
        {"vnp_TxnRef": "MCBBBBBBBBBB", "vnp_TransactionNo": "2", "vnp_Amount": "5000000",
         "vnp_PayDate": "20260302090500", "vnp_BankCode": "NCB", "vnp_TransactionStatus": "02"},
    ])
    rows = rec.parse_statement(Channel.VNPAY, csv_text)
    assert [(r.ref, r.amount) for r in rows] == [("MCAAAAAAAAAA", 150_000)]
    assert rows[0].at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_bank_statement_finds_refs_in_notes() -> None:
    csv_text = rec.write_statement(Channel.VIETQR, [
        {"transaction_id": "FT1", "account": "1", "amount": "150000", "description": "MOTCUAMCAAAAAAAAAA CHUYEN TIEN",
         "transferred_at": "2026-03-02T09:00:00+07:00"},
        {"transaction_id": "FT2", "account": "1", "amount": "20000", "description": "tien an trua",
         "transferred_at": "2026-03-02T10:00:00+07:00"},
    ])
    rows = rec.parse_statement(Channel.VIETQR, csv_text)
    assert [r.ref for r in rows] == ["MCAAAAAAAAAA", None]


def test_bad_statements_are_refused() -> None:
    with pytest.raises(rec.StatementError, match="lacks columns"):
        rec.parse_statement(Channel.POS, "a,b\n1,2\n")
    bad = rec.write_statement(Channel.POS, [{"ref": "MC1", "amount": "abc", "status": "approved",
                                             "settled_at": "2026-03-02T09:00:00+07:00"}])
    with pytest.raises(rec.StatementError, match="bad amount"):
        rec.parse_statement(Channel.POS, bad)


def test_reconcile_reports_every_kind_of_mismatch() -> None:
    ours = [_ours("MCAAAAAAAAAA", 150_000), _ours("MCBBBBBBBBBB", 50_000), _ours("MCCCCCCCCCCC", 30_000)]
    theirs = [
        rec.StatementRow("MCAAAAAAAAAA", 150_000, NOW, "1", 2),
        rec.StatementRow("MCBBBBBBBBBB", 55_000, NOW, "2", 3),
        rec.StatementRow("MCDDDDDDDDDD", 70_000, NOW, "3", 4),
        rec.StatementRow("MCAAAAAAAAAA", 150_000, NOW, "4", 5),
        rec.StatementRow("MCEEEEEEEEEE", 10_000, NOW, "5", 6),  # another unit's payment
    ]
    report = rec.reconcile(Channel.VNPAY, date(2026, 3, 2), ours, theirs,
                           known_elsewhere=frozenset({"MCEEEEEEEEEE"}))
    kinds = {(m.kind, m.ref) for m in report.mismatches}
    assert kinds == {
        (rec.MismatchKind.AMOUNT_MISMATCH, "MCBBBBBBBBBB"),
        (rec.MismatchKind.MISSING_HERE, "MCDDDDDDDDDD"),
        (rec.MismatchKind.DUPLICATE_AT_PROVIDER, "MCAAAAAAAAAA"),
        (rec.MismatchKind.MISSING_AT_PROVIDER, "MCCCCCCCCCCC"),
    }
    assert report.matched == 1 and report.our_total == 230_000 and report.their_count == 4
    assert not report.balanced
    balanced = rec.reconcile(Channel.VNPAY, date(2026, 3, 2), ours[:1], theirs[:1])
    assert balanced.balanced and balanced.matched == 1


def test_day_bounds_are_vietnam_days() -> None:
    start, end = rec.day_bounds(date(2026, 3, 2))
    assert start == datetime(2026, 3, 1, 17, 0, tzinfo=UTC) and end - start == timedelta(days=1)
    assert rec.local_day(datetime(2026, 3, 1, 17, 30, tzinfo=UTC)) == date(2026, 3, 2)
