"""The S3-compatible server the storage tests share (one per run) and a fresh bucket per test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from core.settings import Settings
from tests.support.s3_server import ACCESS_KEY, SECRET_KEY, S3Server, moto_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3Server) -> Settings:
    """The run's settings with ``STORAGE_URL`` on a new, empty bucket."""
    bucket = s3_server.create_bucket()
    return dataclasses.replace(
        settings,
        storage_url=f"s3://{bucket}/objects",
        s3_endpoint_url=s3_server.endpoint,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_region="us-east-1",
        s3_path_style=True,
    )
