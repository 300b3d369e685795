"""Structured (JSON-lines) logs with personal data masked.

Citizen ID numbers (12-digit CCCD, 9-digit CMND) and Vietnamese mobile numbers are masked
in every record, whatever logger produced it (Decree 13/2023: mask personal data in logs).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

_PHONE = re.compile(r"(?<!\d)(?:\+84|84|0)([35789]\d)(\d{5})(\d{2})(?!\d)")
_CITIZEN_ID = re.compile(r"(?<!\d)(\d{3})(?:\d{4}|\d{7})(\d{2})(?!\d)")


def mask_personal_data(text: str) -> str:
    """Mask phone numbers and 9- or 12-digit ID numbers inside free text."""
    text = _PHONE.sub(lambda m: f"0{m.group(1)}*****{m.group(3)}", text)
    return _CITIZEN_ID.sub(lambda m: f"{m.group(1)}{'*' * (len(m.group(0)) - 5)}{m.group(2)}", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": mask_personal_data(record.getMessage()),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
        if record.exc_info:
            entry["exc"] = mask_personal_data(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pymongo", "httpx", "httpcore", "aiosmtplib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
