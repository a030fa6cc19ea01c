"""The segmentation engine the worker and the CLI call: bytes + tier + options → a cut-out.

Create it once per process with :meth:`Engine.load` (at worker start-up, never at import). ``remove`` is
synchronous and CPU-bound; it keeps no state between calls, so several threads may call it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.errors import ModelChecksumMismatch, ModelMissing, NoSubjectDetected, TierUnavailable
from core.model_manifest import RVM_MOBILENETV3, Asset
from core.options import OutputOptions
from core.settings import Settings
from engine.downscale import AreaPyramid
from engine.images import DecodedImage, decode
from engine.inference import ModelRunner, available_cores, configure_process
from engine.model_fetch import Status, verify
from engine.model_slots import ModelSlots, RunPlan, run_plan
from engine.pipelines import PIPELINES, ModelSpec, Pass, Pipeline, get_pipeline
from engine.portrait import PortraitRunner
from engine.refine import Frame, fuse, run_step
from engine.render import render, to_u8
from engine.settle import SECOND_LOOK_GREY, grey_share, settle

log = logging.getLogger(__name__)

# the raw (sigmoid) maps peak near 1 on a real subject; on blank, flat, gradient or noise images
# all three models stayed below 0.1 (measured), so a lower peak means "nothing there"
_MIN_RAW_PEAK = {"minmax": 0.15, "clip": 0.15}
# fewer alpha ≥ 0.5 pixels than this fraction of the image means "nothing there"
_MIN_SUBJECT_FRACTION = 0.0005


_ARENA_MAX_INPUT = 320
"""Models with a larger input run without onnxruntime's memory arena (see :func:`_load_runner`)."""


@dataclass(frozen=True)
class Cutout:
    data: bytes
    media_type: str
    extension: str
    width: int
    height: int
    input_format: str
    input_width: int
    input_height: int
    foreground: tuple[int, int, int, int]
    """The subject's (left, top, width, height) in the output image."""


