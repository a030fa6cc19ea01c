from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.options import OutputOptions
from engine.render import crop_box, render
from tests.support.engine_images import subject_image


def _alpha() -> NDArray[np.uint8]:
    alpha = np.zeros((48, 64), np.uint8)
    alpha[10:30, 20:40] = 255
    alpha[10:30, 19] = 128
    return alpha


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_default_is_rgba_png_at_input_size() -> None:
    out = render(subject_image(), _alpha(), OutputOptions())
    img = _open(out.data)
    assert (out.media_type, out.extension) == ("image/png", "png")
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (64, 48))
    px = np.asarray(img)
    assert px[20, 30].tolist() == [220, 30, 30, 255]
    assert px[0, 0, 3] == 0 and px[20, 19, 3] == 128
    assert px[0, 0].tolist() == [0, 0, 0, 0]  # invisible pixels carry no colour of the old background


def test_alpha_channel_only_is_greyscale() -> None:
    out = render(subject_image(), _alpha(), OutputOptions(channels="alpha"))
    img = _open(out.data)
    assert img.mode == "L"
    assert np.array_equal(np.asarray(img), _alpha())


def test_bg_color_composites() -> None:
    out = render(subject_image(), _alpha(), OutputOptions.from_params({"bg_color": "#00ff00"}))
    img = _open(out.data)
    assert img.mode == "RGB"
    px = np.asarray(img).astype(int)
    assert px[0, 0].tolist() == [0, 255, 0]
    assert px[20, 30].tolist() == [220, 30, 30]
    assert abs(px[20, 19, 1] - (30 * 128 + 255 * 127) / 255) <= 2  # half red subject, half green


def test_translucent_bg_color_keeps_alpha() -> None:
    out = render(subject_image(), _alpha(), OutputOptions.from_params({"bg_color": "#0000ff80"}))
    px = np.asarray(_open(out.data))
    assert px.shape[2] == 4
    assert px[0, 0].tolist() == [0, 0, 255, 128]
    assert px[20, 30, 3] == 255


def test_jpg_is_on_white_by_default() -> None:
    out = render(subject_image(), _alpha(), OutputOptions(format="jpg"))
    img = _open(out.data)
    assert (img.format, img.mode, out.media_type) == ("JPEG", "RGB", "image/jpeg")
    assert min(np.asarray(img)[0, 0]) > 240


def test_webp_keeps_alpha() -> None:
    out = render(subject_image(), _alpha(), OutputOptions(format="webp"))
    img = _open(out.data)
    assert (img.format, img.mode, out.extension) == ("WEBP", "RGBA", "webp")
    assert np.asarray(img)[0, 0, 3] == 0


def test_crop_with_pixel_and_percent_margins() -> None:
    alpha = _alpha()
    assert crop_box(alpha, OutputOptions(crop=True)) == (19, 10, 40, 30)
    out = render(subject_image(), alpha, OutputOptions.from_params({"crop": "true", "crop_margin": "5"}))
    assert (out.width, out.height) == (21 + 10, 20 + 10)
    out = render(subject_image(), alpha, OutputOptions.from_params({"crop": "true", "crop_margin": "50%"}))
    # 50 % of the longer side (21) = 10 px (rounded half to even), clamped to the image
    assert (out.width, out.height) == (21 + 20, 20 + 20)
    out = render(subject_image(), alpha, OutputOptions.from_params({"crop": "true", "crop_margin": "100"}))
    assert (out.width, out.height) == (64, 48)


def test_size_only_downscales() -> None:
    out = render(subject_image(), _alpha(), OutputOptions(size=32))
    assert (out.width, out.height) == (32, 24)
    assert _open(out.data).size == (32, 24)
    out = render(subject_image(), _alpha(), OutputOptions(size=1000))
    assert (out.width, out.height) == (64, 48)


