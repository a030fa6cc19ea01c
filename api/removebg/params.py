"""remove.bg's request parameters, translated onto this service's output options. Pure: no I/O.

Every remove.bg parameter maps onto :mod:`core.options`; a value remove.bg itself would refuse is
``invalid_parameter``, and the one shape the engine cannot honour (different crop margins per side)
is ``unsupported_parameter``, never silently ignored. The table is in docs/compat.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from core.errors import InvalidOptions
from core.options import parse_color


class UnsupportedParameter(InvalidOptions):
    """A remove.bg parameter value this service does not implement (a margin per side)."""

    code = "unsupported_parameter"
    title = "Unsupported parameter"


SIZE_MEGAPIXELS: dict[str, float | None] = {
    "preview": 0.25,
    "small": 0.25,
    "regular": 0.25,
    "medium": 1.5,
    "hd": 4.0,
    "full": None,
    "4k": None,
    "50mp": None,
    "auto": None,
}
"""remove.bg's sizes as a megapixel budget for the output (None: the input's own resolution)."""
DEFAULT_SIZE = "preview"  # remove.bg's own default
TYPES = frozenset({"auto", "person", "product", "car", "animal", "graphic", "transportation"})
TYPE_LEVELS = frozenset({"none", "1", "2", "latest"})
FORMATS = frozenset({"auto", "png", "jpg", "webp", "zip"})
# remove.bg accepts colour names too; these are CSS's basic ones (anything else: a hex value)
COLOR_NAMES = {
    "black": "000000",
    "silver": "c0c0c0",
    "gray": "808080",
    "grey": "808080",
    "white": "ffffff",
    "maroon": "800000",
    "red": "ff0000",
    "purple": "800080",
    "fuchsia": "ff00ff",
    "green": "008000",
    "lime": "00ff00",
    "olive": "808000",
    "yellow": "ffff00",
    "navy": "000080",
    "blue": "0000ff",
    "teal": "008080",
    "aqua": "00ffff",
    "orange": "ffa500",
}
_MARGIN = re.compile(r"([0-9]{1,5}(?:\.[0-9]{1,3})?)(px|%)?")


@dataclass(frozen=True)
class RemoveBgParams:
    """The text fields a remove.bg client sends (multipart, form or JSON), as sent; None when absent."""

    size: str | None = None
    type: str | None = None
    type_level: str | None = None
    format: str | None = None
    bg_color: str | None = None
    crop: str | None = None
    crop_margin: str | None = None
    channels: str | None = None
    roi: str | None = None
    scale: str | None = None
    position: str | None = None
    semitransparency: str | None = None
    add_shadow: str | None = None


FIELDS = tuple(RemoveBgParams.__dataclass_fields__)


@dataclass(frozen=True)
class Translation:
    options: dict[str, str]
    """Our option fields (``format``, ``bg_color``, ``roi``, ``scale``, …) as ``core.options`` parses them."""
    megapixels: float | None
    """The output's pixel budget (``size``); turned into our ``size`` once the input's size is known."""
    type: str
    """What ``X-Type`` answers: the client's ``type``, or ``other`` for ``auto`` (no classifier here)."""


def translate(params: RemoveBgParams, *, bg_image: bool = False) -> Translation:
    """``bg_image``: the request carries a background image (``bg_image_file`` or ``bg_image_url``)."""
    size = _choice("size", params.size or DEFAULT_SIZE, SIZE_MEGAPIXELS)
    kind = _choice("type", params.type or "auto", TYPES)
    _choice("type_level", params.type_level or "1", TYPE_LEVELS)  # accepted, nothing to classify
    channels = _choice("channels", params.channels or "rgba", frozenset({"rgba", "alpha"}))
    options: dict[str, str] = {"channels": channels}
    bg = _bg_color(params.bg_color)
    if bg is not None:
        options["bg_color"] = bg
    options["format"] = _format(params.format, channels, bg, bg_image=bg_image)
    if params.crop:
        options["crop"] = params.crop
    if params.crop_margin:
        options["crop_margin"] = _crop_margin(params.crop_margin)
    # the same syntax as remove.bg's: core.options parses and explains them
    for name in ("roi", "scale", "position", "add_shadow", "semitransparency"):
        value = getattr(params, name)
        if value is not None and value.strip():
            options[name] = value.strip()
    if kind != "auto":
        options["type"] = kind
    return Translation(options=options, megapixels=SIZE_MEGAPIXELS[size], type="other" if kind == "auto" else kind)


def output_size(width: int, height: int, megapixels: float | None) -> int | None:
    """Our ``size`` (longest side) that keeps a ``width`` × ``height`` output within ``megapixels``."""
    if megapixels is None or width * height <= megapixels * 1_000_000:
        return None
    scale = math.sqrt(megapixels * 1_000_000 / (width * height))
    return max(1, math.floor(max(width, height) * scale))


def _choice(name: str, value: str, allowed: frozenset[str] | dict[str, float | None]) -> str:
    low = value.strip().lower()
    if low not in allowed:
        raise InvalidOptions(f"{name} must be one of {', '.join(sorted(allowed))}; got {value[:30]!r}", parameter=name)
    return low


def _format(value: str | None, channels: str, bg_color: str | None, *, bg_image: bool) -> str:
    fmt = _choice("format", (value or "auto").strip().lower(), FORMATS)
    if fmt != "auto":
        return fmt
    # remove.bg's auto: PNG where there is transparency, JPG where there is none
    opaque = channels == "rgba" and (bg_image or (bg_color is not None and parse_color(bg_color)[3] == 255))
    return "jpg" if opaque else "png"


def _bg_color(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    text = value.strip().lower()
    text = COLOR_NAMES.get(text, text)
    parse_color(text)  # raises InvalidOptions for anything that is not a colour
    return text


def _crop_margin(value: str) -> str:
    """remove.bg takes 1 to 4 margins ("10px", "5%", "10px 20px"); the engine has one for all sides."""
    parts = value.strip().lower().split()
    if not parts or any(_MARGIN.fullmatch(p) is None for p in parts):
        raise InvalidOptions(f"crop_margin must be pixels (30px) or a percentage (10%); got {value[:30]!r}")
    if len(parts) > 4:
        raise InvalidOptions("crop_margin takes at most 4 values", parameter="crop_margin")
    if len(set(parts)) > 1:
        raise UnsupportedParameter(
            "crop_margin with different margins per side is not supported: give one margin for all sides",
            parameter="crop_margin",
        )
    return parts[0].removesuffix("px")
