"""Typed errors rendered by one HTTP handler: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """An error the caller can act on. `code` is stable, `message` is for people."""

    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None  # extra response headers (e.g. `Retry-After`)

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Invalid(AppError):
    status_code = 422
    code = "invalid"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Unavailable(AppError):
    status_code = 503
    code = "unavailable"
