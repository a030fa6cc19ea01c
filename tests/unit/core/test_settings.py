from __future__ import annotations

import pytest

from core.settings import Settings


def test_defaults_work_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "MAX_IMAGE_BYTES", "MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.database_url == "postgresql://postgres@127.0.0.1:5432/bgremover"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.max_image_bytes == 20 * 1024 * 1024
    assert s.batch_max_images == 500
    assert ".cache/bgremover/models" in str(s.model_dir)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MEGAPIXELS", "12.5")
    monkeypatch.setenv("MODEL_DIR", "~/models")
    s = Settings()
    assert s.max_megapixels == 12.5
    assert not str(s.model_dir).startswith("~")


def test_a_malformed_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_MAX_IMAGES", "lots")
    with pytest.raises(ValueError, match="BATCH_MAX_IMAGES"):
        Settings()
