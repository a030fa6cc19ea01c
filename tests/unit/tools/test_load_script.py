"""``make load`` runs straight after ``make run`` on a fresh machine: its upload is made by the script,
not read from what only ``make eval-assets`` fetches (it used to open the quokka photo in MODEL_DIR)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[3]


def test_the_load_image_needs_no_fetched_asset(tmp_path: Path) -> None:
    empty_models = tmp_path / "models"
    empty_models.mkdir()
    out = tmp_path / "upload.jpg"
    code = (
        "import sys; sys.path.insert(0, 'scripts'); import load; "
        f"open({str(out)!r}, 'wb').write(load.sample_image(200_000))"
    )
    env = {**os.environ, "MODEL_DIR": str(empty_models), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    data = out.read_bytes()
    assert 120_000 <= len(data) <= 200_000  # a ~200 KB upload, as the report says
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.size == (1600, 1066)
    assert list(empty_models.iterdir()) == []
