"""Quality report per tier (``make eval``)::

    python -m tools.quality_eval --out reports/ [--real DIR] [--limit N] [--no-composites] [--no-rembg]

Two test sets. The real photos (``/work/shared/eval/real``, 44 photos with ground truth, read in place
and never copied; see :mod:`tools.real_photos`) decide the tiers' order and the README's table; rembg on
the same weights runs beside them in its own virtualenv (``make rembg-venv``). Writes ``quality.json``
(machine-readable: per photo, per tier, means, targets), ``quality.md`` and ``real_grid.png``.

The second set, all offline: the imgaug quokka photo with its annotated polygon (fetched into the model cache
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
import subprocess
import sys
import tempfile
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
from tools import real_photos
from tools.quality_metrics import MatteScores, score
from tools.real_photos import RealPhoto, RealScores
from tools.rembg_baseline import SAME_MODEL, RembgMissing, rembg_env, rembg_python

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


@dataclass(frozen=True)
class RealResult:
    photo: str
    category: str
    tier: str
    """A tier name, or ``rembg:<model>`` for a baseline."""
    scores: RealScores
    seconds: float


@dataclass(frozen=True)
class Target:
    what: str
    met: bool
    measured: str


METRICS = ("iou", "sad", "mse", "grad", "ghost")
KIND_IOU_SLACK = 0.005
KIND_MSE_SLACK = 1.10
"""Issue 18: per kind, a paid tier may be this much below basic and still count as at least as good."""
GHOSTED = 0.05
"""A photo counts as ghosted when more than this share of its clear pixels came out half-transparent."""


def evaluate_real(
    engine: Engine, photos: list[RealPhoto], tiers: list[str]
) -> tuple[list[RealResult], dict[tuple[str, str], U8]]:
    results: list[RealResult] = []
    cutouts: dict[tuple[str, str], U8] = {}
    for photo in photos:
        data = photo.path.read_bytes()  # the JPEG as a customer would upload it
        for tier in tiers:
            start = time.perf_counter()
            cut = engine.remove(data, tier, OutputOptions())
            seconds = time.perf_counter() - start
            with Image.open(io.BytesIO(cut.data)) as img:
                rgba = np.asarray(img.convert("RGBA"))
            results.append(
                RealResult(photo.name, photo.category, tier, real_photos.score(photo, rgba[:, :, 3]), seconds)
            )
            cutouts[(photo.name, tier)] = rgba
        print(f"  {photo.name}", file=sys.stderr, flush=True)
    return results, cutouts


def rembg_baselines(engine: Engine, photos: list[RealPhoto], model_dir: Path) -> list[RealResult]:
    """rembg (PyPI, own virtualenv) on the same weights as our single-model tiers, scored the same way."""
    results: list[RealResult] = []
    script = Path(__file__).with_name("rembg_masks.py")
    with tempfile.TemporaryDirectory(prefix="bgremover-rembg-") as tmp:
        env = rembg_env(model_dir, Path(tmp) / "home")
        for ours, theirs in SAME_MODEL.items():
            if not (model_dir / ours).exists():
                continue
            out = Path(tmp) / theirs
            start = time.perf_counter()
            subprocess.run(
                [str(rembg_python()), str(script), theirs, str(out), *(str(p.path) for p in photos)],
                env=env,
                check=True,
            )
            seconds = (time.perf_counter() - start) / max(1, len(photos))  # includes rembg's start-up
            for photo in photos:
                mask = cv2.imread(str(out / f"{photo.path.stem}.png"), cv2.IMREAD_GRAYSCALE)
                if mask is None:
                    raise RuntimeError(f"rembg {theirs} wrote no mask for {photo.name}")
                results.append(
                    RealResult(
                        photo.name,
                        photo.category,
                        f"rembg:{theirs}",
                        real_photos.score(photo, np.asarray(mask, np.uint8)),
                        seconds,
                    )
                )
    return results


def real_means(
    results: list[RealResult], tier: str, category: str | None = None, *, kind: str | None = None
) -> dict[str, float]:
    rows = [
        r
        for r in results
        if r.tier == tier
        and (category is None or r.category == category)
        and (kind is None or real_photos.kind_of(r.category) == kind)
    ]
    means = {m: mean(getattr(r.scores, m) for r in rows) if rows else float("nan") for m in METRICS}
    means["ghosted_photos"] = float(sum(r.scores.ghost > GHOSTED for r in rows))
    return means


def at_least_basic(results: list[RealResult], tier: str, kind: str) -> bool:
    """Whether ``tier`` is at least as good as basic on this kind of photo: IoU not lower, MSE not higher."""
    t, b = real_means(results, tier, kind=kind), real_means(results, "basic", kind=kind)
    return t["iou"] >= b["iou"] and t["mse"] <= b["mse"]


def by_kind_markdown(results: list[RealResult], tiers: list[str], photos: list[RealPhoto]) -> list[str]:
    """Issue 18's view: per kind of photo, each tier and baseline, and whether each paid tier beats basic."""
    kinds = sorted({real_photos.kind_of(p.category) for p in photos})
    counts = {k: sum(real_photos.kind_of(p.category) == k for p in photos) for k in kinds}
    rows = list(dict.fromkeys([*tiers, *(r.tier for r in results if r.tier.startswith("rembg:"))]))
    lines = [
        "### By kind of photo",
        "",
        "IoU / MSE ×1e3 / gradient / ghosting (the share of clear pixels more than "
        f"{real_photos.GHOST_DISTANCE} px from the true edge that come out half-transparent, "
        f"{real_photos.GHOST_LOW}–{real_photos.GHOST_HIGH}; in brackets the photos over {GHOSTED:.0%}). "
        "✓: a paid tier at least as good as basic on that kind (IoU not lower and MSE not higher), ✗: worse.",
        "",
        "| tier | " + " | ".join(f"{k} ({counts[k]})" for k in kinds) + " |",
        "|---" * (len(kinds) + 1) + "|",
    ]
    for tier in rows:
        cells = []
        for k in kinds:
            m = real_means(results, tier, kind=k)
            mark = ""
            if tier in tiers and tier != "basic" and "basic" in tiers:
                mark = " ✓" if at_least_basic(results, tier, k) else " ✗"
            ghost = f"{m['ghost']:.1%} ({m['ghosted_photos']:.0f})"
            cells.append(f"{m['iou']:.3f} / {m['mse']:.1f} / {m['grad']:.2f} / {ghost}{mark}")
        lines.append(f"| {tier} | " + " | ".join(cells) + " |")
    return lines


