"""The form fields each upload route accepts; any other is refused, never ignored.

An ignored field is a silent wrong answer: a client that sends Lumiku's ``qualityTier=industry`` to
``POST /jobs`` would get a basic cut-out, charged as basic, and never learn why. So an unknown field
is ``422 unknown_field``, naming the field, the one it probably meant, and every accepted name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from core.errors import UnknownField
from core.options import OPTION_KEYS

IMAGE_SOURCES = ("bg_image_file", "bg_image_url")
"""A background image, by upload or by URL (one of them), beside the options."""
JOB_FIELDS = frozenset({"image", "image_url", "tier", *OPTION_KEYS, *IMAGE_SOURCES, "webhook_url"})
BATCH_FIELDS = frozenset({"images", "images[]", "tier", *OPTION_KEYS, *IMAGE_SOURCES, "webhook_url", "name"})

# Names clients send for our fields: other APIs' spellings, camelCase, the original Lumiku frontend's.
_MEANT = {
    "qualityTier": "tier",
    "quality_tier": "tier",
    "quality": "tier",
    "bgColor": "bg_color",
    "cropMargin": "crop_margin",
    "webhookUrl": "webhook_url",
    "batchName": "name",
    "image_file": "image",
    "imageUrl": "image_url",
    "bgImageUrl": "bg_image_url",
    "bg_image": "bg_image_file",
    "file": "image",
}
_LISTED = 20


def _shown(name: str) -> str:
    return repr(name if len(name) <= 64 else name[:64] + "…")


def refuse_unknown(names: Iterable[str], accepted: Collection[str], *, route: str) -> None:
    unknown = sorted(set(names) - set(accepted))
    if not unknown:
        return
    first = unknown[0]
    meant = _MEANT.get(first)
    hint = f"; did you mean {meant!r}?" if meant in accepted else "."
    if first == "qualityTier":
        hint += " (`qualityTier` is the Lumiku clients' name: POST /remove-single takes it.)"
    others = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    raise UnknownField(
        f"{route} does not take the form field {_shown(first)}{others}{hint} "
        f"Accepted fields: {', '.join(sorted(accepted))}.",
        fields=[n[:64] for n in unknown[:_LISTED]],
        accepted=sorted(accepted),
    )