@dataclass
class Engine:
    settings: Settings
    runners: dict[str, ModelRunner] = field(default_factory=dict)
    """:attr:`ModelSpec.key` → runner: one session per weights file and the graph built from it, shared by the
    tiers that use it."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Tier name → why it cannot run."""
    plan: RunPlan = field(default_factory=lambda: RunPlan(1, 1, 1, heavy_exclusive=False))
    """How model runs share the cores (:func:`engine.model_slots.run_plan`)."""
    model_slots: ModelSlots = field(init=False)
    """The runs going on, :attr:`RunPlan.slots` at most: the threads are sized for that many, while more
    callers may decode, refine and encode their images around them."""
    portrait: PortraitRunner | None = None
    """The portrait matting model, loaded when a wanted tier has a ``portrait`` step."""
    _images: int = 0
    _images_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.model_slots = ModelSlots(self.plan.slots)

    @classmethod
    def load(cls, settings: Settings, tiers: Iterable[str] | None = None) -> Engine:
        """Create sessions for the installed models of ``tiers`` (default: all); missing ones are reported.

        One session per model file, shared by every tier that uses it (standard's U²-Net is also a pass of
        the top tiers), so loading all tiers costs each model's memory once.
        """
        configure_process()
        cores = available_cores()
        plan = run_plan(settings, cores)
        if settings.ort_intra_op_threads > max(plan.light_threads, plan.heavy_threads):
            log.warning(
                "ORT_INTRA_OP_THREADS=%d exceeds what %d cores leave to each of %d model runs at once; using %d",
                settings.ort_intra_op_threads,
                cores,
                plan.slots,
                plan.heavy_threads,
            )
        engine = cls(settings=settings, plan=plan)
        failed_files: dict[str, str] = {}
        wanted = [get_pipeline(name) for name in (PIPELINES if tiers is None else tiers)]
        for spec in PIPELINES.values():
            if spec not in wanted:
                engine.unavailable[spec.name] = "not loaded by this worker"
        for spec in wanted:
            for model in spec.models:
                if model.key not in engine.runners and model.file not in failed_files:
                    excluded = _licence_excluded(model.asset, settings)
                    if excluded:
                        failed_files[model.file] = excluded
                        log.warning("tier %s unavailable: %s", spec.name, excluded)
                        continue
                    try:
                        engine.runners[model.key] = _load_runner(model, settings, plan.threads(model.light))
                    except (ModelMissing, ModelChecksumMismatch) as exc:
                        failed_files[model.file] = exc.detail
                        log.warning("tier %s unavailable: %s", spec.name, exc.detail)
            missing = [failed_files[m.file] for m in spec.models if m.file in failed_files]
            if spec.portrait and engine.portrait is None and RVM_MOBILENETV3.file not in failed_files:
                excluded = _licence_excluded(RVM_MOBILENETV3, settings)
                if excluded:
                    failed_files[RVM_MOBILENETV3.file] = excluded
                    log.warning("tier %s unavailable: %s", spec.name, excluded)
            if spec.portrait and engine.portrait is None and RVM_MOBILENETV3.file not in failed_files:
                try:
                    path = _verified(RVM_MOBILENETV3, settings)
                    engine.portrait = PortraitRunner.create(path, plan.heavy_threads)
                except (ModelMissing, ModelChecksumMismatch) as exc:
                    failed_files[RVM_MOBILENETV3.file] = exc.detail
                    log.warning("tier %s unavailable: %s", spec.name, exc.detail)
            if spec.portrait and RVM_MOBILENETV3.file in failed_files:
                missing.append(failed_files[RVM_MOBILENETV3.file])
            if missing:
                engine.unavailable[spec.name] = "; ".join(missing)
        return engine

    @property
    def images_inside(self) -> int:
        """Images in :meth:`remove` right now, in any thread."""
        return self._images

    def available_tiers(self) -> dict[str, bool]:
        return {
            name: name not in self.unavailable
            and all(m.key in self.runners for m in spec.models)
            and (self.portrait is not None or not spec.portrait)
            for name, spec in PIPELINES.items()
        }

    def runner(self, tier: str) -> ModelRunner:
        """The tier's main model (its first pass)."""
        return self.tier_runners(tier)[get_pipeline(tier).model.key]

    def tier_runners(self, tier: str) -> dict[str, ModelRunner]:
        """Model file → session, for every model the tier runs."""
        spec = get_pipeline(tier)
        if not self.available_tiers()[spec.name]:
            reason = self.unavailable.get(spec.name, "model not loaded")
            raise TierUnavailable(f"tier {tier!r} is unavailable on this deployment: {reason}")
        return {m.key: self.runners[m.key] for m in spec.models}

    def warm_up(self) -> None:
        """One inference per loaded model, so the first job does not pay for lazy initialisation."""
        for runner in self.runners.values():
            runner.time_run(1)
        if self.portrait is not None:
            self.portrait.matte(np.zeros((64, 64, 3), np.uint8))

    def remove(
        self,
        data: bytes,
        tier: str,
        options: OutputOptions,
        *,
        background: bytes | None = None,
        timings: dict[str, float] | None = None,
    ) -> Cutout:
        """Cut out the subject. ``background`` is the image of ``options.bg_image``, read from storage by
        the caller. ``timings``, if given, receives seconds per stage (the benchmark's hook)."""
        clock = _Clock(timings)
        spec = get_pipeline(tier)
        runners = self.tier_runners(tier)
        with self._in_engine():
            with clock("decode"):
                image = decode(data, self.settings)
                behind = _on_white(decode(background, self.settings)) if background is not None else None
            if options.roi is None:
                frame = self.segment(image, spec, runners, clock, subject_type=options.subject_type)
                alpha, colours = self._alpha_and_colours(image, frame, clock)
            else:
                # the models see only the region, so a small region gets their whole input
                x0, y0, x1, y1 = options.roi.box(image.info.width, image.info.height)
                region = DecodedImage(
                    info=image.info,
                    rgb=np.ascontiguousarray(image.rgb[y0:y1, x0:x1]),
                    alpha=None if image.alpha is None else np.ascontiguousarray(image.alpha[y0:y1, x0:x1]),
                )
                frame = self.segment(region, spec, runners, clock, subject_type=options.subject_type)
                inner, inner_colours = self._alpha_and_colours(region, frame, clock)
                alpha = np.zeros(image.rgb.shape[:2], np.uint8)
                alpha[y0:y1, x0:x1] = inner
                colours = image.rgb
                if inner_colours is not region.rgb:
                    colours = image.rgb.copy()
                    colours[y0:y1, x0:x1] = inner_colours
            with clock("render"):
                out = render(colours, alpha, options, background=behind)
            return Cutout(
                data=out.data,
                media_type=out.media_type,
                extension=out.extension,
                width=out.width,
                height=out.height,
                input_format=image.info.format,
                input_width=image.info.width,
                input_height=image.info.height,
                foreground=out.foreground,
            )

    @contextmanager
    def _in_engine(self) -> Iterator[None]:
        with self._images_lock:
            self._images += 1
        try:
            yield
        finally:
            with self._images_lock:
                self._images -= 1

    def _run_model(self, runner: ModelRunner, tensor: NDArray[np.float32]) -> NDArray[np.float32]:
        with self.model_slots.hold(exclusive=self.plan.exclusive(runner.spec.light)):
            return runner.run(tensor)

    @staticmethod
    def _alpha_and_colours(
        image: DecodedImage, frame: Frame, clock: _Clock
    ) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
        with clock("render"):
            alpha = to_u8(frame.current_alpha())
            if image.alpha is not None:
                np.minimum(alpha, image.alpha, out=alpha)  # what was transparent stays transparent
        return alpha, frame.foreground if frame.foreground is not None else image.rgb

    def segment(
        self,
        image: DecodedImage,
        spec: Pipeline,
        runners: dict[str, ModelRunner],
        clock: _Clock | None = None,
        *,
        subject_type: str = "auto",
    ) -> Frame:
        """Model passes, fused, + the tier's steps; raises :class:`NoSubjectDetected` on an (almost) empty mask."""
        clock = clock or _Clock(None)
        with clock("preprocess"):
            # the model never saw transparency: show it the image as a viewer would, on white
            rgb = _on_white(image)
            pyramid = AreaPyramid(rgb)
        maps: list[tuple[NDArray[np.float32], float]] = []
        nothing = False
        for p in spec.passes:
            mask, peak = self._pass(p, pyramid, runners, clock)
            maps.append((mask, p.weight))
            # "nothing there" is judged on the main model, where the threshold was measured
            if p is spec.passes[0]:
                nothing = peak < _MIN_RAW_PEAK[p.model.output_scaling]
        second = spec.second_look
        if second is not None and not nothing and len(maps) == 1:
            with clock("postprocess"):
                ghosted = grey_share(maps[0][0]) > SECOND_LOOK_GREY
            if ghosted:
                maps.append((self._pass(second, pyramid, runners, clock)[0], second.weight))
        if len(maps) > 1 and (spec.settle or second is not None):
            with clock("settle"):
                mask = settle(rgb, maps)
        else:
            with clock("postprocess"):
                mask = fuse(maps)
        if nothing or (mask >= 0.5).mean() < _MIN_SUBJECT_FRACTION:
            raise NoSubjectDetected("no foreground subject was found in the image")
        frame = Frame(
            rgb=rgb,
            mask=mask,
            pyramid=pyramid,
            portrait=self.portrait if spec.portrait else None,
            subject_type=subject_type,
        )
        for step in spec.steps:
            with clock(step.name):
                run_step(frame, step)
        if (frame.current_alpha() >= 0.5).mean() < _MIN_SUBJECT_FRACTION:
            raise NoSubjectDetected("no foreground subject was found in the image")
        return frame

    def _pass(
        self, p: Pass, pyramid: AreaPyramid, runners: dict[str, ModelRunner], clock: _Clock
    ) -> tuple[NDArray[np.float32], float]:
        """One model pass: its 0..1 map (mirrored back for a mirrored pass) and the raw peak."""
        runner = runners[p.model.key]
        with clock("preprocess"):
            if runner.spec.input_from_halvings:
                side = runner.spec.input_size
                source = pyramid.resized((side, side))  # the size preprocess wants: it resizes no further
            else:
                source = pyramid.image
            tensor = runner.preprocess(np.ascontiguousarray(source[:, ::-1]) if p.flip else source)
        with clock("model"):
            raw = self._run_model(runner, tensor)
        with clock("postprocess"):
            mask, peak = runner.postprocess(raw)
            return (np.ascontiguousarray(mask[:, ::-1]) if p.flip else mask), peak


