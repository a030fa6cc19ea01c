"""A real S3-compatible HTTP server for the tests: moto's standalone server (``moto[server]`` in the dev
extras), started on a free port of the address asked for, one bucket per name asked for."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import free_port, stop_process

# moto checks no signature; any non-empty pair signs the requests the way real S3 wants them.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"bgremover-test-{uuid.uuid4().hex[:12]}"
        # A path-style PUT /bucket creates it (moto does not check the signature).
        response = httpx.put(f"{self.endpoint}/{bucket}", timeout=10)
        response.raise_for_status()
        return bucket

    def env(self, bucket: str, prefix: str = "objects") -> dict[str, str]:
        """The variables a process needs to use ``s3://bucket/prefix`` on this server."""
        return {
            "STORAGE_URL": f"s3://{bucket}/{prefix}",
            "S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }


@contextlib.contextmanager
def moto_server(host: str = "127.0.0.1", log_path: Path | None = None) -> Iterator[S3Server]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(moto), "-H", host, "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {proc.returncode}")
            try:
                httpx.get(endpoint + "/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start in time")
            time.sleep(0.2)
        yield S3Server(endpoint)
    finally:
        stop_process(proc)
        if log_path and not isinstance(log, int):
            log.close()
