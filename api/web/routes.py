"""The web page at ``/`` and the static files it and the API docs need.

All of it is public (``exclude_from_auth``): the page asks for a token itself and sends it with every
API request; the files hold nothing secret.
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

WEB_DIR = Path(__file__).resolve().parent / "static"
SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)
WEB_STATIC_PATH = "/static/web"
SWAGGER_STATIC_PATH = "/static/swagger-ui"
PUBLIC_OPT = {"exclude_from_auth": True}

# The page talks to this origin only; scripts and styles come from files, never inline.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@get(
    "/",
    media_type=MediaType.HTML,
    include_in_schema=False,
    sync_to_thread=False,
    opt=PUBLIC_OPT,
    cache_control=CacheControlHeader(no_cache=True),
)
def index() -> Response[bytes]:
    """The upload page."""
    return Response(
        content=(WEB_DIR / "index.html").read_bytes(),
        media_type=MediaType.HTML,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def web_route_handlers() -> list[ControllerRouterHandler]:
    """The page, its assets under ``/static/web/`` and Swagger UI's under ``/static/swagger-ui/``."""
    return [
        index,
        create_static_files_router(
            path=WEB_STATIC_PATH,
            directories=[WEB_DIR],
            name="web-static",
            opt=PUBLIC_OPT,
            cache_control=CacheControlHeader(no_cache=True),
        ),
        create_static_files_router(
            path=SWAGGER_STATIC_PATH,
            directories=[SWAGGER_UI_DIR],
            name="swagger-ui-static",
            opt=PUBLIC_OPT,
            cache_control=CacheControlHeader(max_age=86400, public=True),
        ),
    ]