class _Clock:
    """Adds the seconds spent in each ``with clock(stage)`` block to a dict; free when there is none."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.timings is None:
            yield
            return
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


def _on_white(image: DecodedImage) -> NDArray[np.uint8]:
    """The image's colours with its transparency (if any) flattened onto white, as a viewer shows it."""
    if image.alpha is None:
        return image.rgb
    a = image.alpha[:, :, None].astype(np.float32) / 255.0
    return np.asarray((image.rgb * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8))


def _load_runner(model: ModelSpec, settings: Settings, threads: int) -> ModelRunner:
    _verified(model.asset, settings)
    # The arena keeps one run's activations: ~210 MB for a 320² U²-Net, but over 1 GB for IS-Net at 1024²
    # (~0.6 GB at 768², by area), which would put a worker with every tier near 3 GB; IS-Net's long runs
    # gain little from it anyway.
    arena = settings.ort_mem_arena and model.input_size <= _ARENA_MAX_INPUT
    return ModelRunner.create(model, settings.model_dir, threads, mem_arena=arena)


def _licence_excluded(asset: Asset, settings: Settings) -> str:
    """Why the worker must not load this weight ('' when it may): never load a licence the operator
    keeps out, even if the file is in the cache (another deployment's ``make models`` put it there)."""
    if settings.licence_allowed(asset.licence):
        return ""
    return f"{asset.file} is {asset.licence}, which ALLOWED_MODEL_LICENCES does not allow"


def _verified(asset: Asset, settings: Settings) -> Path:
    path = settings.model_dir / asset.file
    status = verify(path, asset)  # cheap when the fetcher's stamp vouches for this exact file
    if status is Status.MISSING:
        raise ModelMissing(f"{asset.file} is not in {settings.model_dir}; run `make models`", file=asset.file)
    if status is not Status.OK:
        raise ModelChecksumMismatch(
            f"{asset.file} in {settings.model_dir} does not match the manifest; run `make models` to re-fetch it",
            file=asset.file,
        )
    return path
