"""Log lines for people (``LOG_FORMAT=text``, the default) or for a log pipeline (``LOG_FORMAT=json``):
one JSON object per line with the time, level, logger, message and, when known, the request id, the
job id and the user id hashed (never the user id itself: logs travel further than the database).

The ids come from context variables set where the work starts (:func:`log_context`: the API's request
middleware, the worker's ``process_job``) and are copied onto each record when it is created, in the
thread that logs, so they survive a queue handler that formats in another thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
USER_HASH_PREFIX = b"bgremover-log-user:"
"""Salt of the user hash: the same user has the same hash in every line (so lines can be grouped),
and a hash cannot be looked up in a table of plain sha256 digests of known ids."""

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)
duration_ms_var: contextvars.ContextVar[float | None] = contextvars.ContextVar("duration_ms", default=None)
"""The API's time from a request's arrival to its response's start, set when the response starts: the
access line (logged then) carries it."""

_CONTEXT_FIELDS = ("request_id", "job_id", "user")


def hash_user(user_id: str) -> str:
    return hashlib.sha256(USER_HASH_PREFIX + user_id.encode()).hexdigest()[:16]


@contextlib.contextmanager
def log_context(
    *, request_id: str | None = None, job_id: str | None = None, user_id: str | None = None
) -> Iterator[None]:
    """Ids every line logged inside the block carries (those not given keep their outer value); all
    three, :func:`set_user` included, are restored when the block ends."""
    tokens = [
        (var, var.set(var.get() if value is None else value))
        for var, value in ((request_id_var, request_id), (job_id_var, job_id), (user_id_var, user_id))
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_user(user_id: str) -> None:
    """For the rest of the current request or task (the API learns the user after its middleware ran)."""
    user_id_var.set(user_id)


def _with_context(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        record.request_id = request_id_var.get()
        record.job_id = job_id_var.get()
        user = user_id_var.get()
        record.user = hash_user(user) if user else None
        ms = duration_ms_var.get()
        record.duration_ms = ms
        record.duration = "-" if ms is None else f"{ms:.1f} ms"
        return record

    make.bgremover_context = True  # type: ignore[attr-defined]
    return make


def install_context() -> None:
    """Copy the context ids onto every log record (once per process; a second call does nothing)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "bgremover_context", False):
        logging.setLogRecordFactory(_with_context(factory))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the context ids that are
    set, and ``exc`` with the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                line[name] = value
        duration = getattr(record, "duration_ms", None)
        if duration is not None:
            line["duration_ms"] = round(duration, 1)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: str, level: int = logging.INFO) -> None:
    """The root logger of a process that owns its logging (the worker): one stderr handler."""
    install_context()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's own loggers (start-up, errors, access lines) in the same format; None keeps uvicorn's."""
    if log_format != "json":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