def targets(results: list[RealResult], tiers: list[str]) -> list[Target]:
    """The issue's quality targets on the real photos, each measured and marked met or not."""
    means = {t: real_means(results, t) for t in dict.fromkeys(r.tier for r in results)}
    out: list[Target] = []
    for lower, higher in itertools.pairwise(tiers):
        lo, hi = means[lower], means[higher]
        out.append(
            Target(
                f"{higher} better than {lower} (IoU higher, MSE lower)",
                hi["iou"] > lo["iou"] and hi["mse"] < lo["mse"],
                f"IoU {lo['iou']:.4f} → {hi['iou']:.4f}, MSE {lo['mse']:.2f} → {hi['mse']:.2f}",
            )
        )
    if "basic" in means and "industry" in means:
        b, i = means["basic"], means["industry"]
        out.append(Target("industry IoU ≥ 0.87", i["iou"] >= 0.87, f"{i['iou']:.4f}"))
        out.append(Target("industry MSE ≤ 0.65 × basic", i["mse"] <= 0.65 * b["mse"], f"{i['mse'] / b['mse']:.2f}×"))
        out.append(
            Target("industry gradient ≤ 0.7 × basic", i["grad"] <= 0.7 * b["grad"], f"{i['grad'] / b['grad']:.2f}×")
        )
    kinds = sorted({real_photos.kind_of(r.category) for r in results})
    for tier in tiers:
        if tier != "basic" and "basic" in means:
            worse = []
            for kind in kinds:
                t, b = real_means(results, tier, kind=kind), real_means(results, "basic", kind=kind)
                if t["iou"] < b["iou"] - KIND_IOU_SLACK or t["mse"] > b["mse"] * KIND_MSE_SLACK:
                    worse.append(f"{kind} {t['iou']:.3f}/{t['mse']:.1f} vs {b['iou']:.3f}/{b['mse']:.1f}")
            out.append(
                Target(
                    f"{tier} at least as good as basic on every kind (IoU ≥ basic − {KIND_IOU_SLACK}, "
                    f"MSE ≤ {KIND_MSE_SLACK:g} × basic)",
                    not worse,
                    "; ".join(worse) or f"all {len(kinds)} kinds",
                )
            )
        rows = [r for r in results if r.tier == tier]
        ghost = means[tier]["ghost"]
        ghosted = sum(r.scores.ghost > GHOSTED for r in rows)
        out.append(
            Target(
                f"{tier} ghosting ≤ 3 % with at most 1 photo in 10 over {GHOSTED:.0%}",
                ghost <= 0.03 and ghosted * 10 <= len(rows),
                f"{ghost:.1%}, {ghosted} of {len(rows)} photos",
            )
        )
    for tier, baseline in (("basic", "rembg:u2netp"), ("standard", "rembg:u2net")):
        if tier in means and baseline in means:
            t, r = means[tier], means[baseline]
            out.append(
                Target(
                    f"{tier} better than {baseline} (IoU higher, MSE lower)",
                    t["iou"] > r["iou"] and t["mse"] < r["mse"],
                    f"IoU {r['iou']:.4f} vs {t['iou']:.4f}, MSE {r['mse']:.2f} vs {t['mse']:.2f}",
                )
            )
    return out


