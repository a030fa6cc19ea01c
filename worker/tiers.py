"""The quality tiers, declared in one place: model, how it is fed, post-processing steps, price.

Adding a tier or swapping a model is an edit here only; the step names refer to functions in
:mod:`worker.refine` and their ``params`` are passed as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.errors import UnknownTier
from worker.model_manifest import ISNET_FP16, U2NET, U2NETP, Asset

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
class TierSpec:
    name: str
    credits: int
    model: ModelSpec
    steps: tuple[Step, ...]
    description: str

    @property
    def model_file(self) -> str:
        return self.model.file


U2NETP_320 = ModelSpec(U2NETP, "input.1", "1959", 320, "imagenet_max", "minmax")
U2NET_320 = ModelSpec(U2NET, "input.1", "1959", 320, "imagenet_max", "minmax")
ISNET_1024 = ModelSpec(ISNET_FP16, "input", "output", 1024, "isnet", "clip")

TIERS: dict[str, TierSpec] = {
    t.name: t
    for t in (
        TierSpec(
            name="basic",
            credits=3,
            model=U2NETP_320,
            steps=(Step("upsample_bilinear"), Step("harden", {"low": 0.2, "high": 0.8})),
            description="U²-Net-p at 320², mask upscaled to the input size, hard-ish edges",
        ),
        TierSpec(
            name="standard",
            credits=8,
            model=U2NET_320,
            # the mask has 320² of information: coefficients at 512 px carry it; the edges come from the
            # full-resolution image in the final q = a·I + b
            steps=(Step("upsample_guided", {"work_side": 512, "radius": 2, "eps": 1e-4}),),
            description="U²-Net at 320², edge-aware (guided filter) upsampling of the mask",
        ),
        TierSpec(
            name="professional",
            credits=15,
            model=ISNET_1024,
            steps=(Step("upsample_guided", {"work_side": 1536, "radius": 3, "eps": 1e-4}),),
            description="IS-Net at 1024², edge-aware upsampling, soft alpha",
        ),
        TierSpec(
            name="industry",
            credits=25,
            model=ISNET_1024,
            steps=(
                Step("upsample_guided", {"work_side": 1024, "radius": 2, "eps": 1e-4}),
                # band 2–3 px at 1024 scored best on the eval set (SAD, gradient); wider bands (4–6 px) scored worse
                Step("matting", {"work_side": 1024, "band": 3, "eps": 1e-6}),
                Step("estimate_foreground"),
            ),
            description="IS-Net at 1024², closed-form matting in the unknown band, foreground colour decontamination",
        ),
    )
}


def get_tier(name: str) -> TierSpec:
    try:
        return TIERS[name]
    except KeyError:
        raise UnknownTier(f"unknown tier {name!r}; tiers: {', '.join(TIERS)}", tiers=list(TIERS)) from None


def model_installed(tier: str, model_dir: Path) -> bool:
    """Cheap availability check for the API: the file is there with the manifest's size (no hashing)."""
    asset = get_tier(tier).model.asset
    try:
        return (model_dir / asset.file).stat().st_size == asset.size
    except OSError:
        return False
