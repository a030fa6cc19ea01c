"""Real photos for end-to-end tests: the annotated quokka that `make eval-assets` installs, and variants."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from core.settings import Settings


def quokka_path(settings: Settings) -> Path:
    path = settings.model_dir / "quokka.jpg"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make eval-assets` (`make test` does)")
    return path


def quokka(settings: Settings) -> bytes:
    return quokka_path(settings).read_bytes()


def variant(settings: Settings, index: int, *, fmt: str = "JPEG", size: tuple[int, int] | None = None) -> bytes:
    """A distinct photo per index: a shifted crop of the quokka, so idempotency fingerprints differ."""
    with Image.open(quokka_path(settings)) as img:
        rgb = img.convert("RGB")
        dx = (index * 7) % 60
        dy = (index * 3) % 40
        crop = rgb.crop((dx, dy, rgb.width - 60 + dx, rgb.height - 40 + dy))
        if size is not None:
            crop = crop.resize(size)
        out = io.BytesIO()
        crop.save(out, format=fmt, quality=90)
        return out.getvalue()


def truncated_jpeg(settings: Settings) -> bytes:
    """A JPEG whose header is intact but whose pixel data stops early: passes upload checks, fails decoding."""
    data = quokka(settings)
    return data[: len(data) // 3]


BLUE, GREEN = (0, 0, 255), (0, 255, 0)


def striped_backdrop(size: tuple[int, int] = (400, 300)) -> bytes:
    """A PNG background whose left half is pure blue and right half pure green: easy to recognise
    behind a cut-out, and its cover-scaled seam stays in the middle."""
    width, height = size
    img = Image.new("RGB", size, GREEN)
    img.paste(Image.new("RGB", (width // 2, height), BLUE), (0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
