"""``LOG_FORMAT=json``: each line parses, carries the ids of the work it belongs to, and never the raw user id."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.logs import JsonFormatter, hash_user, install_context, log_context, set_user

pytestmark = pytest.mark.unit


def capture(log_format: JsonFormatter) -> tuple[logging.Logger, io.StringIO]:
    install_context()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(log_format)
    logger = logging.getLogger(f"test.logs.{id(out)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_a_json_line_carries_request_job_and_hashed_user_but_never_the_user_id() -> None:
    logger, out = capture(JsonFormatter())
    user_id = "0b5e8a1c-3f4d-4e2a-9c1b-7d6e5f4a3b2c"
    with log_context(request_id="req-1", job_id="job-9"):
        set_user(user_id)
        logger.info("job %s failed: %s", "job-9", 'a "quoted" reason\nover two lines')
    logger.info("outside")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == 'job job-9 failed: a "quoted" reason\nover two lines'
    assert first["level"] == "INFO" and first["logger"].startswith("test.logs")
    assert first["ts"].endswith("+00:00")
    assert first["request_id"] == "req-1" and first["job_id"] == "job-9"
    assert first["user"] == hash_user(user_id) and len(first["user"]) == 16
    assert user_id not in out.getvalue()
    assert "request_id" not in second and "job_id" not in second and "user" not in second


def test_the_user_hash_is_stable_salted_and_distinct() -> None:
    import hashlib

    assert hash_user("alice") == hash_user("alice") != hash_user("bob")
    assert hash_user("alice") != hashlib.sha256(b"alice").hexdigest()[:16]


def test_an_exception_is_one_line_with_its_traceback() -> None:
    logger, out = capture(JsonFormatter())
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it failed")
    [line] = out.getvalue().splitlines()
    parsed = json.loads(line)
    assert parsed["message"] == "it failed"
    assert "ValueError: boom" in parsed["exc"]


def test_the_access_line_carries_the_request_duration_in_both_formats() -> None:
    from uvicorn.logging import AccessFormatter

    from api.server import text_log_config
    from core.logs import duration_ms_var

    install_context()
    args = ("127.0.0.1:5000", "POST", "/api/background-remover/jobs", "1.1", 202)
    token = duration_ms_var.set(12.34)
    try:
        record = logging.getLogger("uvicorn.access").makeRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
        )
    finally:
        duration_ms_var.reset(token)
    text = AccessFormatter(fmt=text_log_config()["formatters"]["access"]["fmt"], use_colors=False)
    line = text.format(record)
    assert '"POST /api/background-remover/jobs HTTP/1.1" 202' in line and line.endswith(" 12.3 ms"), line
    assert json.loads(JsonFormatter().format(record))["duration_ms"] == 12.3
