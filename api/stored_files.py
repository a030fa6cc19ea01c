"""Answering with a stored result or ZIP, whichever backend holds it.

A local file goes out through the server's sendfile (:class:`litestar.response.File`); an object in
S3 is streamed through the API in 1 MiB chunks rather than redirected to a presigned URL, so the
store can stay on a private network, the signed links and bearer-token routes answer the same way on
both backends, and the client never learns the bucket's address (docs/scaling.md).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from litestar import Response
from litestar.response import File, Stream

from core.errors import ResultExpired
from core.storage import LocalStorage, Storage


class _StoredStream(Stream):
    """A ``Stream`` that keeps its own media type: Litestar lets the route's declared one (here the
    generic ``application/octet-stream`` of the OpenAPI schema) win over the response's."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def _disposition(kind: str, filename: str) -> str:
    # The same header Litestar's File writes, so both backends answer alike.
    quoted = quote(filename)
    return f'{kind}; filename="{filename}"' if quoted == filename else f"{kind}; filename*=utf-8''{quoted}"


async def stored_file(
    storage: Storage,
    key: str,
    *,
    filename: str,
    media_type: str,
    expired: str,
    disposition: Literal["attachment", "inline"] = "attachment",
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """The object as a download; 410 ``result_expired`` (with ``expired`` as its detail) when it is gone."""
    if isinstance(storage, LocalStorage):
        if not await storage.exists(key):
            raise ResultExpired(expired)
        return File(
            path=storage.local_path(key),
            filename=filename,
            media_type=media_type,
            content_disposition_type=disposition,
            headers=headers,
        )
    try:
        stored = await storage.open(key)
    except FileNotFoundError:
        raise ResultExpired(expired) from None
    return _StoredStream(
        stored.chunks,
        media_type=media_type,
        headers={
            **(headers or {}),
            "Content-Length": str(stored.size),
            "Content-Disposition": _disposition(disposition, filename),
        },
    )
