"""The API's one JSON error shape, and the mapping from lower layers' errors to it.

Every non-2xx answer is ``{"error": {"code", "message", "details"}}``; ``details`` lists
``{"field", "reason"}`` or ``{"row", "column", "reason"}`` items where they exist.

    ApiError            raised by routes with an HTTP status and a stable code
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.access import errors as access_errors
from vigil.registry import errors as registry_errors
from vigil.signaling import errors as signaling_errors

logger = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_failed",
    429: "throttled",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return JSONResponse(status_code=status, content=body, headers=dict(headers or {}))


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            # a body told apart by one field (e.g. "action"): name that field
            location.append(str(error.get("ctx", {}).get("discriminator", "")).strip("'"))
        details.append({"field": ".".join(location), "reason": str(error.get("msg", ""))})
    return details


def _registry_error(exc: Exception) -> tuple[int, str, str, list[dict[str, Any]]]:
    message = str(exc)
    if isinstance(exc, registry_errors.ValidationError):
        details = [{"field": p.field, "reason": p.reason} for p in exc.problems]
        return 422, "validation_failed", message, details
    if isinstance(exc, registry_errors.NotFoundError):
        return 404, "not_found", message, []
    if isinstance(exc, registry_errors.ScopeError):
        return 403, "forbidden", message, []
    if isinstance(exc, registry_errors.ConflictError):
        return 409, "conflict", message, []
    if isinstance(exc, registry_errors.LedgerError):
        return 400, "ledger_unreadable", message, []
    return 400, "bad_request", message, []


def _access_error(exc: Exception) -> tuple[int, str, str, list[dict[str, Any]]]:
    message = str(exc)
    if isinstance(exc, access_errors.InvalidInputError):
        return 422, "validation_failed", message, []
    if isinstance(exc, access_errors.UserNotFoundError):
        return 404, "not_found", message, []
    if isinstance(exc, access_errors.UserExistsError | access_errors.LastAdminError):
        return 409, "conflict", message, []
    return 400, "bad_request", message, []


def _signaling_error(exc: Exception) -> tuple[int, str, str, list[dict[str, Any]]]:
    message = str(exc)
    if isinstance(exc, signaling_errors.DeviceUnavailableError):
        return 409, "offline", message, []
    if isinstance(exc, signaling_errors.QueryTimeoutError):
        return 504, "timeout", message, []
    if isinstance(exc, signaling_errors.OverloadedError):
        return 503, "overloaded", message, []
    if isinstance(exc, signaling_errors.QueryFailedError):
        return 502, "device_error", message, []
    return 502, "signaling_error", message, []


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(
            422, "validation_failed", "the request is not valid", _validation_details(exc)
        )

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers or {})
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Supervision boundary: a bug must not leak internals, but it must be logged whole.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the incident has been logged")

    async def on_registry(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(*_registry_error(exc))

    async def on_access(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(*_access_error(exc))

    async def on_signaling(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(*_signaling_error(exc))

    app.add_exception_handler(signaling_errors.SignalingError, on_signaling)
    app.add_exception_handler(registry_errors.RegistryError, on_registry)
    app.add_exception_handler(access_errors.AccessError, on_access)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
