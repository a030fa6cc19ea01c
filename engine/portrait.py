"""Portrait matting for the top tier: Robust Video Matting (MobileNetV3) where a person is the subject.

RVM is trained on people only; on anything else its matte is wrong or empty. So it is used only when
two independent signals agree that a person is the subject: OpenCV's Haar face detector (shipped inside
the opencv package) finds a face of a reasonable size, and inside that face box both RVM's matte and the
tier's own fused mask are mostly foreground. On the real-photo eval set this picked 19 of the 20 photos
of people and none of the 24 others (plush toys with faces, animals, objects); on the photos it picked,
it fixed the cases where the saliency models took a sign or a background object for the subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from engine.guided_filter import working_size
from engine.inference import session_options

F32 = NDArray[np.float32]

# RVM sees the image at ≤ 800 px and runs its backbone at 512 px, as measured on the eval set
_WORK_SIDE = 800
_BACKBONE_SIDE = 512
_FACE_SIDE = 384
_MIN_FACE_FRACTION = 0.06
"""A face narrower than this fraction of the image's long side is not "the subject"."""
_RVM_FACE_MIN = 0.6
_MIN_FORCED_FRACTION = 0.01
"""With ``type=person``: less of RVM's matte than this share of the image means it found no person."""
_MASK_FACE_MIN = 0.5


@dataclass(frozen=True)
class PortraitRunner:
    session: ort.InferenceSession
    faces: cv2.CascadeClassifier

    @classmethod
    def create(cls, path: Path, threads: int) -> PortraitRunner:
        session = ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
        # the cascade files ship inside the opencv wheel; its type stubs omit the ``cv2.data`` module
        cascades = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
        cascade = cv2.CascadeClassifier(str(cascades / "haarcascade_frontalface_default.xml"))
        if cascade.empty():
            raise RuntimeError("OpenCV's frontal face cascade could not be loaded")
        return cls(session=session, faces=cascade)

    def face_boxes(self, rgb: NDArray[np.uint8]) -> list[tuple[int, int, int, int]]:
        """(x, y, w, h) of faces in full-resolution pixels."""
        height, width = rgb.shape[:2]
        fw, fh = working_size(width, height, _FACE_SIDE)
        grey = cv2.cvtColor(cv2.resize(rgb, (fw, fh), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        side = max(2, int(_MIN_FACE_FRACTION * max(fw, fh)))
        found = self.faces.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
        scale = width / fw
        return [(int(x * scale), int(y * scale), int(w * scale), int(h * scale)) for x, y, w, h in found]

    def matte(self, rgb: NDArray[np.uint8]) -> F32:
        """RVM's alpha at full resolution (bilinear from ≤ 800 px)."""
        height, width = rgb.shape[:2]
        ww, wh = working_size(width, height, _WORK_SIDE)
        small = rgb if (ww, wh) == (width, height) else cv2.resize(rgb, (ww, wh), interpolation=cv2.INTER_AREA)
        src = np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)
        zero = np.zeros((1, 1, 1, 1), np.float32)  # first frame: empty recurrent state
        ratio = np.array([min(1.0, _BACKBONE_SIDE / max(ww, wh))], np.float32)
        feeds = {"src": src, "r1i": zero, "r2i": zero, "r3i": zero, "r4i": zero, "downsample_ratio": ratio}
        alpha = np.asarray(self.session.run(["pha"], feeds)[0][0, 0], dtype=np.float32)
        if (ww, wh) != (width, height):
            alpha = np.asarray(cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR), np.float32)
        return alpha

    def forced_alpha(self, rgb: NDArray[np.uint8]) -> F32 | None:
        """RVM's matte when the client said a person is the subject (no face needed: a back, a profile),
        unless RVM found next to nothing there, which means it is not a person after all."""
        matte = self.matte(rgb)
        return matte if float((matte >= 0.5).mean()) >= _MIN_FORCED_FRACTION else None

    def person_alpha(self, rgb: NDArray[np.uint8], alpha: F32) -> F32 | None:
        """RVM's matte when a person is the subject of ``rgb`` (judged with the current ``alpha``), else None."""
        boxes = self.face_boxes(rgb)
        if not boxes:
            return None
        matte = self.matte(rgb)
        for x, y, w, h in boxes:
            if (
                matte[y : y + h, x : x + w].mean() >= _RVM_FACE_MIN
                and alpha[y : y + h, x : x + w].mean() >= _MASK_FACE_MIN
            ):
                return matte
        return None
