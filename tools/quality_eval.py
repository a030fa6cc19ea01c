"""Quality report per tier against exact ground truth (``make eval``)::

    python -m tools.quality_eval --out reports/

Test set, all offline: the imgaug quokka photo with its annotated polygon (fetched into the model cache
like the weights), and copy-paste composites — a subject with an exact alpha (the quokka cut along its
polygon; scikit-image's horse silhouette, soft-edged, filled with cat fur) pasted on six scikit-image
photos. Writes ``quality.md`` (IoU, MAE, SAD, gradient error) and ``tiers_grid.png``.
scikit-image is a dev/eval dependency only.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.model_manifest import EVAL_ASSETS
from core.options import OutputOptions
from core.settings import Settings, get_settings
from engine.model_fetch import run_fetch
from engine.pipeline import Engine
from tools.quality_metrics import MatteScores, score

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]
CANVAS = (960, 720)  # composites' size (w, h)


@dataclass(frozen=True)
class Sample:
    name: str
    rgb: U8
    alpha: F32
    kind: str  # "real" (polygon annotation) or "composite" (exact alpha)


def _antialiased_polygon(points: NDArray[np.float64], width: int, height: int, factor: int = 4) -> F32:
    big = np.zeros((height * factor, width * factor), np.uint8)
    cv2.fillPoly(big, [np.round(points * factor).astype(np.int32)], 255, lineType=cv2.LINE_AA)
    small = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.float32) / 255.0


def quokka(model_dir: Path) -> tuple[U8, F32]:
    """The real photo and its polygon outline as an (anti-aliased) alpha."""
    with Image.open(model_dir / "quokka.jpg") as img:
        rgb = np.asarray(img.convert("RGB"))
    ann = json.loads((model_dir / "quokka_annotations.json").read_text())
    points = np.array([[p["x"], p["y"]] for p in ann["polygons"][0]["keypoints"]], dtype=np.float64)
    return np.ascontiguousarray(rgb), _antialiased_polygon(points, rgb.shape[1], rgb.shape[0])


def _as_rgb(img: NDArray[np.generic]) -> U8:
    arr = np.asarray(img)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3].astype(np.uint8))


def subjects(model_dir: Path) -> Iterator[tuple[str, U8, F32]]:
    """(name, colours, exact alpha), cropped to the subject."""
    import skimage.data as skd  # eval-only dependency

    rgb, alpha = quokka(model_dir)
    ys, xs = np.nonzero(alpha > 0)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    yield "quokka-cut", rgb[box], alpha[box]

    horse = ~np.asarray(skd.horse())  # type: ignore[no-untyped-call]  # True = horse
    # make its edge soft like a real photo's
    horse_u8 = np.asarray(horse, dtype=np.uint8) * np.uint8(255)
    big = cv2.resize(horse_u8, (horse.shape[1] * 2, horse.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
    soft = cv2.GaussianBlur(big.astype(np.float32) / 255.0, (0, 0), 1.2)
    fur = cv2.resize(
        np.asarray(skd.chelsea()),  # type: ignore[no-untyped-call]
        (soft.shape[1], soft.shape[0]),
        interpolation=cv2.INTER_CUBIC,
    )
    ys, xs = np.nonzero(soft > 0.002)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    yield "horse-fur", np.ascontiguousarray(fur[box]), np.asarray(soft[box], np.float32)


def backgrounds() -> Iterator[tuple[str, U8]]:
    import skimage.data as skd

    # coffee and rocket hold salient objects of their own: the hard cases for a saliency model
    for name in ("grass", "brick", "gravel", "hubble_deep_field", "coffee", "rocket"):
        img = _as_rgb(getattr(skd, name)())
        yield name, np.asarray(cv2.resize(img, CANVAS, interpolation=cv2.INTER_CUBIC), np.uint8)


def composite(fg: U8, alpha: F32, bg: U8, height_fraction: float = 0.7) -> tuple[U8, F32]:
    """Paste ``fg`` (scaled to a fraction of the canvas height) in the middle of ``bg``; exact alpha out."""
    bh, bw = bg.shape[:2]
    scale = min(height_fraction * bh / fg.shape[0], 0.9 * bw / fg.shape[1])
    size = (max(1, round(fg.shape[1] * scale)), max(1, round(fg.shape[0] * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    fg_s = cv2.resize(fg, size, interpolation=interp).astype(np.float32)
    a_s = np.clip(cv2.resize(alpha, size, interpolation=interp), 0.0, 1.0)
    x0, y0 = (bw - size[0]) // 2, (bh - size[1]) // 2
    truth = np.zeros((bh, bw), np.float32)
    truth[y0 : y0 + size[1], x0 : x0 + size[0]] = a_s
    placed = np.zeros_like(bg, dtype=np.float32)
    placed[y0 : y0 + size[1], x0 : x0 + size[0]] = fg_s
    out = placed * truth[:, :, None] + bg.astype(np.float32) * (1.0 - truth[:, :, None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), truth


def samples(model_dir: Path) -> list[Sample]:
    rgb, alpha = quokka(model_dir)
    out = [Sample("quokka (real photo, polygon)", rgb, alpha, "real")]
    bgs = list(backgrounds())
    for subject_name, fg, fg_alpha in subjects(model_dir):
        for bg_name, bg in bgs:
            img, truth = composite(fg, fg_alpha, bg)
            out.append(Sample(f"{subject_name} on {bg_name}", img, truth, "composite"))
    return out


def _png(rgb: U8) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    assert ok
    return buf.tobytes()


@dataclass(frozen=True)
class Result:
    sample: str
    kind: str
    tier: str
    scores: MatteScores
    seconds: float


def evaluate(engine: Engine, items: list[Sample]) -> tuple[list[Result], dict[tuple[str, str], U8]]:
    results: list[Result] = []
    cutouts: dict[tuple[str, str], U8] = {}
    for sample in items:
        data = _png(sample.rgb)
        for tier, available in engine.available_tiers().items():
            if not available:
                continue
            start = time.perf_counter()
            cut = engine.remove(data, tier, OutputOptions())
            seconds = time.perf_counter() - start
            with Image.open(io.BytesIO(cut.data)) as img:
                rgba = np.asarray(img.convert("RGBA"))
            alpha = rgba[:, :, 3].astype(np.float32) / 255.0
            results.append(Result(sample.name, sample.kind, tier, score(alpha, sample.alpha), seconds))
            cutouts[(sample.name, tier)] = rgba
    return results, cutouts


def _checkerboard(height: int, width: int, cell: int = 12) -> NDArray[np.float32]:
    yy, xx = np.mgrid[:height, :width]
    board = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 200.0, 150.0).astype(np.float32)
    return np.repeat(board[:, :, None], 3, axis=2)


def grid(items: list[Sample], cutouts: dict[tuple[str, str], U8], tiers: list[str], thumb_w: int = 220) -> U8:
    """Rows: samples; columns: input, truth, then mask and cut-out (on a checkerboard) per tier."""
    rows = []
    header_h = 26
    labels = ["input", "ground truth"] + [f"{t} {what}" for t in tiers for what in ("mask", "cut-out")]
    for sample in items:
        h, w = sample.alpha.shape
        th = round(h * thumb_w / w)

        def fit(img: NDArray[np.generic], th: int = th) -> U8:
            return np.asarray(cv2.resize(np.asarray(img, np.uint8), (thumb_w, th), interpolation=cv2.INTER_AREA))

        cells = [fit(sample.rgb), fit(np.repeat((sample.alpha * 255)[:, :, None], 3, axis=2))]
        for tier in tiers:
            rgba = cutouts[(sample.name, tier)]
            a = rgba[:, :, 3:].astype(np.float32) / 255.0
            on_board = rgba[:, :, :3] * a + _checkerboard(h, w) * (1.0 - a)
            cells += [fit(np.repeat(rgba[:, :, 3:], 3, axis=2)), fit(on_board)]
        row = np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in cells], axis=1)
        label = np.full((20, row.shape[1], 3), 255, np.uint8)
        cv2.putText(label, sample.name, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows += [label, row]
    width = rows[0].shape[1]
    header = np.full((header_h, width, 3), 255, np.uint8)
    for i, text in enumerate(labels):
        origin = (i * (thumb_w + 4) + 4, 18)
        cv2.putText(header, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, *rows], axis=0)


def _mean(results: list[Result], tier: str, field: str, kind: str | None = None) -> float:
    values = [getattr(r.scores, field) for r in results if r.tier == tier and (kind is None or r.kind == kind)]
    return mean(values) if values else float("nan")


def markdown(results: list[Result], tiers: list[str], n_samples: int) -> str:
    lines = [
        "# Segmentation quality per tier",
        "",
        f"{n_samples} images: the imgaug quokka photo against its annotated polygon, and copy-paste composites "
        "(subject with exact alpha on scikit-image photos, 960×720). IoU at alpha ≥ 0.5 (higher is better); MAE "
        "(0..1), SAD and gradient error (σ = 1.4), both in thousands (lower is better). Seconds include decode "
        "and PNG encode. Generated by `python -m tools.quality_eval`.",
        "",
        "## Mean over all images",
        "",
        "| tier | IoU | MAE | SAD | gradient | s / image |",
        "|---|---|---|---|---|---|",
    ]
    for tier in tiers:
        secs = mean(r.seconds for r in results if r.tier == tier)
        lines.append(
            f"| {tier} | {_mean(results, tier, 'iou'):.4f} | {_mean(results, tier, 'mae'):.4f} | "
            f"{_mean(results, tier, 'sad'):.2f} | {_mean(results, tier, 'grad'):.2f} | {secs:.2f} |"
        )
    lines += ["", "## Composites only (exact ground truth)", ""]
    lines += ["| tier | IoU | MAE | SAD | gradient |", "|---|---|---|---|---|"]
    for tier in tiers:
        lines.append(
            f"| {tier} | {_mean(results, tier, 'iou', 'composite'):.4f} "
            f"| {_mean(results, tier, 'mae', 'composite'):.4f} "
            f"| {_mean(results, tier, 'sad', 'composite'):.2f} | {_mean(results, tier, 'grad', 'composite'):.2f} |"
        )
    lines += ["", "## Where quality does not rise with the tier", ""]
    findings = []
    for metric in ("sad", "grad"):
        for lower, higher in itertools.pairwise(tiers):
            lo, hi = _mean(results, lower, metric), _mean(results, higher, metric)
            if hi > lo:
                findings.append(f"- mean {metric.upper()}: **{higher}** ({hi:.2f}) is worse than {lower} ({lo:.2f})")
    per_image = 0
    for sample in dict.fromkeys(r.sample for r in results):
        for metric in ("sad", "grad"):
            by_tier = {r.tier: getattr(r.scores, metric) for r in results if r.sample == sample}
            for lower, higher in itertools.pairwise(tiers):
                if lower in by_tier and higher in by_tier and by_tier[higher] > by_tier[lower] * 1.05:
                    per_image += 1
                    findings.append(
                        f"  - {sample}: {metric.upper()} {higher} {by_tier[higher]:.2f} > {lower} {by_tier[lower]:.2f}"
                    )
    lines += findings or ["- none: SAD and gradient error improve (or stay within 5 %) at every step up."]
    if per_image:
        lines += ["", f"({per_image} per-image inversions above 5 %.)"]
    lines += ["", "## Per image", "", "| image | tier | IoU | MAE | SAD | gradient | s |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for r in results:
        s = r.scores
        lines.append(
            f"| {r.sample} | {r.tier} | {s.iou:.4f} | {s.mae:.4f} | {s.sad:.2f} | {s.grad:.2f} | {r.seconds:.2f} |"
        )
    return "\n".join(lines) + "\n"


def run_eval(settings: Settings, out_dir: Path, grid_samples: int = 4) -> list[Result]:
    fetched = run_fetch(settings.model_dir, assets=EVAL_ASSETS.values())
    if not fetched.ok:
        raise SystemExit("the eval assets (quokka photo) could not be fetched: " + fetched.results[0].message)
    engine = Engine.load(settings)
    tiers = [t for t, ok in engine.available_tiers().items() if ok]
    if not tiers:
        raise SystemExit("no tier is available: run `make models` first")
    items = samples(settings.model_dir)
    results, cutouts = evaluate(engine, items)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quality.md").write_text(markdown(results, tiers, len(items)))
    shown = [items[0], *items[1 : len(items) : max(1, (len(items) - 1) // max(1, grid_samples - 1))]][:grid_samples]
    picture = grid(shown, cutouts, tiers)
    cv2.imwrite(str(out_dir / "tiers_grid.png"), np.ascontiguousarray(picture[:, :, ::-1]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.quality_eval", description="Quality report per tier.")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    settings = get_settings()
    results = run_eval(settings, args.out)
    tiers = list(dict.fromkeys(r.tier for r in results))
    for tier in tiers:
        print(
            f"{tier:13} IoU {_mean(results, tier, 'iou'):.4f}  MAE {_mean(results, tier, 'mae'):.4f}  "
            f"SAD {_mean(results, tier, 'sad'):.2f}  grad {_mean(results, tier, 'grad'):.2f}",
            file=sys.stderr,
        )
    print(f"wrote {args.out / 'quality.md'} and {args.out / 'tiers_grid.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
