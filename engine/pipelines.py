"""How each tier of the catalogue (:mod:`core.tiers`) runs: model, how it is fed, post-processing steps.

The step names refer to functions in :mod:`engine.refine` and their ``params`` are passed as keyword
arguments. A tier's price and description live in the catalogue, which the API reads without the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.model_manifest import ISNET_FP16, U2NET, U2NETP, Asset
from core.tiers import TIERS, Tier, get_tier

Normalisation = Literal["imagenet_max", "isnet"]
OutputScaling = Literal["minmax", "clip"]


@dataclass(frozen=True)
class ModelSpec:
    asset: Asset
    input_name: str
    output_name: str
    input_size: int
    """Square input side; these exports have static shapes, so it is fixed."""
    normalisation: Normalisation
    """imagenet_max: x / max(x), then ImageNet mean/std (U²-Net); isnet: (x - 128) / 256."""
    output_scaling: OutputScaling
    """minmax: U²-Net's raw map is rescaled to 0..1; clip: IS-Net is already 0..1."""

    @property
    def file(self) -> str:
        return self.asset.file


@dataclass(frozen=True)
class Step:
    name: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """How one tier of :data:`core.tiers.TIERS` runs: its model and the refinement steps after it."""

    tier: Tier
    model: ModelSpec
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return self.tier.name

    @property
    def model_file(self) -> str:
        return self.model.file


U2NETP_320 = ModelSpec(U2NETP, "input.1", "1959", 320, "imagenet_max", "minmax")
U2NET_320 = ModelSpec(U2NET, "input.1", "1959", 320, "imagenet_max", "minmax")
ISNET_1024 = ModelSpec(ISNET_FP16, "input", "output", 1024, "isnet", "clip")

PIPELINES: dict[str, Pipeline] = {
    p.name: p
    for p in (
        Pipeline(
            TIERS["basic"],
            U2NETP_320,
            steps=(Step("upsample_bilinear"), Step("harden", {"low": 0.2, "high": 0.8})),
        ),
        Pipeline(
            TIERS["standard"],
            U2NET_320,
            # the mask has 320² of information: coefficients at 512 px carry it; the edges come from the
            # full-resolution image in the final q = a·I + b
            steps=(Step("upsample_guided", {"work_side": 512, "radius": 2, "eps": 1e-4}),),
        ),
        Pipeline(
            TIERS["professional"],
            ISNET_1024,
            steps=(Step("upsample_guided", {"work_side": 1536, "radius": 3, "eps": 1e-4}),),
        ),
        Pipeline(
            TIERS["industry"],
            ISNET_1024,
            steps=(
                Step("upsample_guided", {"work_side": 1024, "radius": 2, "eps": 1e-4}),
                # band 2–3 px at 1024 scored best on the eval set (SAD, gradient); wider bands (4–6 px) scored worse
                Step("matting", {"work_side": 1024, "band": 3, "eps": 1e-6}),
                Step("estimate_foreground"),
            ),
        ),
    )
}


def get_pipeline(name: str) -> Pipeline:
    return PIPELINES[get_tier(name).name]
