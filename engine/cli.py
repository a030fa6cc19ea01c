"""Local command line on the same engine as the worker::

    python -m engine.cli remove photo.jpg more/ --tier standard --out cutouts/ [--format webp] [--crop]

Directories expand to the JPEG/PNG/WebP files directly inside them. Each failure is reported with its
error code; the exit status is 1 if any file failed, 2 for a usage error (unknown or unavailable tier).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from core.errors import BgRemoverError
from core.options import OutputOptions
from core.settings import get_settings
from core.tiers import TIERS
from engine.pipeline import Engine

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass
class RemoveReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str, str]] = field(default_factory=list)
    """(input, error code, message)"""


def expand_inputs(inputs: Iterable[Path]) -> Iterator[Path]:
    for path in inputs:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


class Progress:
    """A one-line progress bar on a terminal, plain lines otherwise; no dependency."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.done = total, stream, 0
        self.start = time.monotonic()
        self.enabled = total > 1
        self.tty = stream.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = round(width * self.done / self.total)
        rate = self.done / max(time.monotonic() - self.start, 1e-6)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {rate:.2f} img/s {label}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line[:120])
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def unique_output(out_dir: Path, stem: str, extension: str, taken: set[Path]) -> Path:
    candidate = out_dir / f"{stem}.{extension}"
    n = 1
    while candidate in taken:
        candidate = out_dir / f"{stem}-{n}.{extension}"
        n += 1
    taken.add(candidate)
    return candidate


def run_remove(
    engine: Engine, inputs: list[Path], tier: str, options: OutputOptions, out_dir: Path, stderr: TextIO
) -> RemoveReport:
    report = RemoveReport()
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(inputs), stderr)
    taken: set[Path] = set()
    for path in inputs:
        try:
            cutout = engine.remove(path.read_bytes(), tier, options)
        except BgRemoverError as exc:
            report.failed.append((path, exc.code, exc.detail))
            prefix = "\n" if progress.tty else ""  # keep the message off the progress bar's line
            stderr.write(f"{prefix}{path}: {exc.code}: {exc.detail}\n")
        except OSError as exc:
            report.failed.append((path, "read_error", str(exc)))
            stderr.write(f"{path}: read_error: {exc}\n")
        else:
            dest = unique_output(out_dir, path.stem, cutout.extension, taken)
            dest.write_bytes(cutout.data)
            report.written.append(dest)
        progress.step(path.name)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.cli", description="Background removal on local files.")
    sub = parser.add_subparsers(dest="command", required=True)
    rm = sub.add_parser("remove", help="cut out the subject of each image")
    rm.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="image files or directories")
    rm.add_argument("--tier", default="basic", choices=list(TIERS))
    rm.add_argument("--out", required=True, type=Path, help="output directory")
    rm.add_argument("--format", choices=["png", "webp", "jpg"])
    rm.add_argument("--channels", choices=["rgba", "alpha"])
    rm.add_argument("--bg-color", help="hex colour, e.g. #fff, #336699 or #33669980")
    rm.add_argument("--crop", action="store_true", help="crop to the subject")
    rm.add_argument("--crop-margin", help="margin around the crop: pixels (20) or percent (5%%)")
    rm.add_argument("--size", help="maximum long side of the output, px")
    args = parser.parse_args(argv)

    raw = {"format": args.format, "channels": args.channels, "bg_color": args.bg_color, "crop_margin": args.crop_margin}
    params = {k: v for k, v in raw.items() if v is not None}
    params["crop"] = "true" if args.crop else "false"
    if args.size is not None:
        params["size"] = args.size
    try:
        options = OutputOptions.from_params(params)
    except BgRemoverError as exc:
        print(f"error: {exc.code}: {exc.detail}", file=sys.stderr)
        return 2
    inputs = list(expand_inputs(args.inputs))
    if not inputs:
        print("error: no input images found", file=sys.stderr)
        return 2
    engine = Engine.load(get_settings(), tiers=[args.tier])
    if not engine.available_tiers()[args.tier]:
        print(f"error: tier_unavailable: {engine.unavailable.get(args.tier, '')}", file=sys.stderr)
        return 2
    report = run_remove(engine, inputs, args.tier, options, args.out, sys.stderr)
    print(f"{len(report.written)} written to {args.out}, {len(report.failed)} failed", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
