"""How each tier of the catalogue (:mod:`core.tiers`) runs: model, how it is fed, post-processing steps.

The step names refer to functions in :mod:`engine.refine` and their ``params`` are passed as keyword
arguments. A tier's price and description live in the catalogue, which the API reads without the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.model_manifest import ISNET_FP16, U2NET, U2NETP, Asset
from core.tiers import TIERS, Tier, get_tier

LIGHT_MAX_INPUT = 320
"""Models with an input up to this side are light (:attr:`ModelSpec.light`)."""

Normalisation = Literal["imagenet_max", "isnet"]
OutputScaling = Literal["minmax", "clip"]
GraphBuild = Literal["as_exported", "half_pixel", "resizable", "int8", "resizable_int8"]


@dataclass(frozen=True)
class ModelSpec:
    asset: Asset
    input_name: str
    output_name: str
    input_size: int
    """Square input side. These exports have static shapes: it is the exported side unless the graph is
    :attr:`resizable`."""
    normalisation: Normalisation
    """imagenet_max: x / max(x), then ImageNet mean/std (U²-Net); isnet: (x - 128) / 256."""
    output_scaling: OutputScaling
    """minmax: U²-Net's raw map is rescaled to 0..1; clip: IS-Net is already 0..1."""
    graph: GraphBuild = "as_exported"
    """How the runner builds its graph from the weights: as exported; ``half_pixel``, its resizes in the
    coordinates onnxruntime's blocked layout takes (the same map, a faster run: :mod:`engine.resizable_graph`);
    ``resizable``, the export's constant upsampling sizes rewritten into scales (:mod:`engine.resizable_graph`),
    so it runs at ``input_size`` whatever side it was exported at; ``int8``, an 8-bit graph from the weights
    and their committed activation ranges (:mod:`engine.quantized_graph`); ``resizable_int8``, both."""
    input_from_halvings: bool = False
    """Its input is taken from exact halvings of a large image (:mod:`engine.downscale`): a few ms less than
    one area resize from full size, and a slightly softer input. Only where that was measured harmless."""

    @property
    def file(self) -> str:
        return self.asset.file

    @property
    def resizable(self) -> bool:
        """The export's constant upsampling sizes are rewritten, so it runs at ``input_size``."""
        return self.graph in ("resizable", "resizable_int8")

    @property
    def int8(self) -> bool:
        """The graph is built in 8 bits from the weights and their committed activation ranges."""
        return self.graph in ("int8", "resizable_int8")

    @property
    def light(self) -> bool:
        """A 320² input: a short run that scales poorly across threads, so runs go side by side
        (:mod:`engine.model_slots`)."""
        return self.input_size <= LIGHT_MAX_INPUT

    @property
    def key(self) -> str:
        """What a worker keeps one session per: the weights file, and which graph is built from it."""
        return self.file if self.graph == "as_exported" else f"{self.file}#{self.graph}"


@dataclass(frozen=True)
class Step:
    name: str
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Pass:
    """One model run on the image; ``flip`` runs it on the mirrored image (and mirrors the map back)."""

    model: ModelSpec
    weight: float = 1.0
    flip: bool = False


@dataclass(frozen=True)
class Pipeline:
    """How one tier of :data:`core.tiers.TIERS` runs: its model passes, fused, then the refinement steps.

    The passes' maps are resized to the largest model side and averaged with their weights: the models
    make different mistakes (U²-Net takes the wrong object, IS-Net drops thin parts), so their mean is
    right more often than either, and a mirrored pass averages out a model's left/right quirks.
    """

    tier: Tier
    passes: tuple[Pass, ...]
    steps: tuple[Step, ...]
    portrait: bool = False
    """Loads the portrait matting model for the ``portrait`` step (people only, see :mod:`engine.portrait`)."""
    settle: bool = False
    """Where the passes disagree and their mean is grey, GrabCut decides (:mod:`engine.settle`)."""
    second_look: Pass | None = None
    """A pass run only when the first one's map is ghosted (:func:`engine.settle.grey_share`); the two maps
    are then settled."""

    @property
    def name(self) -> str:
        return self.tier.name

    @property
    def model(self) -> ModelSpec:
        """The first pass's model: the tier's main model (the benchmark times it alone)."""
        return self.passes[0].model

    @property
    def model_file(self) -> str:
        return self.model.file

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        extra = () if self.second_look is None else (self.second_look.model,)
        return tuple(dict.fromkeys((*(p.model for p in self.passes), *extra)))


# its upsampling in half-pixel coordinates: the same raw map (< 1e-5), 8 % less CPU per run (engine.resizable_graph)
# its input through halvings: on the 59 real photos enlarged to 2 MP, basic's IoU 0.9067 → 0.9084 and MSE ×1e3
# 27.1 → 26.7 (with the guide also from halvings); 8-bit U²-Net was not indifferent to it (docs/performance.md)
U2NETP_320 = ModelSpec(
    U2NETP, "input.1", "1959", 320, "imagenet_max", "minmax", graph="half_pixel", input_from_halvings=True
)
U2NET_320 = ModelSpec(U2NET, "input.1", "1959", 320, "imagenet_max", "minmax")
# standard's U²-Net in 8-bit integers: 0.18 s against 0.59–0.64 s, the same figures (engine.quantized_graph)
U2NET_320_INT8 = ModelSpec(U2NET, "input.1", "1959", 320, "imagenet_max", "minmax", graph="int8")
# IS-Net at 768² (exported at 1024², engine.resizable_graph): with U²-Net and industry's steps, sides
# 512/576/640/704/768/896/1024 scored MSE ×1e3 16.4/16.0/15.4/13.8/12.0/12.5/13.7 on the 59 real photos;
# 5-fold cross-validation × 10 shuffles took 768 in 40 of 50 folds (896 in 10), out of fold IoU 0.948,
# MSE 12.8. At 1024² IS-Net dropped whole objects it kept at 768² (objects IoU 0.955 against 0.990), and
# a run costs 4.8 U²-Net-p runs instead of 10.2.
ISNET_768 = ModelSpec(ISNET_FP16, "input", "output", 768, "isnet", "clip", graph="resizable")
# the same in 8 bits, ranges from scikit-image's photos at 768² (engine.quantized_graph): 0.28 s against
# ~1.0 s; its subject (≥ 0.5) overlaps the fp16 one by IoU 0.98 on average over the 59 real photos
ISNET_768_INT8 = ModelSpec(ISNET_FP16, "input", "output", 768, "isnet", "clip", graph="resizable_int8")

