"""The multipart forms the original clients send, read into what ``Submissions`` takes.

- backend ``POST /remove``: ``image``, ``tier``; frontend ``POST /remove-single``: ``image``, ``qualityTier``
- backend ``POST /batch``: ``tier`` and files under any key starting ``images[`` (``images[0]``, ``images[]``);
  frontend ``POST /remove-batch``: ``images`` (repeated), ``qualityTier``, optional ``batchName``

Either tier name is taken on every route (the two clients disagreed; a client of one sending the
other's name must not get the default tier). A tier is required, as the original required one, and any
other field is refused like on our own routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.datastructures import UploadFile

from api.form_fields import refuse_unknown
from api.submissions import form_fields
from core.errors import InvalidOptions, UnknownTier
from core.tiers import TIERS

_TIER_FIELDS = ("tier", "qualityTier")
SINGLE_FIELDS = frozenset({"image", *_TIER_FIELDS})
_BATCH_TEXT_FIELDS = frozenset({*_TIER_FIELDS, "batchName"})


@dataclass(frozen=True)
class SingleForm:
    image: UploadFile
    tier: str


@dataclass(frozen=True)
class BatchForm:
    images: list[UploadFile]
    tier: str
    name: str | None


def _tier(text: dict[str, str]) -> str:
    given = {text[name].strip() for name in _TIER_FIELDS if name in text}
    if len(given) > 1:
        raise InvalidOptions("`tier` and `qualityTier` disagree; send one of them", parameter="tier")
    if not given:
        raise UnknownTier(None, tuple(TIERS), source="tier` (or `qualityTier")
    return given.pop()


def _is_batch_file_key(name: str) -> bool:
    return name == "images" or name.startswith("images[")


def single_form(form: dict[str, Any], route: str) -> SingleForm:
    refuse_unknown(form.keys(), SINGLE_FIELDS, route=route)
    image = form.get("image")
    if isinstance(image, list):
        raise InvalidOptions(f"{route} takes one image; send several with POST /remove-batch", parameter="image")
    if not isinstance(image, UploadFile):
        raise InvalidOptions("Send the image as a file part named `image`", parameter="image")
    return SingleForm(image=image, tier=_tier(form_fields(form)))


def batch_form(form: dict[str, Any], route: str) -> BatchForm:
    file_keys = [k for k in form if _is_batch_file_key(k)]
    refuse_unknown([k for k in form if k not in file_keys], _BATCH_TEXT_FIELDS | {"images", "images[]"}, route=route)
    files: list[UploadFile] = []
    for key in file_keys:
        value = form[key]
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, UploadFile):
                raise InvalidOptions(f"`{key[:64]}` must be a file part", parameter=key[:64])
            files.append(item)
    text = form_fields({k: v for k, v in form.items() if k not in file_keys})
    return BatchForm(images=files, tier=_tier(text), name=text.get("batchName"))
