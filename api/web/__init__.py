"""The browser side of the service: a small upload page at ``/`` and offline OpenAPI docs at ``/schema``.

Nothing here loads anything from another host: the page is plain HTML, one JS and one CSS file, and
Swagger UI is served from the files of the ``swagger_ui_bundle`` package.

* :mod:`api.web.routes` – the page, its assets and Swagger UI's assets (public: no token needed).
* :mod:`api.web.docs` – the Swagger render plugin pointing at those local assets.
* :mod:`api.web.openapi_examples` – request, response and problem+json examples for every operation.
"""
