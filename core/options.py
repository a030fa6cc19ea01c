"""The output options a client can ask for, parsed from strings (form fields, CLI flags, the job row)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import InvalidOptions, OutputTooLarge

OutputFormat = Literal["png", "webp", "jpg"]
Channels = Literal["rgba", "alpha"]
RGBA = tuple[int, int, int, int]

OPTION_KEYS = ("format", "channels", "bg_color", "crop", "crop_margin", "size")
MAX_OUTPUT_SIDE = 16384  # WebP's hard limit; JPEG and PNG go further but nobody needs it

_FORMATS: dict[str, OutputFormat] = {"png": "png", "webp": "webp", "jpg": "jpg", "jpeg": "jpg"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# ASCII digits only, and few of them: int() and float() accept "²" or 5,000 digits, and then fail late
_MARGIN = re.compile(r"([0-9]{1,5}(?:\.[0-9]{1,3})?)(px|%)?")
_SIZE = re.compile(r"[0-9]{1,5}")
FORMAT_MAX_SIDE: dict[OutputFormat, int] = {"png": 1 << 31, "webp": 16383, "jpg": 65500}
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
class OutputOptions:
    format: OutputFormat = "png"
    channels: Channels = "rgba"
    bg_color: RGBA | None = None
    """Composite onto this colour; None keeps the transparency (jpg then uses white)."""
    crop: bool = False
    crop_margin: CropMargin = CropMargin(0, percent=False)
    size: int | None = None
    """Maximum long side of the output; the output is only ever downscaled."""

    def __post_init__(self) -> None:
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

    @property
    def effective_bg(self) -> RGBA | None:
        if self.bg_color is None and self.format == "jpg" and self.channels == "rgba":
            return WHITE
        return self.bg_color

    @classmethod
    def from_params(cls, params: Mapping[str, str], *, strict: bool = False) -> OutputOptions:
        """Parse string options; empty values mean the default. Unknown keys are ignored unless ``strict``."""
        values = {k: v.strip() for k, v in params.items() if v is not None and v.strip() != ""}
        if strict and (unknown := sorted(set(values) - set(OPTION_KEYS))):
            raise InvalidOptions(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(OPTION_KEYS)}")
        fmt = values.get("format", "png").lower()
        if fmt not in _FORMATS:
            raise InvalidOptions(f"format must be png, webp or jpg, got {fmt!r}")
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
