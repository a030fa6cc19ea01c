"""Run inside ``.venv-rembg`` by :mod:`tools.quality_eval`: rembg's masks for a list of images, as PNG files.

    .venv-rembg/bin/python tools/rembg_masks.py MODEL OUT_DIR IMAGE...

Uses rembg's own ``new_session``/``remove`` with its defaults (no alpha matting), i.e. what a rembg
user gets; only our interpreter is absent, so this file imports nothing of the project.
"""

import sys
from pathlib import Path

from PIL import Image
from rembg import new_session, remove


def main() -> None:
    model, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    session = new_session(model)
    for name in sys.argv[3:]:
        with Image.open(name) as img:
            mask = remove(img.convert("RGB"), session=session, only_mask=True)
        mask.save(out / (Path(name).stem + ".png"))


if __name__ == "__main__":
    main()
