"""The web page, its assets and the offline API docs, through the app in-process (no database needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import msgspec
import pytest
from litestar.openapi.datastructures import ResponseSpec
from litestar.testing import TestClient

from api.app import create_app
from api.removebg import examples as removebg_examples
from api.web import openapi_examples
from api.web.routes import SWAGGER_UI_DIR, WEB_DIR
from core.settings import Settings

EXTERNAL_URL = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}""", re.IGNORECASE)
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    # The database of the run may not exist yet: the lifespan logs that and the pages do not need it.
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def openapi(client: TestClient[Any]) -> dict[str, Any]:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


class Links(HTMLParser):
    """Every URL an HTML document makes the browser load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") and value:
                self.urls.append(value)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


def is_local(url: str) -> bool:
    return url.startswith("data:") or (url.startswith("/") and not url.startswith("//"))


def test_the_page_is_served_without_a_token(client: TestClient[Any]) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert '<script src="/static/web/app.js" defer></script>' in r.text
    assert '<link rel="stylesheet" href="/static/web/app.css">' in r.text
    assert 'aria-live="polite"' in r.text and 'role="alert"' in r.text


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/static/web/app.js", "text/javascript"),
        ("/static/web/app.css", "text/css"),
        ("/static/web/index.html", "text/html"),
        ("/static/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
        ("/static/swagger-ui/swagger-ui-standalone-preset.js", "text/javascript"),
        ("/static/swagger-ui/swagger-ui.css", "text/css"),
        ("/static/swagger-ui/favicon-32x32.png", "image/png"),
    ],
)
def test_static_assets_are_served_without_a_token(client: TestClient[Any], path: str, media_type: str) -> None:
    r = client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"].split(";")[0] in (media_type, "application/javascript")
    assert r.content


def test_nothing_else_is_public(client: TestClient[Any]) -> None:
    assert client.get("/static/web/../../app.py").status_code == 404
    assert client.get("/static/web/%2e%2e/routes.py").status_code == 404
    assert client.get("/static/elsewhere.txt").status_code == 404
    r = client.get("/api/background-remover/pricing")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


@pytest.mark.parametrize("name", ["index.html", "app.js", "app.css"])
def test_the_page_loads_nothing_from_another_host(name: str) -> None:
    text = (WEB_DIR / name).read_text()
    assert EXTERNAL_URL.findall(text) == [], f"{name} refers to another host"
    assert "@import" not in text and "fonts." not in text
    if name == "index.html":
        assert all(is_local(url) for url in links_of(text)), links_of(text)


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_swagger_ui_refers_only_to_local_assets(client: TestClient[Any], path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert "SwaggerUIBundle" in r.text
    urls = links_of(r.text)
    assert urls, "no assets found in the Swagger page"
    assert all(is_local(url) for url in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    head = r.text.split("<body>")[0]
    assert EXTERNAL_URL.findall(head) == []


def test_the_bundled_swagger_ui_renders_openapi_3_1(openapi: dict[str, Any]) -> None:
    # Swagger UI 4 refuses "openapi: 3.1.0" ("does not specify a valid version field"); 5 renders it.
    assert openapi["openapi"].startswith("3.1")
    major = int(SWAGGER_UI_DIR.name.removeprefix("swagger-ui-").split(".")[0])
    assert major >= 5, SWAGGER_UI_DIR


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {path}", op


def _response_examples(op: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """status -> media type -> example values."""
    return {
        status: {mt: [e["value"] for e in (body.get("examples") or {}).values()] for mt, body in content.items()}
        for status, response in op["responses"].items()
        if (content := response.get("content"))
    }


def test_every_operation_has_examples(openapi: dict[str, Any]) -> None:
    ops = dict(_operations(openapi))
    assert len(ops) >= 18
    for name, op in ops.items():
        examples = _response_examples(op)
        assert any(values for by_type in examples.values() for values in by_type.values()), f"{name}: no example"
        if "remove.bg compatible" in op.get("tags", []):
            # remove.bg's clients read its own error shape, not problem+json
            errors = [v for s, by_type in examples.items() if s >= "400" for v in by_type.get("application/json", [])]
            assert errors and all(set(v) == {"errors"} for v in errors), name
            continue
        problems = [v for s, by_type in examples.items() if s >= "400" for v in by_type.get(PROBLEM, [])]
        if op["operationId"] != "live":
            assert problems, f"{name}: no problem+json example"
        for status, by_type in examples.items():
            for value in by_type.get(PROBLEM, []):
                assert value["status"] == int(status), name
                assert value["type"] == f"urn:bgremover:problem:{value['code']}", name
                assert {"title", "detail", "instance", "requestId"} <= set(value), name
        if body := op.get("requestBody"):
            (content,) = body["content"].values()
            assert content["schema"].get("examples"), f"{name}: no request example"


def test_success_examples_decode_into_their_response_types() -> None:
    specs = [
        (name, status, spec)
        for module in (openapi_examples, removebg_examples)
        for name, responses in vars(module).items()
        if name.endswith("_RESPONSES")
        for status, spec in responses.items()
        if isinstance(spec, ResponseSpec)
    ]
    assert len(specs) >= 30
    for name, status, spec in specs:
        assert spec.examples, f"{name}[{status}] has no example"
        for example in spec.examples:
            decoded = msgspec.convert(example.value, spec.data_container, strict=False)
            again = msgspec.to_builtins(decoded)
            assert isinstance(again, dict)
            if spec.data_container is not openapi_examples.Problem:
                assert again == example.value, f"{name}[{status}] {example.id}: keys or values drift from the schema"
