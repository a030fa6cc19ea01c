"""``STORAGE_URL`` picks the backend; a URL that cannot work stops the process at start-up with a
message that names what to set, never at the first upload."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from core.storage import LocalStorage, StorageConfigError, open_storage

ROOT = Path(__file__).resolve().parents[3]


def _settings(**changes: object) -> Settings:
    base = dataclasses.replace(
        Settings(), storage_url="", s3_access_key_id="", s3_secret_access_key="", s3_ambient_credentials=False
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_an_empty_storage_url_is_the_storage_dir(tmp_path: Path) -> None:
    storage = open_storage(_settings(storage_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path


def test_a_file_url_is_that_directory(tmp_path: Path) -> None:
    storage = open_storage(_settings(storage_url=f"file://{tmp_path}/data"))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "data"


@pytest.mark.parametrize("url", ["ftp://host/x", "file://otherhost/x", "s3:///prefix-without-bucket"])
def test_a_url_that_cannot_work_is_refused(url: str) -> None:
    with pytest.raises(StorageConfigError, match="STORAGE_URL"):
        open_storage(_settings(storage_url=url, s3_access_key_id="k", s3_secret_access_key="s"))


def test_an_s3_url_without_credentials_names_the_variables_to_set() -> None:
    with pytest.raises(StorageConfigError) as caught:
        open_storage(_settings(storage_url="s3://bucket/prefix"))
    assert "AWS_ACCESS_KEY_ID" in str(caught.value.code)
    with pytest.raises(StorageConfigError, match="together"):
        open_storage(_settings(storage_url="s3://bucket/prefix", s3_access_key_id="only-the-id"))


def test_an_s3_url_with_credentials_opens_without_touching_the_network() -> None:
    storage = open_storage(
        _settings(
            storage_url="s3://bucket/prefix",
            s3_access_key_id="k",
            s3_secret_access_key="s",
            s3_endpoint_url="http://192.0.2.1:9",
        )
    )
    assert storage.description == "s3://bucket/prefix"


@pytest.mark.parametrize("command", [["worker"], ["api.server", "--port", "9"]], ids=["worker", "api"])
def test_a_process_with_an_s3_url_and_no_credentials_stops_with_a_clear_message(
    tmp_path: Path, command: list[str]
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "BGREMOVER_ENV": "development",
        "STORAGE_URL": "s3://bucket/prefix",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "bgremover cannot use its storage" in done.stderr
    assert "AWS_ACCESS_KEY_ID" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_api_on_a_local_directory_never_loads_the_s3_client() -> None:
    probe = (
        "import sys, json; import api.app; api.app.create_app(); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'obstore' or m == 'core.storage_s3')))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "BGREMOVER_ENV": "development", "STORAGE_URL": ""}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
