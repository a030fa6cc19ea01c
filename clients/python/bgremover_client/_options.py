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
    ``bg_image_url``: composite onto the image at this URL (cover-scaled), fetched by the server; a local
    background image is ``submit(background=...)``. ``roi``: ``"x1 y1 x2 y2"`` in px or %, the only
    region that can be foreground. ``scale``: the subject's share of the canvas (``80`` or ``"80%"``,
    10–100); ``position``: ``"center"``, ``"50% 100%"`` (implied ``center`` when scaling). ``shadow``:
    a soft shadow under the subject. ``semitransparency=False``: a hard alpha. ``subject_type``:
    ``person``, ``product``, ``car``, ``animal``, … (remove.bg's ``type``). ``format="zip"`` gives
    ``color.jpg`` + ``alpha.png``.
    """

    format: str | None = None
    channels: str | None = None
    bg_color: str | None = None
    crop: bool | None = None
    crop_margin: str | int | float | None = None
    size: int | None = None
    bg_image_url: str | None = None
    roi: str | None = None
    scale: str | int | float | None = None
    position: str | None = None
    shadow: bool | None = None
    semitransparency: bool | None = None
    subject_type: str | None = None

    def to_fields(self) -> dict[str, str]:
        """The form fields for these options (unset ones are left out)."""
        return encode_options(
            format=self.format,
            channels=self.channels,
            bg_color=self.bg_color,
            crop=self.crop,
            crop_margin=self.crop_margin,
            size=self.size,
            bg_image_url=self.bg_image_url,
            roi=self.roi,
            scale=self.scale,
            position=self.position,
            shadow=self.shadow,
            semitransparency=self.semitransparency,
            subject_type=self.subject_type,
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
    bg_image_url: str | None = None,
    roi: str | None = None,
    scale: str | int | float | None = None,
    position: str | None = None,
    shadow: bool | None = None,
    semitransparency: bool | None = None,
    subject_type: str | None = None,
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
    for name, text in (("bg_image_url", bg_image_url), ("roi", roi), ("position", position), ("type", subject_type)):
        if text is not None and text.strip():
            fields[name] = text.strip()
    if scale is not None and scale != "":
        if isinstance(scale, bool):
            raise TypeError("scale must be a percentage like 80 or '80%'")
        fields["scale"] = scale.strip() if isinstance(scale, str) else _number(scale) + "%"
    if shadow is not None:
        fields["add_shadow"] = "true" if shadow else "false"
    if semitransparency is not None:
        fields["semitransparency"] = "true" if semitransparency else "false"
    return fields


class OptionArgs(TypedDict, total=False):
    """The output options as keyword arguments of ``submit()`` and ``submit_batch()``."""

    format: str | None
    channels: str | None
    bg_color: str | None
    crop: bool | None
    crop_margin: str | int | float | None
    size: int | None
    bg_image_url: str | None
    roi: str | None
    scale: str | int | float | None
    position: str | None
    shadow: bool | None
    semitransparency: bool | None
    subject_type: str | None


def merge_options(options: OutputOptions | None, overrides: OptionArgs) -> dict[str, str]:
    """Form fields of ``options`` with keyword ``overrides`` on top (a None override keeps the option)."""
    base = options.to_fields() if options is not None else {}
    base.update(encode_options(**overrides))
    return base
