"""PostgreSQL DSN helpers."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


def dsn_to_config(dsn: str) -> dict[str, Any]:
    """asyncpg connect kwargs for Piccolo's engine; timeouts keep a dead database from hanging requests."""
    from core.settings import get_settings

    settings = get_settings()
    return {
        "dsn": dsn,
        "timeout": settings.db_timeout_s,
        "command_timeout": max(settings.db_timeout_s * 6, 30.0),
    }


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/")) or "postgres"


def with_database(dsn: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
