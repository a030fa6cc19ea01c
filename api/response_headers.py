"""Headers every response carries, whatever produced it (a route, an error handler, a routing error).

``X-Content-Type-Options: nosniff``: results are user-chosen pixels, and a browser that sniffs an
answer's type could render crafted bytes as HTML or script on the API's origin; with it, the declared
``Content-Type`` (``image/png``, ``application/problem+json``...) is the only one a browser uses.
"""

from __future__ import annotations

from litestar.types import Message, Scope

_NOSNIFF = (b"x-content-type-options", b"nosniff")


async def add_nosniff(message: Message, scope: Scope) -> None:
    """``before_send`` hook."""
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
            headers.append(_NOSNIFF)
        message["headers"] = headers
