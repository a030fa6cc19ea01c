"""RFC 9457 problem+json for every error, with a stable ``code`` and the request id.

Nothing from a driver or a traceback reaches the client: database failures become
``503 database_unavailable`` or ``503 schema_not_ready``, a full storage disk ``507
insufficient_storage``, anything unexpected ``500 internal_error``, and the full exception goes to
the log under the same request id.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import uuid
from http import HTTPStatus
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Message, Scope

from api.schema_gate import SchemaGate
from core.errors import (
    BgRemoverError,
    DatabaseUnavailable,
    InsufficientStorage,
    SchemaNotReady,
    StorageUnavailable,
)
from core.storage import StorageError

log = logging.getLogger("bgremover.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a client's ``X-Request-ID`` must be, whole (``fullmatch``: ``$`` would let a trailing newline through
into the echoed header and the log lines); anything else is replaced by a new id."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

# Connection-level failures: the database is down, restarting or unreachable.
_DB_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.QueryCanceledError,
)
# Out of space or quota: checked before the database bucket, which would swallow these OSErrors too.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# The schema is behind the code: a table or column this code needs is not there.
_SCHEMA_BEHIND: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.UndefinedTableError,
    asyncpg.exceptions.UndefinedColumnError,
    asyncpg.exceptions.UndefinedFunctionError,
    asyncpg.exceptions.InvalidSchemaNameError,
)


def problem_type(code: str) -> str:
    return f"urn:bgremover:problem:{code}"


def request_id_of(request: Request[Any, Any, Any]) -> str:
    return ensure_request_id(request.scope)


def problem_body(*, status: int, code: str, title: str, detail: str, instance: str, request_id: str) -> dict[str, Any]:
    """The members every problem+json answer of ours has, whoever builds the response."""
    return {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "requestId": request_id,
        # the original Lumiku clients show `response.data.error`; the same sentence as `detail`
        "error": detail,
    }


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body = problem_body(
        status=status,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_of(request),
    )
    body.update({k: v for k, v in extra.items() if k not in body})
    return Response(content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def handle_domain_error(request: Request[Any, Any, Any], exc: BgRemoverError) -> Response[dict[str, Any]]:
    headers = {}
    extra = dict(exc.extra)
    retry_after = extra.pop("retry_after", 5 if exc.status == 503 else None)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if isinstance(exc, SchemaNotReady):
        log.error("request %s refused: %s", request_id_of(request), exc.detail)
    return problem_response(
        request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers, **extra
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    extra: dict[str, Any] = {}
    code = _HTTP_CODES.get(status, "http_error")
    detail = exc.detail or HTTPStatus(status).phrase
    if isinstance(exc, ValidationException):
        code = "validation_error"
        if isinstance(exc.extra, list):
            extra["errors"] = exc.extra
    elif status == 401:
        # Litestar's messages name the pyjwt failure ("Signature has expired", ...), useful and harmless.
        credential = "API key" if "x-api-key" in request.headers else "bearer token"
        detail = f"Missing or invalid {credential}: {exc.detail}" if exc.detail else f"Missing or invalid {credential}"
    elif status == 413:
        # On POST /jobs the body is one image plus a little form overhead.
        code = "file_too_large" if request.url.path.rstrip("/").endswith("/jobs") else "payload_too_large"
    elif status >= 500:
        log.error("request %s failed with HTTP %s: %s", request_id_of(request), status, exc.detail)
        detail = HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="bgremover"')
    return problem_response(
        request, status=status, code=code, title=HTTPStatus(status).phrase, detail=detail, headers=headers, **extra
    )


def _schema_gate(request: Request[Any, Any, Any]) -> SchemaGate | None:
    """Exception handlers take no injected dependencies: the app's services (api.services) hold the gate;
    the metrics listener's app has none."""
    gate = getattr(request.app.state.get("services"), "schema_gate", None)  # api.services.STATE_KEY
    return gate if isinstance(gate, SchemaGate) else None


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    rid = request_id_of(request)
    if isinstance(exc, UnicodeDecodeError) or (isinstance(exc, RecursionError) and "deserializ" in str(exc)):
        # Litestar decodes multipart text parts as UTF-8 and msgspec gives up on very deep JSON:
        # both are the client's malformed body, not a server fault
        log.info("request %s: malformed body: %s", rid, exc)
        return problem_response(
            request,
            status=400,
            code="bad_request",
            title="Bad Request",
            detail=(
                "The request body is malformed: a form field that is not a file part holds bytes that are "
                "not UTF-8 text (send images as file parts, with a filename), or JSON is nested too deeply."
            ),
        )
    if isinstance(exc, _SCHEMA_BEHIND):
        gate = _schema_gate(request)
        if gate is not None:
            gate.invalidate()
        log.error("request %s hit a schema that is behind the code: %r", rid, exc)
        err: BgRemoverError = SchemaNotReady(
            "The database schema is behind this version of the service; an operator must run the migrations."
        )
        return handle_domain_error(request, err)
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        log.error("request %s: storage is full: %r", rid, exc)
        err = InsufficientStorage(
            "The service has run out of storage space; nothing was charged. Retry later.", retry_after=60
        )
        return handle_domain_error(request, err)
    if isinstance(exc, StorageError):  # an OSError too: checked before the database bucket
        log.error("request %s: storage unavailable: %r", rid, exc)
        detail = "The storage is temporarily unavailable; nothing was charged. Retry in a few seconds."
        err = StorageUnavailable(detail, retry_after=5)
        return handle_domain_error(request, err)
    if isinstance(exc, _DB_UNAVAILABLE):
        log.error("request %s: database unavailable: %r", rid, exc)
        gate = _schema_gate(request)
        if gate is not None:
            gate.expire()
        err = DatabaseUnavailable("The database is temporarily unavailable. Retry in a few seconds.", retry_after=5)
        return handle_domain_error(request, err)
    log.exception("request %s failed", rid, exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal Server Error",
        detail=f"An unexpected error occurred. Quote request id {rid} when reporting it.",
    )


EXCEPTION_HANDLERS: Any = {
    BgRemoverError: handle_domain_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def ensure_request_id(scope: Scope) -> str:
    """The request's id: the client's ``X-Request-ID`` when it is sane, otherwise a new one."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if isinstance(rid, str):
        return rid
    rid = ""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            rid = value.decode("latin-1")
            break
    if REQUEST_ID_PATTERN.fullmatch(rid) is None:
        rid = uuid.uuid4().hex
    state["request_id"] = rid
    return rid


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: runs for every response, including routing errors that bypass middleware."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        headers.append((b"x-request-id", ensure_request_id(scope).encode()))
        limits = scope.get("state", {}).get("rate_limit_headers") or {}
        headers.extend((k.lower().encode(), v.encode()) for k, v in limits.items())
        message["headers"] = headers
