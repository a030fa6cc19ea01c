"""The tier catalogue: what a customer buys (name, price, description) and which weights it needs.

How each tier runs (model input, refinement steps) is the engine's business
(:mod:`engine.pipelines`); this module holds only what the API, pricing and the worker share, so the API
can price and check availability without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import UnknownTier
from core.model_manifest import ISNET_FP16, RVM_MOBILENETV3, U2NET, U2NETP, Asset
from core.settings import Settings


@dataclass(frozen=True)
class Tier:
    name: str
    credits: int
    description: str
    models: tuple[Asset, ...]
    """Every weight file the tier's pipeline loads; the tier is available when all are installed."""

    @property
    def model_file(self) -> str:
        return self.models[0].file

    @property
    def licence(self) -> str:
        return " + ".join(dict.fromkeys(a.licence for a in self.models))


TIERS: dict[str, Tier] = {
    t.name: t
    for t in (
        Tier(
            name="basic",
            credits=3,
            description=(
                "One fast model (U²-Net-p), with a second, mirrored look where it is unsure; edges follow the photo. "
                "Good for simple, clear subjects."
            ),
            models=(U2NETP,),
        ),
        Tier(
            name="standard",
            credits=8,
            description=(
                "Two models (U²-Net, and U²-Net-p on the mirrored photo) vote on the subject, so a mistake "
                "of one model is outvoted; edges follow the photo."
            ),
            models=(U2NET, U2NETP),
        ),
        Tier(
            name="professional",
            credits=15,
            description=(
                "Two strong models (IS-Net and U²-Net, and U²-Net again on the mirrored photo) vote; where they "
                "disagree the photo's colours decide; finer edges, fewer dropped or extra parts."
            ),
            models=(ISNET_FP16, U2NET),
        ),
        Tier(
            name="industry",
            credits=25,
            description=(
                "The same two strong models, each also on the mirrored photo, IS-Net at full precision, plus: "
                "for people, a dedicated portrait matting model for hair; the old background's colour is "
                "removed from soft edges."
            ),
            models=(ISNET_FP16, U2NET, RVM_MOBILENETV3),
        ),
    )
}
TIER_NAMES: tuple[str, ...] = tuple(TIERS)


def get_tier(name: str) -> Tier:
    try:
        return TIERS[name]
    except KeyError:
        raise UnknownTier(name, TIER_NAMES) from None


def excluded_models(tier: str, settings: Settings) -> list[Asset]:
    """The tier's weights whose licence ``ALLOWED_MODEL_LICENCES`` keeps out of this deployment."""
    return [asset for asset in get_tier(tier).models if not settings.licence_allowed(asset.licence)]


def unavailable_reason(tier: str, settings: Settings) -> str | None:
    """Why the tier cannot run here (None: it can), in words for /pricing, readiness and errors."""
    excluded = excluded_models(tier, settings)
    if excluded:
        names = ", ".join(f"{a.file} ({a.licence})" for a in excluded)
        return f"it needs {names}, a licence ALLOWED_MODEL_LICENCES does not allow"
    if not model_installed(tier, settings.model_dir):
        return "its model weights are not installed (run `make models`)"
    return None


def model_installed(tier: str, model_dir: Path) -> bool:
    """Cheap availability check for the API: every file is there with the manifest's size (no hashing)."""
    for asset in get_tier(tier).models:
        try:
            if (model_dir / asset.file).stat().st_size != asset.size:
                return False
        except OSError:
            return False
    return True
