"""The engine's plumbing with a stand-in model (no weights needed): orientation, transparency, errors."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from core.errors import ModelChecksumMismatch, NoSubjectDetected, TierUnavailable, UnknownTier
from core.model_manifest import MODELS
from core.options import OutputOptions
from core.settings import Settings
from core.tiers import TIERS
from engine import cli
from engine.inference import ModelRunner, session_options
from engine.model_slots import RunPlan, run_plan
from engine.pipeline import Engine
from engine.pipelines import PIPELINES, ModelSpec
from tests.support.engine_images import DiscRunner, NoPersonPortrait, encode, subject_image


def _engine(settings: Settings, runners: dict[str, ModelRunner]) -> Engine:
    return Engine(settings=settings, runners=dict(runners), portrait=NoPersonPortrait())  # type: ignore[arg-type]


def test_load_without_models_reports_every_tier_unavailable(engine_settings: Settings) -> None:
    engine = Engine.load(engine_settings)
    assert engine.available_tiers() == dict.fromkeys(TIERS, False)
    with pytest.raises(TierUnavailable) as err:
        engine.remove(b"", "basic", OutputOptions())
    assert "make models" in err.value.detail
    with pytest.raises(UnknownTier):
        engine.remove(b"", "ultra", OutputOptions())


def test_load_with_a_corrupt_model_marks_its_tier_unavailable(engine_settings: Settings) -> None:
    asset = MODELS["u2netp.onnx"]
    engine_settings.model_dir.mkdir(parents=True)
    with (engine_settings.model_dir / asset.file).open("wb") as fh:
        fh.truncate(asset.size)
    engine = Engine.load(engine_settings, tiers=["basic"])
    assert not engine.available_tiers()["basic"]
    assert "does not match the manifest" in engine.unavailable["basic"]
    assert ModelChecksumMismatch.code == "model_checksum_mismatch"


@pytest.mark.parametrize("tier", list(TIERS))
def test_every_tier_pipeline_runs_on_a_stand_in_model(
    tier: str, engine_settings: Settings, disc_runners: dict[str, ModelRunner]
) -> None:
    data = encode(Image.fromarray(subject_image(120, 90)), "PNG")
    cutout = _engine(engine_settings, disc_runners).remove(data, tier, OutputOptions())
    img = Image.open(io.BytesIO(cutout.data))
    alpha = np.asarray(img)[:, :, 3]
    assert (cutout.width, cutout.height, img.size) == (120, 90, (120, 90))
    assert (cutout.input_format, cutout.input_width, cutout.input_height) == ("png", 120, 90)
    assert alpha[45, 60] > 240 and alpha[2, 2] < 15


def test_exif_rotated_jpeg_keeps_its_orientation(
    engine_settings: Settings, disc_runners: dict[str, ModelRunner]
) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    data = encode(Image.fromarray(subject_image(120, 60)), "JPEG", exif=exif.tobytes(), quality=95)
    cutout = _engine(engine_settings, disc_runners).remove(data, "basic", OutputOptions())
    assert (cutout.width, cutout.height) == (60, 120)
    assert (cutout.input_width, cutout.input_height) == (60, 120)
    assert Image.open(io.BytesIO(cutout.data)).size == (60, 120)


def test_transparent_input_stays_transparent(engine_settings: Settings, disc_runners: dict[str, ModelRunner]) -> None:
    rgba = np.dstack([subject_image(120, 90), np.full((90, 120), 255, np.uint8)])
    rgba[:, :60, 3] = 0  # the left half of the disc is cut away already
    data = encode(Image.fromarray(rgba), "PNG")
    cutout = _engine(engine_settings, disc_runners).remove(data, "standard", OutputOptions())
    alpha = np.asarray(Image.open(io.BytesIO(cutout.data)))[:, :, 3]
    assert alpha[:, :60].max() == 0
    assert alpha[45, 70] > 240


def test_blank_image_is_no_subject(engine_settings: Settings) -> None:
    model = PIPELINES["basic"].model
    runners: dict[str, ModelRunner] = {model.key: DiscRunner(model, empty=True)}  # type: ignore[dict-item]
    data = encode(Image.new("RGB", (64, 64), "white"), "PNG")
    with pytest.raises(NoSubjectDetected) as err:
        _engine(engine_settings, runners).remove(data, "basic", OutputOptions())
    assert err.value.code == "no_subject_detected"


def test_thread_budget_never_oversubscribes(engine_settings: Settings) -> None:
    from dataclasses import replace

    def plan(concurrency: int, threads: int) -> RunPlan:
        return run_plan(replace(engine_settings, worker_concurrency=concurrency, ort_intra_op_threads=threads), 4)

    # auto: a light run per core on one thread each, a heavy run alone on every core
    assert plan(0, 0) == RunPlan(slots=4, light_threads=1, heavy_threads=4, heavy_exclusive=True)
    assert plan(0, 2) == RunPlan(slots=4, light_threads=1, heavy_threads=2, heavy_exclusive=True)
    assert plan(0, 9) == RunPlan(slots=4, light_threads=1, heavy_threads=4, heavy_exclusive=True)
    # WORKER_CONCURRENCY=N: N runs of any model, cores ÷ N threads each at most
    assert plan(1, 0) == RunPlan(slots=1, light_threads=4, heavy_threads=4, heavy_exclusive=False)
    assert plan(2, 0) == RunPlan(slots=2, light_threads=2, heavy_threads=2, heavy_exclusive=False)
    assert plan(2, 3) == RunPlan(slots=2, light_threads=2, heavy_threads=2, heavy_exclusive=False)
    assert plan(8, 0) == RunPlan(slots=8, light_threads=1, heavy_threads=1, heavy_exclusive=False)
    so = session_options(2)
    assert so.intra_op_num_threads == 2 and so.enable_cpu_mem_arena
    assert not session_options(1, mem_arena=False).enable_cpu_mem_arena


def test_cli_reports_each_failure_with_its_code(
    engine_settings: Settings, disc_runners: dict[str, ModelRunner], tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(encode(Image.fromarray(subject_image(80, 60)), "PNG"))
    (src / "b.jpg").write_bytes(b"plain text")
    (src / "notes.txt").write_text("ignored: not an image suffix")
    stderr = io.StringIO()
    inputs = list(cli.expand_inputs([src]))
    assert [p.name for p in inputs] == ["a.png", "b.jpg"]
    report = cli.run_remove(
        _engine(engine_settings, disc_runners), inputs, "basic", OutputOptions(format="webp"), tmp_path / "out", stderr
    )
    assert [p.name for p in report.written] == ["a.webp"]
    assert report.failed[0][:2] == (src / "b.jpg", "unsupported_media_type")
    assert "b.jpg: unsupported_media_type" in stderr.getvalue()
    assert "2/2" in stderr.getvalue()


class _UnsureRunner(DiscRunner):
    """The stand-in model, unsure of the left 40 % of the subject (as it sees it): a ghosted map."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__(spec)
        self.runs = 0

    def run(self, small: NDArray[np.float32]) -> NDArray[np.float32]:
        self.runs += 1
        mask = super().run(small)
        cols = np.flatnonzero(mask.any(axis=0))
        mask[:, : cols[0] + (cols[-1] - cols[0]) * 2 // 5] *= 0.4
        return mask


def test_a_ghosted_basic_map_gets_a_second_look_and_comes_out_decided(engine_settings: Settings) -> None:
    data = encode(Image.fromarray(subject_image(120, 90)), "PNG")
    disc = subject_image(120, 90)[:, :, 0] > 150
    unsure = _UnsureRunner(PIPELINES["basic"].model)
    timings: dict[str, float] = {}
    cutout = _engine(engine_settings, {unsure.spec.key: unsure}).remove(  # type: ignore[dict-item]
        data, "basic", OutputOptions(), timings=timings
    )
    alpha = np.asarray(Image.open(io.BytesIO(cutout.data)))[:, :, 3]
    assert unsure.runs == 2 and "settle" in timings  # the mirrored look, then the two maps settled
    inner = cv2.erode(disc.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert alpha[inner].min() > 240  # no part of the subject left half-transparent


def test_a_clear_basic_map_takes_one_look(engine_settings: Settings, disc_runners: dict[str, ModelRunner]) -> None:
    timings: dict[str, float] = {}
    data = encode(Image.fromarray(subject_image(120, 90)), "PNG")
    _engine(engine_settings, disc_runners).remove(data, "basic", OutputOptions(), timings=timings)
    assert "settle" not in timings
