"""Reading a remove.bg request: multipart (``image_file`` or ``image_file_b64``), a urlencoded form or
JSON (``image_file_b64``), with the option fields of :class:`~api.removebg.params.RemoveBgParams`."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile

from api.removebg.params import FIELDS, MissingSource, RemoveBgParams, UnsupportedParameter
from core.errors import FileTooLarge, InvalidOptions

_DATA_URL = re.compile(r"data:[a-z/+.-]*;base64,", re.IGNORECASE)
_FETCHING_SOURCES = ("image_url", "bg_image_url", "bg_image_file")


@dataclass(frozen=True)
class RemoveBgRequest:
    image: bytes
    filename: str
    params: RemoveBgParams


async def read_request(request: Request[Any, Any, Any], max_image_bytes: int) -> RemoveBgRequest:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
    elif media_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidOptions("the JSON body must be an object of remove.bg parameters")
        fields = {str(k): _text(v) for k, v in body.items() if v is not None}
        files = {}
    else:
        raise InvalidOptions(
            "send multipart/form-data, application/x-www-form-urlencoded or application/json, "
            f"not {media_type or 'no Content-Type'!r}"
        )
    for name in _FETCHING_SOURCES:
        if fields.get(name) or name in files:
            # fetching a URL the client names is a server-side request: not offered (docs/compat.md)
            raise UnsupportedParameter(
                f"{name} is not supported by this service: upload the image as image_file or image_file_b64",
                parameter=name,
            )
    upload = files.get("image_file")
    encoded = fields.get("image_file_b64")
    if upload is not None and encoded:
        raise InvalidOptions("send one image: image_file or image_file_b64, not both", parameter="image_file")
    if upload is not None:
        image = await upload.read(max_image_bytes + 1)
        filename = upload.filename or "image"
    elif encoded:
        image = _decode_b64(encoded, max_image_bytes)
        filename = "image"
    else:
        raise MissingSource("No image given: send image_file (a file part) or image_file_b64.")
    if len(image) > max_image_bytes:
        raise FileTooLarge(f"The image is larger than {max_image_bytes} bytes.", maxBytes=max_image_bytes)
    params = RemoveBgParams(**{name: fields[name] for name in FIELDS if name in fields})
    return RemoveBgRequest(image=image, filename=filename, params=params)


def _text(value: object) -> str:
    """JSON clients send booleans and numbers where forms send text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _decode_b64(text: str, max_image_bytes: int) -> bytes:
    compact = "".join(_DATA_URL.sub("", text.strip(), count=1).split())
    if len(compact) > (max_image_bytes + 2) // 3 * 4 + 4:  # refused before decoding anything
        raise FileTooLarge(f"The image is larger than {max_image_bytes} bytes.", maxBytes=max_image_bytes)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidOptions("image_file_b64 is not valid base64", parameter="image_file_b64") from exc
