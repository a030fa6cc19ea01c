"""Output options of a job or batch, encoded as the multipart form fields the API reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

__all__ = ["OptionArgs", "OutputOptions", "encode_options", "merge_options"]


@dataclass(frozen=True)
class OutputOptions:
    """What the cut-out should look like; ``None`` leaves the server's default.

    ``format``: ``png`` (default), ``webp`` or ``jpg``. ``channels``: ``rgba`` (default) or ``alpha``
    (the mask only). ``bg_color``: ``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` to composite onto a colour.
    ``crop``: crop to the subject, with ``crop_margin`` pixels (``12``) or percent (``"5%"``) around it.
    ``size``: maximum long side of the output (only ever downscaled).
    """

    format: str | None = None
    channels: str | None = None
    bg_color: str | None = None
    crop: bool | None = None
    crop_margin: str | int | float | None = None
    size: int | None = None

    def to_fields(self) -> dict[str, str]:
        """The form fields for these options (unset ones are left out)."""
        return encode_options(
            format=self.format,
            channels=self.channels,
            bg_color=self.bg_color,
            crop=self.crop,
            crop_margin=self.crop_margin,
            size=self.size,
        )


def _number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def encode_options(
    *,
    format: str | None = None,
    channels: str | None = None,
    bg_color: str | None = None,
    crop: bool | None = None,
    crop_margin: str | int | float | None = None,
    size: int | None = None,
) -> dict[str, str]:
    """Form fields for the given options: booleans as ``true``/``false``, numbers without a trailing ``.0``,
    colours with their ``#``; ``None`` (and empty strings) are omitted so the server default applies."""
    fields: dict[str, str] = {}
    if format:
        fields["format"] = format.strip().lower()
    if channels:
        fields["channels"] = channels.strip().lower()
    if bg_color:
        color = bg_color.strip()
        fields["bg_color"] = color if color.startswith("#") else "#" + color
    if crop is not None:
        fields["crop"] = "true" if crop else "false"
    if crop_margin is not None and crop_margin != "":
        if isinstance(crop_margin, bool):
            raise TypeError("crop_margin must be a number or a string like '5%'")
        fields["crop_margin"] = crop_margin.strip() if isinstance(crop_margin, str) else _number(crop_margin)
    if size is not None:
        if isinstance(size, bool):
            raise TypeError("size must be an integer")
        fields["size"] = str(int(size))
    return fields


class OptionArgs(TypedDict, total=False):
    """The output options as keyword arguments of ``submit()`` and ``submit_batch()``."""

    format: str | None
    channels: str | None
    bg_color: str | None
    crop: bool | None
    crop_margin: str | int | float | None
    size: int | None


def merge_options(options: OutputOptions | None, overrides: OptionArgs) -> dict[str, str]:
    """Form fields of ``options`` with keyword ``overrides`` on top (a None override keeps the option)."""
    base = options.to_fields() if options is not None else {}
    base.update(encode_options(**overrides))
    return base
