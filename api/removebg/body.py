"""Reading a remove.bg request: multipart (``image_file``, ``image_file_b64`` or ``image_url``, and
``bg_image_file`` or ``bg_image_url``), a urlencoded form or JSON (the same without file parts), with the
option fields of :class:`~api.removebg.params.RemoveBgParams`. URLs are only read here; the submission
fetches them (:meth:`api.submissions.Submissions.fetch_image`) once the caller is known to be able to pay."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from api.removebg.params import FIELDS, RemoveBgParams
from core.errors import FileTooLarge, FormFieldTooLarge, InvalidOptions, MissingSource

_DATA_URL = re.compile(r"data:[a-z/+.-]*;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class RemoveBgRequest:
    image: bytes | None
    """The uploaded image; None when it is to be fetched from ``image_url``."""
    image_url: str | None
    filename: str
    params: RemoveBgParams
    bg_image_file: UploadFile | None = None
    bg_image_url: str | None = None

    @property
    def has_background_image(self) -> bool:
        return self.bg_image_file is not None or bool(self.bg_image_url)


async def read_request(request: Request[Any, Any, Any], max_image_bytes: int, max_field_bytes: int) -> RemoveBgRequest:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        if media_type != "multipart/form-data":  # multipart was parsed, bounded, before the handler ran
            _few_fields(await request.body(), b"&", "fields")
        form = await request.form()
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
    elif media_type == "application/json":
        fields = _json_fields(await _whole_body(request))
        files = {}
    else:
        raise InvalidOptions(
            "send multipart/form-data, application/x-www-form-urlencoded or application/json, "
            f"not {media_type or 'no Content-Type'!r}"
        )
    # a urlencoded or JSON body is read whole (within the route's body limit), so its options are only
    # bounded here; multipart's were bounded while they arrived (api/upload_forms.py), with the same answer
    for name, value in fields.items():
        if name != "image_file_b64" and len(value) > max_field_bytes:
            raise FormFieldTooLarge(
                f"The field {name[:64]!r} is longer than {max_field_bytes} bytes; options are short "
                "(the image goes in image_file or image_file_b64).",
                field=name[:64],
                maxBytes=max_field_bytes,
            )
    upload = files.get("image_file")
    encoded = fields.get("image_file_b64")
    url = (fields.get("image_url") or "").strip() or None
    if sum(source is not None and source != "" for source in (upload, encoded, url)) > 1:
        raise InvalidOptions(
            "send one image: image_file, image_file_b64 or image_url, not several", parameter="image_file"
        )
    image: bytes | None = None
    filename = "image"
    if upload is not None:
        image = await upload.read(max_image_bytes + 1)
        filename = upload.filename or "image"
    elif encoded:
        image = _decode_b64(encoded, max_image_bytes)
    elif url is None:
        raise MissingSource("No image given: send image_file (a file part), image_file_b64 or image_url.")
    if image is not None and len(image) > max_image_bytes:
        raise FileTooLarge(f"The image is larger than {max_image_bytes} bytes.", maxBytes=max_image_bytes)
    params = RemoveBgParams(**{name: fields[name] for name in FIELDS if name in fields})
    bg_file = files.get("bg_image_file")
    if fields.get("bg_image_file"):
        raise InvalidOptions("bg_image_file must be a file part (multipart/form-data)", parameter="bg_image_file")
    return RemoveBgRequest(
        image=image,
        image_url=url,
        filename=filename,
        params=params,
        bg_image_file=bg_file,
        bg_image_url=(fields.get("bg_image_url") or "").strip() or None,
    )


MAX_FIELDS = 64
"""remove.bg has about 25 parameters. A urlencoded or JSON body is read whole (up to an image in base64,
~28 MB) and parsing it costs many times its size when it is made of tiny fields or nested containers (a
28 MB ``a=b&a=b…`` was ~0.9 GB of Python objects): so the fields are counted in the bytes first."""

_JSON_SCALARS = dict[str, str | int | float | bool | None]


def _few_fields(body: bytes | bytearray, separator: bytes, what: str) -> None:
    if body.count(separator) >= MAX_FIELDS:
        raise InvalidOptions(f"a remove.bg request has at most {MAX_FIELDS} {what}; this one has more")


async def _whole_body(request: Request[Any, Any, Any]) -> bytearray:
    """The body in one buffer, dropped when the caller is done with it. ``Request.body()`` joins its
    chunks (the body twice for a moment) and keeps the result for the whole request, waits included."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return body


def _json_fields(body: bytes | bytearray) -> dict[str, str]:
    # a JSON object of n scalar fields has n colons outside its strings; a data: URL or an image_url adds
    # a few inside them (base64 has none)
    _few_fields(body, b":", "fields")
    try:
        # typed: a nested array or object is refused where it starts, before it is built
        decoded = msgspec.json.decode(body, type=_JSON_SCALARS)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidOptions(
            "the JSON body must be an object of remove.bg parameters (strings, numbers, booleans or null)"
        ) from exc
    return {key: _text(value) for key, value in decoded.items() if value is not None}


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
        # from the text itself: b64decode would first copy it into bytes, one more image-sized copy
        return binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidOptions("image_file_b64 is not valid base64", parameter="image_file_b64") from exc
