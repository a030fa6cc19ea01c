"""Swagger UI at ``/schema`` (and ``/schema/swagger``) with its assets served by this app, not a CDN."""

from __future__ import annotations

from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin

from api.web.routes import SWAGGER_STATIC_PATH

FAVICON = f"<link rel='icon' type='image/png' href='{SWAGGER_STATIC_PATH}/favicon-32x32.png'>"


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The first plugin is also served at ``/schema``; ``/schema/openapi.json`` stays Litestar's own."""
    return [
        SwaggerRenderPlugin(
            js_url=f"{SWAGGER_STATIC_PATH}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER_STATIC_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER_STATIC_PATH}/swagger-ui-standalone-preset.js",
            favicon=FAVICON,
            path="/swagger",
        )
    ]
