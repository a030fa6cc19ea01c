"""What a remove.bg client sees: the routes, an API key to send as ``X-Api-Key``, and the error list."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from tests.support.api_client import API, User

REMOVEBG = "/v1.0/removebg"
ACCOUNT = "/v1.0/account"


def new_key(base_url: str, user: User) -> str:
    """A key created as a user would: ``POST /api-keys`` with their bearer token."""
    r = httpx.post(base_url + API + "/api-keys", json={"name": "remove.bg client"}, headers=user.headers)
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def the_error(response: httpx.Response) -> dict[str, Any]:
    """remove.bg's error body: ``{"errors": [{"title", "code", "detail"}]}``, one error."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    errors = response.json()["errors"]
    assert len(errors) == 1 and set(errors[0]) == {"title", "code", "detail"}, errors
    error: dict[str, Any] = errors[0]
    return error


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def blank_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    """A flat grey picture: nothing for the model to find."""
    out = io.BytesIO()
    Image.new("RGB", size, (128, 128, 128)).save(out, format="JPEG")
    return out.getvalue()
