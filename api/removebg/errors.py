"""Errors of the remove.bg routes in remove.bg's shape: ``{"errors": [{"title", "code", "detail"}]}``.

Each handler lets the project's own handler (:mod:`api.problems`) decide status, code, log line and
``Retry-After``, then translates: remove.bg clients branch on its status codes (400 input, 402 credits,
403 key, 429 rate), so those are remapped; everything else keeps our status and stable ``code``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from api.problems import handle_domain_error, handle_http_exception, handle_unexpected
from core.errors import BgRemoverError

_REMAPPED: dict[str, tuple[int, str, str]] = {
    "unauthorized": (403, "auth_failed", "Authentication failed"),
    "forbidden": (403, "auth_failed", "Authentication failed"),
    "insufficient_credits": (402, "insufficient_credits", "Insufficient credits"),
    "rate_limited": (429, "rate_limit_exceeded", "Rate limit exceeded"),
    "too_many_queued_images": (429, "rate_limit_exceeded", "Rate limit exceeded"),
    "storage_quota_exceeded": (429, "rate_limit_exceeded", "Rate limit exceeded"),
    "quota_exceeded": (429, "rate_limit_exceeded", "Rate limit exceeded"),
    "file_too_large": (400, "file_too_large", "File too large"),
    "payload_too_large": (400, "file_too_large", "File too large"),
    "form_field_too_large": (400, "form_field_too_large", "Form field too large"),
    "no_subject_detected": (400, "unknown_foreground", "Could not identify foreground in image"),
    "unsupported_media_type": (400, "invalid_file", "Invalid image file"),
    "unsupported_content_type": (400, "invalid_parameter", "Invalid parameter"),
    "corrupt_image": (400, "invalid_file", "Invalid image file"),
    "invalid_image": (400, "invalid_file", "Invalid image file"),
    "resolution_too_high": (400, "resolution_too_high", "Input image resolution too high"),
    "resolution_too_low": (400, "resolution_too_low", "Input image resolution too low"),
    "invalid_options": (400, "invalid_parameter", "Invalid parameter"),
    "output_too_large": (400, "invalid_parameter", "Invalid parameter"),
    "validation_error": (400, "invalid_parameter", "Invalid parameter"),
    "bad_request": (400, "invalid_parameter", "Invalid parameter"),
    "unsupported_parameter": (400, "unsupported_parameter", "Unsupported parameter"),
    "missing_source": (400, "missing_source", "No image given"),
    "image_url_refused": (400, "image_url_refused", "Image URL refused"),
    "image_url_unreachable": (400, "image_url_unreachable", "Failed to download the image"),
    "image_url_too_large": (400, "file_too_large", "File too large"),
}
# headers of the problem answer that a remove.bg answer keeps (X-Request-ID and X-RateLimit-* are
# added for every response by api.problems.add_request_id_header)
_KEPT_HEADERS = ("retry-after", "www-authenticate")


def removebg_error(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    body = {"errors": [{"title": title, "code": code, "detail": detail}]}
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def error_for_code(
    code: str, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    """remove.bg's answer for one of our problem codes (``status`` and ``title`` when it is not remapped)."""
    status, code, title = _REMAPPED.get(code, (status, code, title))
    return removebg_error(status, code, title, detail, headers)


def _translate(problem: Response[dict[str, Any]]) -> Response[dict[str, Any]]:
    body = problem.content
    code = str(body.get("code", "internal_error"))
    status, _, _ = _REMAPPED.get(code, (problem.status_code or 500, code, ""))
    headers = {k: v for k, v in problem.headers.items() if k.lower() in _KEPT_HEADERS}
    if status == 403:
        headers.pop("WWW-Authenticate", None)
    title, detail = str(body.get("title", "")), str(body.get("detail", ""))
    return error_for_code(code, problem.status_code or 500, title, detail, headers)


def _domain(request: Request[Any, Any, Any], exc: BgRemoverError) -> Response[dict[str, Any]]:
    return _translate(handle_domain_error(request, exc))


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    return _translate(handle_http_exception(request, exc))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    return _translate(handle_unexpected(request, exc))


EXCEPTION_HANDLERS: Any = {BgRemoverError: _domain, HTTPException: _http, Exception: _unexpected}
