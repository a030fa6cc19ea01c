from __future__ import annotations

import pytest

from core.errors import InvalidOptions
from core.options import CropMargin, OutputOptions, Position, parse_color


def test_defaults() -> None:
    opts = OutputOptions.from_params({})
    assert opts == OutputOptions()
    assert (opts.format, opts.channels, opts.bg_color, opts.crop, opts.size) == ("png", "rgba", None, False, None)
    assert opts.effective_bg is None


def test_full_parse() -> None:
    opts = OutputOptions.from_params(
        {"format": "JPEG", "bg_color": "#0f0", "crop": "yes", "crop_margin": "5%", "size": "800", "tier": "basic"}
    )
    assert opts.format == "jpg"
    assert opts.bg_color == (0, 255, 0, 255)
    assert opts.crop and opts.crop_margin == CropMargin(5, percent=True)
    assert opts.size == 800


def test_empty_values_mean_default() -> None:
    assert OutputOptions.from_params({"format": "", "size": " ", "bg_color": ""}) == OutputOptions()


def test_jpg_defaults_to_white_background() -> None:
    assert OutputOptions.from_params({"format": "jpg"}).effective_bg == (255, 255, 255, 255)


@pytest.mark.parametrize(
    ("text", "rgba"),
    [
        ("#fff", (255, 255, 255, 255)),
        ("336699", (0x33, 0x66, 0x99, 255)),
        ("#33669980", (0x33, 0x66, 0x99, 0x80)),
        ("#ABCDEF", (0xAB, 0xCD, 0xEF, 255)),
    ],
)
def test_colours(text: str, rgba: tuple[int, int, int, int]) -> None:
    assert parse_color(text) == rgba


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "gif"}, "format must be png, webp, jpg or zip"),
        ({"roi": "10% 10% 90%"}, "roi takes four values"),
        ({"roi": "50% 10% 40% 90%"}, "x2 must be right of x1"),
        ({"roi": "0 0 10em 10"}, "is not pixels"),
        ({"scale": "5%"}, "between 10% and 100%"),
        ({"scale": "120px"}, "scale must be a percentage"),
        ({"position": "left"}, "position must be original, center"),
        ({"position": "10% 20% 30%"}, "position must be original, center"),
        ({"add_shadow": "perhaps"}, "add_shadow must be true or false"),
        ({"type": "cat"}, "type must be one of"),
        ({"format": "zip", "bg_color": "#fff"}, "a background does not apply"),
        ({"channels": "alpha", "add_shadow": "true"}, "shadow does not apply"),
        ({"bg_color": "#fff", "bg_image": "backgrounds/x.jpg"}, "not both"),
        ({"channels": "rgb"}, "channels must be rgba or alpha"),
        ({"bg_color": "red"}, "bg_color must be a hex colour"),
        ({"bg_color": "#12345"}, "bg_color must be a hex colour"),
        ({"crop": "maybe"}, "crop must be true or false"),
        ({"crop": "true", "crop_margin": "-3"}, "crop_margin must be pixels"),
        ({"crop": "true", "crop_margin": "5em"}, "crop_margin must be pixels"),
        ({"crop": "true", "crop_margin": "150%"}, "at most 100%"),
        ({"size": "0"}, "size must be between"),
        ({"size": "big"}, "size must be a positive integer"),
        ({"size": "99999"}, "size must be between"),
        ({"format": "jpg", "bg_color": "#ffffff80"}, "jpg cannot carry transparency"),
        ({"channels": "alpha", "bg_color": "#fff"}, "bg_color does not apply"),
    ],
)
def test_invalid_options_say_what_is_wrong(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidOptions) as err:
        OutputOptions.from_params(params)
    assert message in err.value.detail
    assert err.value.code == "invalid_options"


def test_strict_refuses_unknown_keys() -> None:
    with pytest.raises(InvalidOptions, match="unknown option"):
        OutputOptions.from_params({"fromat": "png"}, strict=True)
    assert OutputOptions.from_params({"fromat": "png"}) == OutputOptions()


def test_round_trip_through_params() -> None:
    opts = OutputOptions.from_params(
        {"format": "webp", "bg_color": "#11223344", "crop": "1", "crop_margin": "12", "size": "640"}
    )
    assert OutputOptions.from_params(opts.as_params()) == opts


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        OutputOptions().format = "jpg"  # type: ignore[misc]


def test_margin_pixels() -> None:
    assert CropMargin(10, percent=True).pixels(200, 100) == 20
    assert CropMargin(7, percent=False).pixels(200, 100) == 7


def test_layout_options_read_like_remove_bg() -> None:
    opts = OutputOptions.from_params(
        {"roi": "10% 0px 90% 300", "scale": "80%", "add_shadow": "true", "semitransparency": "false", "type": "product"}
    )
    assert opts.roi is not None and opts.roi.box(1000, 500) == (100, 0, 900, 300)
    assert opts.scale == 0.8 and opts.layout_position == Position(0.5, 0.5)  # scaling implies centring
    assert opts.shadow and not opts.semitransparency and opts.subject_type == "product"
    assert OutputOptions.from_params(opts.as_params()) == opts
    assert OutputOptions.from_params({"position": "25% 100%"}).layout_position == Position(0.25, 1.0)
    assert OutputOptions.from_params({"position": "0%"}).layout_position == Position(0.0, 0.0)
    assert OutputOptions.from_params({"scale": "original", "position": "original"}).layout_position is None
    # options a client did not use leave the stored row (and idempotency fingerprints) as they were
    assert OutputOptions().as_params() == {"format": "png", "channels": "rgba", "crop": "false"}


def test_a_roi_too_small_for_the_image_is_refused_before_any_work() -> None:
    opts = OutputOptions.from_params({"roi": "0 0 10px 400px"})
    with pytest.raises(InvalidOptions) as err:
        opts.check_fits(800, 600)
    assert "at least 16×16 px" in err.value.detail