def real_markdown(results: list[RealResult], tiers: list[str], photos: list[RealPhoto], goals: list[Target]) -> str:
    rows = list(dict.fromkeys([*tiers, *(r.tier for r in results if r.tier.startswith("rembg:"))]))
    lines = [
        "## Real photos",
        "",
        f"{len(photos)} real photographs with ground truth (`/work/shared/eval/real`, read in place): "
        "IoU at alpha ≥ 128 (higher is better); SAD (thousands), MSE ×1e3 and gradient error (σ = 1.4, "
        "thousands), lower is better; the GrabCut photos' 128 boundary band is ignored. Seconds per photo "
        "(≤ 800 px) include decode and PNG encode; rembg's include its start-up.",
        "",
        "| tier | IoU | SAD | MSE ×1e3 | gradient | ghosting (photos > 5 %) | s / photo |",
        "|---|---|---|---|---|---|---|",
    ]
    for tier in rows:
        m = real_means(results, tier)
        secs = mean(r.seconds for r in results if r.tier == tier)
        lines.append(
            f"| {tier} | {m['iou']:.4f} | {m['sad']:.2f} | {m['mse']:.2f} | {m['grad']:.3f} | "
            f"{m['ghost']:.1%} ({m['ghosted_photos']:.0f}) | {secs:.2f} |"
        )
    lines += ["", *by_kind_markdown(results, tiers, photos)]
    lines += ["", "### Targets", ""]
    lines += [f"- {'**met**' if g.met else '**not met**'}: {g.what} ({g.measured})" for g in goals]
    lines += ["", "### IoU / MSE ×1e3 per category", ""]
    categories = sorted({p.category for p in photos})
    lines += ["| tier | " + " | ".join(f"{c} ({sum(p.category == c for p in photos)})" for c in categories) + " |"]
    lines += ["|---" * (len(categories) + 1) + "|"]
    for tier in rows:
        cells = []
        for c in categories:
            m = real_means(results, tier, c)
            cells.append(f"{m['iou']:.3f} / {m['mse']:.1f}")
        lines.append(f"| {tier} | " + " | ".join(cells) + " |")
    lines += ["", "### Per photo (IoU / MSE ×1e3)", ""]
    lines += ["| photo | " + " | ".join(rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for photo in photos:
        by_tier = {r.tier: r.scores for r in results if r.photo == photo.name}
        cells = [f"{by_tier[t].iou:.3f} / {by_tier[t].mse:.1f}" if t in by_tier else "" for t in rows]
        lines.append(f"| {photo.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def real_grid(photos: list[RealPhoto], cutouts: dict[tuple[str, str], U8], tiers: list[str], thumb_h: int = 200) -> U8:
    """Rows: photos; columns: input, then each tier's cut-out on a checkerboard."""
    rows = []
    for photo in photos:
        with Image.open(photo.path) as img:
            rgb = np.asarray(img.convert("RGB"))
        h, w = rgb.shape[:2]
        tw = round(w * thumb_h / h)
        cells = [rgb]
        for tier in tiers:
            rgba = cutouts[(photo.name, tier)]
            a = rgba[:, :, 3:].astype(np.float32) / 255.0
            cells.append(np.clip(rgba[:, :, :3] * a + _checkerboard(h, w) * (1.0 - a), 0, 255).astype(np.uint8))
        fitted = [cv2.resize(np.asarray(c, np.uint8), (tw, thumb_h), interpolation=cv2.INTER_AREA) for c in cells]
        rows.append(np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=255) for c in fitted], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    header = np.full((26, width, 3), 255, np.uint8)
    cell_w = rows[0].shape[1] // (len(tiers) + 1)
    for i, text in enumerate(["input", *tiers]):
        cv2.putText(header, text, (i * cell_w + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, *rows], axis=0)


def _grid_photos(photos: list[RealPhoto], count: int) -> list[RealPhoto]:
    """One photo per kind of subject, the same ones every run (no picking the flattering ones)."""
    picked: list[RealPhoto] = []
    for prefix in ("pfcn_", "am_", "gc_"):
        kind = [p for p in photos if p.name.startswith(prefix)]
        picked += kind[:: max(1, len(kind) // 2)][:2]
    return picked[:count]


def real_json(
    results: list[RealResult], tiers: list[str], photos: list[RealPhoto], goals: list[Target]
) -> dict[str, object]:
    names = list(dict.fromkeys([*tiers, *(r.tier for r in results)]))
    return {
        "set": str(photos[0].path.parent.parent) if photos else None,
        "photos": len(photos),
        "metrics": {
            "iou": "alpha ≥ 128",
            "sad": "thousands",
            "mse": "×1e3",
            "grad": "σ 1.4, thousands",
            "ghost": f"share of clear pixels > {real_photos.GHOST_DISTANCE} px from the edge left 0.15–0.85",
        },
        "means": {t: real_means(results, t) for t in names},
        "by_category": {t: {c: real_means(results, t, c) for c in sorted({p.category for p in photos})} for t in names},
        "by_kind": {
            t: {k: real_means(results, t, kind=k) for k in sorted({real_photos.kind_of(p.category) for p in photos})}
            for t in names
        },
        "at_least_basic": {
            t: {k: at_least_basic(results, t, k) for k in sorted({real_photos.kind_of(p.category) for p in photos})}
            for t in tiers
            if t != "basic" and "basic" in tiers
        },
        "seconds": {t: mean(r.seconds for r in results if r.tier == t) for t in names},
        "targets": [{"what": g.what, "met": g.met, "measured": g.measured} for g in goals],
        "per_photo": [
            {"photo": r.photo, "category": r.category, "tier": r.tier, **vars(r.scores), "seconds": r.seconds}
            for r in results
        ],
    }


def run_eval(
    settings: Settings,
    out_dir: Path,
    *,
    real_dir: Path = real_photos.DEFAULT_DIR,
    limit: int | None = None,
    names: list[str] | None = None,
    composites: bool = True,
    rembg: bool = True,
    grid_samples: int = 4,
) -> tuple[list[Result], list[RealResult], list[Target]]:
    engine = Engine.load(settings)
    tiers = [t for t, ok in engine.available_tiers().items() if ok]
    if not tiers:
        raise SystemExit("no tier is available: run `make models` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = [p for p in real_photos.load(real_dir) if not names or p.name in names][:limit]
    print(f"real photos: {len(photos)} × {len(tiers)} tiers", file=sys.stderr)
    real, real_cutouts = evaluate_real(engine, photos, tiers)
    if rembg:
        try:
            real += rembg_baselines(engine, photos, settings.model_dir)
        except RembgMissing as exc:
            print(f"rembg baselines skipped: {exc}", file=sys.stderr)
    goals = targets(real, tiers)
    report = real_markdown(real, tiers, photos, goals)
    (out_dir / "quality.json").write_text(json.dumps(real_json(real, tiers, photos, goals), indent=1) + "\n")
    picture = real_grid(_grid_photos(photos, 6), real_cutouts, tiers)
    cv2.imwrite(str(out_dir / "real_grid.png"), np.ascontiguousarray(picture[:, :, ::-1]))
    results: list[Result] = []
    if composites:
        fetched = run_fetch(settings.model_dir, assets=EVAL_ASSETS.values())
        if not fetched.ok:
            raise SystemExit("the eval assets (quokka photo) could not be fetched: " + fetched.results[0].message)
        items = samples(settings.model_dir)
        results, cutouts = evaluate(engine, items)
        report += "\n" + markdown(results, tiers, len(items)).replace(
            "# Segmentation quality per tier", "## Composites"
        )
        shown = [items[0], *items[1 : len(items) : max(1, (len(items) - 1) // max(1, grid_samples - 1))]]
        picture = grid(shown[:grid_samples], cutouts, tiers)
        cv2.imwrite(str(out_dir / "tiers_grid.png"), np.ascontiguousarray(picture[:, :, ::-1]))
    (out_dir / "quality.md").write_text("# Segmentation quality per tier\n\n" + report)
    return results, real, goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.quality_eval", description="Quality report per tier.")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--real", type=Path, default=real_photos.DEFAULT_DIR, help="the real-photo eval set")
    parser.add_argument("--limit", type=int, default=None, help="only the first N real photos (a quick look)")
    parser.add_argument("--photo", action="append", dest="names", help="only this real photo (repeatable)")
    parser.add_argument("--no-composites", action="store_true", help="skip the quokka and the composites")
    parser.add_argument("--no-rembg", action="store_true", help="skip the rembg baselines")
    args = parser.parse_args(argv)
    settings = get_settings()
    _, real, goals = run_eval(
        settings,
        args.out,
        real_dir=args.real,
        limit=args.limit,
        names=args.names,
        composites=not args.no_composites,
        rembg=not args.no_rembg,
    )
    print("\nreal photos (mean):", file=sys.stderr)
    for tier in dict.fromkeys(r.tier for r in real):
        m = real_means(real, tier)
        print(
            f"{tier:14} IoU {m['iou']:.4f}  SAD {m['sad']:6.2f}  MSE×1e3 {m['mse']:6.2f}  grad {m['grad']:.3f}",
            file=sys.stderr,
        )
    print("\ntargets:", file=sys.stderr)
    for g in goals:
        print(f"  {'met    ' if g.met else 'NOT MET'}  {g.what}: {g.measured}", file=sys.stderr)
    print(f"wrote {args.out / 'quality.md'}, quality.json and the grids", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
