"""The Lumiku adapter in the OpenAPI document: its own tag, and examples that match the response types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.openapi.datastructures import ResponseSpec
from litestar.testing import TestClient

from api.app import create_app
from api.lumiku.routes import TAG
from api.web import lumiku_examples
from core.settings import Settings

ADAPTER_ROUTES = {
    ("post", "/api/background-remover/remove"),
    ("post", "/api/background-remover/remove-single"),
    ("post", "/api/background-remover/batch"),
    ("post", "/api/background-remover/remove-batch"),
    ("get", "/api/background-remover/batch/{batch_id}"),
    ("get", "/api/background-remover/batch/{batch_id}/download"),
    ("post", "/api/background-remover/subscription/subscribe"),
    ("post", "/api/background-remover/subscription/cancel"),
    ("post", "/api/background-remover/pricing/calculate"),
}


@pytest.fixture(scope="module")
def openapi(settings: Settings) -> Iterator[dict[str, Any]]:
    with TestClient(app=create_app(settings)) as c:
        yield c.get("/schema/openapi.json").json()


def test_the_adapter_routes_are_listed_under_their_own_tag(openapi: dict[str, Any]) -> None:
    tagged = {
        (method, path)
        for path, item in openapi["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and TAG in op.get("tags", [])
    }
    assert tagged == ADAPTER_ROUTES


def test_the_signed_links_need_no_bearer_token_in_the_document(openapi: dict[str, Any]) -> None:
    for path in ("/signed/jobs/{job_id}/result", "/signed/batches/{batch_id}/zip"):
        op = openapi["paths"]["/api/background-remover" + path]["get"]
        assert not op.get("security"), path


def test_adapter_examples_decode_into_their_response_types() -> None:
    specs = [
        (name, status, spec)
        for name, responses in vars(lumiku_examples).items()
        if name.endswith("_RESPONSES")
        for status, spec in responses.items()
        if isinstance(spec, ResponseSpec)
    ]
    assert len(specs) >= 15
    for name, status, spec in specs:
        for example in spec.examples or []:
            value = example.value
            assert isinstance(value, dict)
            again = msgspec.to_builtins(msgspec.convert(value, spec.data_container, strict=False))
            if status < 400:
                assert again == value, f"{name}[{status}] {example.id}"
            else:
                assert value["error"] == value["detail"], f"{name}[{status}] {example.id}"
