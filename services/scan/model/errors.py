"""Why scan refuses a request: a stable `code` for programs, a message for people.

Pure: the HTTP status is chosen by the API layer from the error's class.
"""

from __future__ import annotations

from typing import Any


class ScanError(Exception):
    """Base of every refusal; `code` is stable, `message` is shown to the officer."""

    code = "scan_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class Rejected(ScanError):
    """The input is understood but not acceptable (wrong field, broken PDF, too many pages)."""

    code = "rejected"


class TooLarge(ScanError):
    """A file or the whole request is over its size limit."""

    code = "too_large"


class UnsupportedType(ScanError):
    """The content is not one of the accepted types (decided by magic bytes, never the name)."""

    code = "unsupported_type"


class NotFoundError(ScanError):
    code = "not_found"


class ConflictError(ScanError):
    code = "conflict"


class Denied(ScanError):
    """The caller may not do this to this record (wrong owner, failed second factor)."""

    code = "denied"


class TooManyAttempts(ScanError):
    code = "too_many_attempts"


class Unavailable(ScanError):
    """A dependency (S3) is down, or an object is being deleted: retry later."""

    code = "unavailable"
