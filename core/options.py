"""The output options a client can ask for, parsed from strings (form fields, CLI flags, the job row)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import InvalidOptions, OutputTooLarge

OutputFormat = Literal["png", "webp", "jpg", "zip"]
Channels = Literal["rgba", "alpha"]
SubjectType = Literal["auto", "person", "product", "car", "animal", "graphic", "transportation"]
RGBA = tuple[int, int, int, int]

OPTION_KEYS = (
    "format",
    "channels",
    "bg_color",
    "crop",
    "crop_margin",
    "size",
    "roi",
    "scale",
    "position",
    "add_shadow",
    "semitransparency",
    "type",
)
"""What a client may set (form fields, CLI flags)."""
BG_IMAGE_KEY = "bg_image"
"""The storage key of a background image: the API sets it after storing the client's image; a client
never names a key (it would read another user's file)."""
SUBJECT_TYPES: tuple[SubjectType, ...] = ("auto", "person", "product", "car", "animal", "graphic", "transportation")
OBJECT_TYPES = frozenset({"product", "car", "animal", "graphic", "transportation"})
"""Types that take the object path: never the portrait model, even where a face is found."""
MIN_ROI_SIDE = 16
"""The smallest region of interest the models can make sense of, in input pixels."""
MAX_OUTPUT_SIDE = 16384  # WebP's hard limit; JPEG and PNG go further but nobody needs it

_FORMATS: dict[str, OutputFormat] = {"png": "png", "webp": "webp", "jpg": "jpg", "jpeg": "jpg", "zip": "zip"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# ASCII digits only, and few of them: int() and float() accept "²" or 5,000 digits, and then fail late
_MARGIN = re.compile(r"([0-9]{1,5}(?:\.[0-9]{1,3})?)(px|%)?")
_SIZE = re.compile(r"[0-9]{1,5}")
_LENGTH = re.compile(r"([0-9]{1,5}(?:\.[0-9]{1,3})?)(px|%)?")
FORMAT_MAX_SIDE: dict[OutputFormat, int] = {"png": 1 << 31, "webp": 16383, "jpg": 65500, "zip": 65500}
"""The longest side each encoder can write."""
WHITE: RGBA = (255, 255, 255, 255)


@dataclass(frozen=True)
class CropMargin:
    value: float
    percent: bool

    def pixels(self, subject_width: int, subject_height: int) -> int:
        """Percentages are of the subject's longer side, so the margin looks the same at any resolution."""
        if self.percent:
            return round(self.value / 100 * max(subject_width, subject_height))
        return round(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{self.value:g}"


@dataclass(frozen=True)
class Length:
    """A coordinate in pixels or in percent of the image's width or height."""

    value: float
    percent: bool

    def pixels(self, whole: int) -> int:
        return round(self.value / 100 * whole) if self.percent else round(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{self.value:g}px"


@dataclass(frozen=True)
class Roi:
    """remove.bg's region of interest ``x1 y1 x2 y2``: only inside it can anything be foreground."""

    left: Length
    top: Length
    right: Length
    bottom: Length

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels of a ``width`` × ``height`` image, clamped to it."""
        x0, x1 = (min(width, max(0, v.pixels(width))) for v in (self.left, self.right))
        y0, y1 = (min(height, max(0, v.pixels(height))) for v in (self.top, self.bottom))
        if x1 - x0 < MIN_ROI_SIDE or y1 - y0 < MIN_ROI_SIDE:
            raise InvalidOptions(
                f"roi {self} covers {max(0, x1 - x0)}×{max(0, y1 - y0)} px of this {width}×{height} image; "
                f"it must cover at least {MIN_ROI_SIDE}×{MIN_ROI_SIDE} px",
                parameter="roi",
            )
        return x0, y0, x1, y1

    def __str__(self) -> str:
        return " ".join(str(v) for v in (self.left, self.top, self.right, self.bottom))


@dataclass(frozen=True)
class Position:
    """Where the subject's box sits on the canvas: 0 = left/top edge, 1 = right/bottom edge."""

    x: float
    y: float

    def __str__(self) -> str:
        return f"{self.x * 100:g}% {self.y * 100:g}%"


CENTER = Position(0.5, 0.5)


@dataclass(frozen=True)
class OutputOptions:
    format: OutputFormat = "png"
    channels: Channels = "rgba"
    bg_color: RGBA | None = None
    """Composite onto this colour; None keeps the transparency (jpg then uses white)."""
    crop: bool = False
    crop_margin: CropMargin = CropMargin(0, percent=False)
    size: int | None = None
    """Maximum long side of the output; the output is only ever downscaled."""
    roi: Roi | None = None
    """Only this rectangle of the input can be foreground; the output keeps the input's size."""
    scale: float | None = None
    """The subject's box spans this fraction (0.1–1) of the canvas, in its limiting direction."""
    position: Position | None = None
    """Where the subject is laid out; None keeps it where it is (centred when ``scale`` is given)."""
    shadow: bool = False
    """A soft drop and contact shadow under the subject."""
    semitransparency: bool = True
    """False: every pixel is either subject or background (no soft edges, no see-through glass)."""
    subject_type: SubjectType = "auto"
    """``person`` forces the portrait path where the tier has one; object types never take it."""
    bg_image: str | None = None
    """Storage key of an image to composite the cut-out onto (cover-scaled); see :data:`BG_IMAGE_KEY`."""

    def __post_init__(self) -> None:
        if self.bg_color is not None and self.bg_image is not None:
            raise InvalidOptions("give a background colour or a background image, not both", parameter="bg_color")
        if self.format == "zip" and (self.bg_color is not None or self.bg_image is not None):
            raise InvalidOptions(
                "format=zip returns the colours and the alpha matte apart; a background does not apply to it",
                parameter="format",
            )
        if self.format == "zip" and self.channels == "alpha":
            raise InvalidOptions("format=zip already holds the alpha matte (alpha.png); drop channels=alpha")
        if self.channels == "alpha" and (self.bg_image is not None or self.shadow):
            raise InvalidOptions("channels=alpha returns the mask only; a background image or shadow does not apply")
        if self.scale is not None and not 0.1 <= self.scale <= 1.0:
            raise InvalidOptions("scale must be between 10% and 100%", parameter="scale")
        if self.format == "jpg" and self.bg_color is not None and self.bg_color[3] != 255:
            raise InvalidOptions("format=jpg cannot carry transparency: bg_color must be opaque")
        if self.channels == "alpha" and self.bg_color is not None:
            raise InvalidOptions("channels=alpha returns the mask only; bg_color does not apply to it")
        if self.size is not None and not 1 <= self.size <= MAX_OUTPUT_SIDE:
            raise InvalidOptions(f"size must be between 1 and {MAX_OUTPUT_SIDE}")
        if self.crop_margin.value < 0 or (self.crop_margin.percent and self.crop_margin.value > 100):
            raise InvalidOptions("crop_margin must be a non-negative pixel count or a percentage up to 100%")
        if not self.crop_margin.percent and self.crop_margin.value > MAX_OUTPUT_SIDE:
            raise InvalidOptions(f"crop_margin must be at most {MAX_OUTPUT_SIDE} px")

    def output_side(self, width: int, height: int) -> int:
        """The longest side the output can have for an input of ``width`` × ``height`` (crop only shrinks it)."""
        longest = max(width, height)
        return longest if self.size is None else min(longest, self.size)

    def check_output_fits(self, width: int, height: int) -> None:
        """Refuse at submission what the encoder would refuse after the whole model run."""
        side, limit = self.output_side(width, height), FORMAT_MAX_SIDE[self.format]
        if side > limit:
            raise OutputTooLarge(
                f"format={self.format} holds at most {limit} px a side; this output would be {side} px. "
                f"Ask for size={min(limit, MAX_OUTPUT_SIDE)} or another format.",
                maxSide=limit,
            )

    def check_fits(self, width: int, height: int) -> None:
        """Everything about a ``width`` × ``height`` input that can be refused before it is charged."""
        if self.roi is not None:
            self.roi.box(width, height)
        self.check_output_fits(width, height)

    @property
    def effective_bg(self) -> RGBA | None:
        if self.bg_color is None and self.bg_image is None and self.format == "jpg" and self.channels == "rgba":
            return WHITE
        return self.bg_color

    @property
    def layout_position(self) -> Position | None:
        """Where to lay the subject out; None = where it is. Scaling implies centring, as remove.bg does."""
        if self.position is None and self.scale is not None:
            return CENTER
        return self.position

    @property
    def opaque(self) -> bool:
        """Whether the output has no transparency (a solid colour or an image behind the subject)."""
        if self.channels == "alpha" or self.format == "zip":
            return False
        return self.bg_image is not None or (self.effective_bg is not None and self.effective_bg[3] == 255)

    @classmethod
    def from_params(cls, params: Mapping[str, str], *, strict: bool = False) -> OutputOptions:
        """Parse string options; empty values mean the default. Unknown keys are ignored unless ``strict``."""
        values = {k: v.strip() for k, v in params.items() if v is not None and v.strip() != ""}
        if strict and (unknown := sorted(set(values) - {*OPTION_KEYS, BG_IMAGE_KEY})):
            raise InvalidOptions(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}")
        fmt = values.get("format", "png").lower()
        if fmt not in _FORMATS:
            raise InvalidOptions(f"format must be png, webp, jpg or zip, got {fmt[:20]!r}")
        channels = values.get("channels", "rgba").lower()
        if channels not in ("rgba", "alpha"):
            raise InvalidOptions(f"channels must be rgba or alpha, got {channels!r}")
        return cls(
            format=_FORMATS[fmt],
            channels="alpha" if channels == "alpha" else "rgba",
            bg_color=parse_color(values["bg_color"]) if "bg_color" in values else None,
            crop=_parse_bool("crop", values.get("crop", "false")),
            crop_margin=_parse_margin(values.get("crop_margin", "0")),
            size=_parse_size(values["size"]) if "size" in values else None,
            roi=parse_roi(values["roi"]) if "roi" in values else None,
            scale=parse_scale(values.get("scale", "original")),
            position=parse_position(values.get("position", "original")),
            shadow=_parse_bool("add_shadow", values.get("add_shadow", "false")),
            semitransparency=_parse_bool("semitransparency", values.get("semitransparency", "true")),
            subject_type=_parse_type(values.get("type", "auto")),
            bg_image=values.get(BG_IMAGE_KEY),
        )

    def as_params(self) -> dict[str, str]:
        """The inverse of :meth:`from_params` (what the job row stores)."""
        params = {"format": self.format, "channels": self.channels, "crop": "true" if self.crop else "false"}
        if self.bg_color is not None:
            params["bg_color"] = "#{:02x}{:02x}{:02x}{:02x}".format(*self.bg_color)
        if self.crop:
            params["crop_margin"] = str(self.crop_margin)
        if self.size is not None:
            params["size"] = str(self.size)
        # the newer options only when set, so the stored rows and idempotency fingerprints of
        # requests that do not use them stay as they were
        if self.roi is not None:
            params["roi"] = str(self.roi)
        if self.scale is not None:
            params["scale"] = f"{self.scale * 100:g}%"
        if self.position is not None:
            params["position"] = str(self.position)
        if self.shadow:
            params["add_shadow"] = "true"
        if not self.semitransparency:
            params["semitransparency"] = "false"
        if self.subject_type != "auto":
            params["type"] = self.subject_type
        if self.bg_image is not None:
            params[BG_IMAGE_KEY] = self.bg_image
        return params


def parse_color(text: str) -> RGBA:
    """``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` (the ``#`` is optional)."""
    match = _HEX.fullmatch(text.strip())
    if match is None:
        raise InvalidOptions(f"bg_color must be a hex colour like #fff, #ffffff or #ffffff80, got {text!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return (r, g, b, a)


def _parse_bool(name: str, text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidOptions(f"{name} must be true or false, got {text!r}")


def _parse_margin(text: str) -> CropMargin:
    match = _MARGIN.fullmatch(text.lower())
    if match is None:
        raise InvalidOptions(f"crop_margin must be pixels like 20 or a percentage like 5%, got {text[:20]!r}")
    value = float(match.group(1))
    percent = match.group(2) == "%"
    if percent and value > 100:
        raise InvalidOptions(f"crop_margin percentage must be at most 100%, got {text!r}")
    return CropMargin(value, percent=percent)


def _parse_size(text: str) -> int:
    if _SIZE.fullmatch(text) is None:
        raise InvalidOptions(f"size must be a positive integer (max long side in px), got {text[:20]!r}")
    size = int(text)
    if not 1 <= size <= MAX_OUTPUT_SIDE:
        raise InvalidOptions(f"size must be between 1 and {MAX_OUTPUT_SIDE}, got {size}")
    return size


def _parse_length(name: str, text: str) -> Length:
    match = _LENGTH.fullmatch(text)
    if match is None:
        raise InvalidOptions(f"{name}: {text[:20]!r} is not pixels (120px) or a percentage (10%)", parameter=name)
    return Length(float(match.group(1)), percent=match.group(2) == "%")


def parse_roi(text: str) -> Roi:
    """``x1 y1 x2 y2``, each in px (the default unit) or %: ``10% 10% 90% 90%``, ``0px 0px 400px 300px``."""
    parts = text.lower().split()
    if len(parts) != 4:
        raise InvalidOptions(f"roi takes four values, x1 y1 x2 y2 (like 10% 10% 90% 90%); got {text[:40]!r}")
    left, top, right, bottom = (_parse_length("roi", p) for p in parts)
    for length in (left, top, right, bottom):
        if length.percent and length.value > 100:
            raise InvalidOptions("roi percentages must be at most 100%", parameter="roi")
    if right.value <= left.value and right.percent == left.percent:
        raise InvalidOptions("roi: x2 must be right of x1", parameter="roi")
    if bottom.value <= top.value and bottom.percent == top.percent:
        raise InvalidOptions("roi: y2 must be below y1", parameter="roi")
    return Roi(left, top, right, bottom)


def parse_scale(text: str) -> float | None:
    """``original`` (None) or 10%–100% (a bare number is a percentage)."""
    low = text.lower()
    if low == "original":
        return None
    match = _LENGTH.fullmatch(low)
    if match is None or match.group(2) == "px":
        raise InvalidOptions(f"scale must be a percentage from 10% to 100% or original, got {text[:20]!r}")
    value = float(match.group(1))
    if not 10 <= value <= 100:
        raise InvalidOptions(f"scale must be between 10% and 100%, got {text[:20]!r}", parameter="scale")
    return value / 100


def parse_position(text: str) -> Position | None:
    """``original`` (None), ``center``, or one or two percentages (horizontal, vertical)."""
    low = text.lower()
    if low == "original":
        return None
    if low in ("center", "centre"):
        return CENTER
    parts = low.split()
    values: list[float] = []
    for part in parts:
        match = _LENGTH.fullmatch(part)
        if match is None or match.group(2) == "px" or float(match.group(1)) > 100:
            values = []
            break
        values.append(float(match.group(1)) / 100)
    if len(values) not in (1, 2) or len(values) != len(parts):
        raise InvalidOptions(
            f"position must be original, center, or one or two percentages (like 50% 100%), got {text[:30]!r}",
            parameter="position",
        )
    return Position(values[0], values[-1])


def _parse_type(text: str) -> SubjectType:
    low = text.lower()
    for kind in SUBJECT_TYPES:
        if kind == low:
            return kind
    raise InvalidOptions(f"type must be one of {', '.join(SUBJECT_TYPES)}, got {text[:20]!r}", parameter="type")