# Basic and standard were chosen on the first 44 real photos of /work/shared/eval/real (docs/quality.md):
# u2netp 0.901 / 34.0 IoU / MSE ×1e3; u2net + mirrored u2netp 0.929 / 22.7; a mirrored pass helps as much as
# a second model, as each model fails on some photos in one orientation only. ``settle`` (engine.settle) was
# added on the 59-photo set: ghosting 3.2 % → 0.8 % for standard. Professional and industry were chosen on
# the 59 (docs/performance.md, 2026-12-05): every pass set within reach of the time budgets
# was scored per kind of photo against basic, with each pass cached per photo.
PIPELINES: dict[str, Pipeline] = {
    p.name: p
    for p in (
        Pipeline(
            TIERS["basic"],
            (Pass(U2NETP_320),),
            # the mask has 320² of information: coefficients at 512 px carry it; the edges come from the
            # full-resolution image in the final q = a·I + b
            steps=(Step("upsample_guided", {"work_side": 512, "radius": 2, "eps": 1e-4}),),
            # a mirrored look only for a ghosted map: 7 of the 59 real photos (engine.settle.SECOND_LOOK_GREY)
            second_look=Pass(U2NETP_320, flip=True),
        ),
        Pipeline(
            TIERS["standard"],
            (Pass(U2NET_320_INT8), Pass(U2NETP_320, flip=True)),
            steps=(Step("upsample_guided", {"work_side": 512, "radius": 2, "eps": 1e-4}),),
            settle=True,
        ),
        Pipeline(
            TIERS["professional"],
            # every pass in 8 bits: IoU 0.954 / MSE ×1e3 11.0 on the 59 real photos, every kind at least as good
            # as basic (docs/performance.md, "Professional in 8 bits"). Of the sets within the time budget,
            # IS-Net + U²-Net (no mirrored view) failed plants and fur (18.1 against basic's 11.8), so did
            # adding IS-Net mirrored (16.1); U²-Net in fp32 scored the same (0.954 / 11.1) for 0.4 s more.
            # 5-fold cross-validation × 10 shuffles among the three that held took this one in 40 of 50 folds
            (Pass(ISNET_768_INT8), Pass(U2NET_320_INT8), Pass(U2NET_320_INT8, flip=True)),
            steps=(Step("upsample_guided", {"work_side": 1024, "radius": 4, "eps": 1e-4}),),
            settle=True,
        ),
        Pipeline(
            TIERS["industry"],
            # IS-Net in full precision (fp16) and mirrored (8 bits), U²-Net plain and mirrored (8 bits): 0.956 /
            # 10.4 before the portrait step. U²-Net in fp32 scored the same (0.956 / 10.4) for 0.4 s more; every
            # pass in full precision is over the time budget (0.956 / 10.6 with the earlier GrabCut start)
            (Pass(ISNET_768), Pass(ISNET_768_INT8, flip=True), Pass(U2NET_320_INT8), Pass(U2NET_320_INT8, flip=True)),
            steps=(
                # radius 4 (was 2): 5-fold cross-validation × 10 shuffles over the 59 real photos (with the four
                # passes industry had then: IS-Net at 1024² and U²-Net, each also mirrored), among
                # working sizes 512/1024, radii 1–8 and ε 1e-5–1e-3, took it in 49 of 50 folds by MSE and
                # by gradient error; out of fold IoU 0.9463 → 0.9465, MSE 12.68 → 12.61, gradient 0.105 → 0.102
                Step("upsample_guided", {"work_side": 1024, "radius": 4, "eps": 1e-4}),
                # mixed in, not replacing: with four passes the fused alpha is better on people's bodies and
                # the portrait matte on their hair. 5-fold cross-validation × 10 shuffles over the 59 real
                # photos, weights 0–1 by eighths, took 0.375 in 29 of 50 folds (0.5 in 10, 0.25 in 5, 0.125
                # and 0.625 in 3 each); out of fold IoU 0.954, MSE ×1e3 10.1, gradient 0.092 (in sample 0.956 /
                # 9.6 / 0.090; weight 1, the matte replacing the alpha: 0.953 / 11.4 / 0.099)
                Step("portrait", {"weight": 0.375}),
                # no closed-form matting: on the 44 real photos it cost IoU 0.953 → 0.943 and MSE 14.6 → 15.5
                # (it helped on the composites, whose edges are synthetic)
                Step("estimate_foreground"),
            ),
            portrait=True,
            settle=True,
        ),
    )
}


def get_pipeline(name: str) -> Pipeline:
    return PIPELINES[get_tier(name).name]
