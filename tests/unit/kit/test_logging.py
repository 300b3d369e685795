import json
import logging

from services.kit.logging import JsonFormatter, mask_personal_data


def test_masks_citizen_id_and_phone_in_free_text() -> None:
    text = "CCCD 089203001234, ĐT 0912345678, +84987654321, CMND 123456789"
    masked = mask_personal_data(text)
    assert "089203001234" not in masked and "0912345678" not in masked
    assert "0987654321" not in masked and "123456789" not in masked
    assert "089*******34" in masked
    assert "091*****78" in masked
    assert "123****89" in masked


def test_leaves_other_numbers_alone() -> None:
    # dossier codes, amounts and 10-digit tax codes are not personal data
    text = "000.00.12.H01-260113-0042 amount 150000 tax 0301234567"
    assert mask_personal_data("amount 150000 seq 0042") == "amount 150000 seq 0042"
    assert "000.00.12.H01-260113-0042" in mask_personal_data(text)


def test_json_formatter_masks_message_and_is_json() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "applicant %s", ("001099012345",), None)
    line = JsonFormatter("intake").format(record)
    entry = json.loads(line)
    assert entry["service"] == "intake"
    assert entry["msg"] == "applicant 001*******45"