def test_foreground_box_is_in_output_coordinates() -> None:
    alpha = _alpha()  # subject at x 19..39, y 10..29
    assert render(subject_image(), alpha, OutputOptions()).foreground == (19, 10, 21, 20)
    # the same box whatever the colours: a jpg on white has no alpha left to measure, the result still knows it
    assert render(subject_image(), alpha, OutputOptions(format="jpg")).foreground == (19, 10, 21, 20)
    cropped = render(subject_image(), alpha, OutputOptions.from_params({"crop": "true", "crop_margin": "5"}))
    assert cropped.foreground == (5, 5, 21, 20)
    halved = render(subject_image(), alpha, OutputOptions(size=32))
    left, top, width, height = halved.foreground
    assert (9 <= left <= 10, top == 5, 10 <= width <= 12, height == 10) == (True, True, True, True)
    empty = render(subject_image(), np.zeros((48, 64), np.uint8), OutputOptions())
    assert empty.foreground == (0, 0, 0, 0)


def _options(**params: str) -> OutputOptions:
    return OutputOptions.from_params(params)


def _big_subject() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    rgb = np.full((200, 300, 3), 90, np.uint8)
    alpha = np.zeros((200, 300), np.uint8)
    alpha[20:60, 30:90] = 255  # a 60×40 subject near the top left
    rgb[20:60, 30:90] = (200, 40, 40)
    return rgb, alpha


def test_scale_and_position_lay_the_subject_out_on_the_same_canvas() -> None:
    rgb, alpha = _big_subject()
    centred = render(rgb, alpha, _options(scale="50%"))
    assert (centred.width, centred.height) == (300, 200)
    # 60×40 → 50 % of the canvas in its limiting direction: 150×100, centred
    assert centred.foreground == (75, 50, 150, 100)
    placed = render(rgb, alpha, _options(scale="50%", position="0% 100%"))
    assert placed.foreground == (0, 100, 150, 100)
    moved = render(rgb, alpha, _options(position="center"))
    assert moved.foreground == (120, 80, 60, 40)  # same size, centred
    assert np.asarray(_open(moved.data))[100, 150].tolist() == [200, 40, 40, 255]


def test_a_shadow_adds_shade_under_the_subject_only() -> None:
    rgb, alpha = _big_subject()
    plain = np.asarray(_open(render(rgb, alpha, _options(bg_color="#ffffff")).data)).astype(int)
    shaded = np.asarray(_open(render(rgb, alpha, _options(bg_color="#ffffff", add_shadow="true")).data)).astype(int)
    below = shaded[61:66, 40:80]  # just under the subject's bottom edge
    assert below.mean() < plain[61:66, 40:80].mean() - 20
    assert (shaded[150:, 200:] == 255).all()  # far away: untouched white
    assert (shaded[25:55, 35:85] == plain[25:55, 35:85]).all()  # the subject itself is not darkened
    transparent = np.asarray(_open(render(rgb, alpha, _options(add_shadow="true")).data))
    assert transparent[63, 60, 3] > 0 and transparent[63, 60, :3].max() == 0  # black, partly opaque
    assert transparent[150, 250, 3] == 0


def test_a_background_image_is_cover_scaled_behind_the_subject() -> None:
    rgb, alpha = _big_subject()
    behind = np.zeros((50, 50, 3), np.uint8)
    behind[:, :25] = (0, 0, 255)
    behind[:, 25:] = (0, 255, 0)
    out = render(rgb, alpha, _options(bg_image="backgrounds/b.png"), background=behind)
    img = _open(out.data)
    assert img.mode == "RGB" and img.size == (300, 200)
    px = np.asarray(img)
    # a 50×50 square covering 300×200 is cut at top and bottom: blue left half, green right half
    assert px[150, 10].tolist() == [0, 0, 255] and px[150, 290].tolist() == [0, 255, 0]
    assert px[40, 60].tolist() == [200, 40, 40]


def test_semitransparency_false_gives_a_hard_alpha() -> None:
    out = render(subject_image(), _alpha(), _options(semitransparency="false"))
    assert set(np.unique(np.asarray(_open(out.data))[:, :, 3]).tolist()) == {0, 255}


def test_zip_holds_remove_bg_colour_and_alpha() -> None:
    import zipfile

    out = render(subject_image(), _alpha(), _options(format="zip"))
    assert (out.media_type, out.extension) == ("application/zip", "zip")
    with zipfile.ZipFile(io.BytesIO(out.data)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        colour = _open(archive.read("color.jpg"))
        matte = _open(archive.read("alpha.png"))
    assert (colour.format, colour.mode, colour.size) == ("JPEG", "RGB", (64, 48))
    assert matte.mode == "L" and np.array_equal(np.asarray(matte), _alpha())
