"""Problem+json bodies become the right typed errors."""

from __future__ import annotations

import httpx
import pytest
from bgremover_client import (
    APIError,
    AuthenticationError,
    BatchNotFinished,
    BgRemoverClientError,
    Conflict,
    InsufficientCredits,
    InvalidImage,
    InvalidOptions,
    InvalidRequest,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ResultNotReady,
    ServerError,
    ServiceUnavailable,
    error_from_problem,
)
from bgremover_client._errors import error_from_response


def problem(status: int, code: str, **extra: object) -> dict[str, object]:
    return {
        "type": f"urn:bgremover:problem:{code}",
        "title": "t",
        "status": status,
        "detail": f"detail of {code}",
        "instance": "/api/background-remover/x",
        "code": code,
        "requestId": "rid-1",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "unauthorized", AuthenticationError),
        (402, "insufficient_credits", InsufficientCredits),
        (404, "not_found", NotFound),
        (404, "result_not_ready", ResultNotReady),
        (409, "batch_not_finished", BatchNotFinished),
        (415, "unsupported_media_type", InvalidImage),
        (413, "file_too_large", InvalidImage),
        (422, "corrupt_image", InvalidImage),
        (422, "invalid_options", InvalidOptions),
        (422, "batch_too_small", InvalidOptions),
        (422, "unknown_tier", InvalidOptions),
        (429, "quota_exceeded", QuotaExceeded),
        (503, "schema_not_ready", ServiceUnavailable),
        (503, "tier_unavailable", ServiceUnavailable),
        (507, "insufficient_storage", ServiceUnavailable),
        (500, "internal_error", ServerError),
    ],
)
def test_known_codes_map_to_their_class(status: int, code: str, cls: type[APIError]) -> None:
    error = error_from_problem(status, problem(status, code))
    assert type(error) is cls
    assert isinstance(error, BgRemoverClientError)
    assert (error.status, error.code, error.detail, error.request_id) == (status, code, f"detail of {code}", "rid-1")
    assert error.problem["instance"] == "/api/background-remover/x"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (404, NotFound),
        (409, Conflict),
        (418, InvalidRequest),
        (429, RateLimited),
        (503, ServiceUnavailable),
        (502, ServiceUnavailable),
        (500, ServerError),
        (415, InvalidImage),
    ],
)
def test_unknown_codes_fall_back_to_the_status(status: int, cls: type[APIError]) -> None:
    assert type(error_from_problem(status, problem(status, "brand_new_code"))) is cls


def test_extras_are_exposed() -> None:
    credits = error_from_problem(402, problem(402, "insufficient_credits", required=9, balance=5))
    assert isinstance(credits, InsufficientCredits)
    assert (credits.required, credits.balance) == (9, 5)
    not_ready = error_from_problem(404, problem(404, "result_not_ready", jobStatus="processing"))
    assert isinstance(not_ready, ResultNotReady)
    assert not_ready.job_status == "processing"
    down = error_from_problem(503, problem(503, "schema_not_ready", pendingMigrations=["m1"]), retry_after=5)
    assert isinstance(down, ServiceUnavailable)
    assert down.pending_migrations == ["m1"]
    assert down.retry_after == 5
    batch = error_from_problem(415, problem(415, "unsupported_media_type", errors=[{"index": 1, "code": "x"}]))
    assert batch.errors == [{"index": 1, "code": "x"}]


def test_a_body_that_is_not_a_problem_still_gives_a_typed_error() -> None:
    request = httpx.Request("GET", "http://x/api/background-remover/jobs")
    response = httpx.Response(
        502, text="<html>Bad gateway</html>", headers={"x-request-id": "abc", "retry-after": "3"}, request=request
    )
    error = error_from_response(response)
    assert isinstance(error, ServiceUnavailable)
    assert error.code == "http_502"
    assert error.request_id == "abc"
    assert error.retry_after == 3
    assert "Bad gateway" in error.detail
    empty = error_from_response(httpx.Response(401, request=request))
    assert (type(empty), empty.code, empty.detail) == (AuthenticationError, "unauthorized", "HTTP 401")


def test_str_names_status_and_code() -> None:
    assert str(error_from_problem(404, problem(404, "not_found"))) == "404 not_found: detail of not_found"


def test_every_code_the_service_can_answer_has_a_client_error_class() -> None:
    """A new server error code without a client mapping would surface as a generic APIError."""
    from bgremover_client._errors import _BY_CODE

    import core.errors as server_errors

    codes = {
        obj.code
        for obj in vars(server_errors).values()
        if isinstance(obj, type) and issubclass(obj, server_errors.BgRemoverError)
    }
    codes |= {"redis_unavailable", "no_worker", "no_model_installed", "validation_error", "bad_request"}
    missing = sorted(code for code in codes if code not in _BY_CODE)
    assert missing == []
