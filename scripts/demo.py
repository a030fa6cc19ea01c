"""A first five minutes with bgremover: ``make demo`` (sample photos) or ``make demo DIR=./my-photos``.

Checks that the service is ready, shows the balance and the price, sends the images as one batch
through the running API with the Python client, follows the progress, downloads the ZIP into
``./demo-output/`` and unpacks it there.

The token is ``$BGREMOVER_TOKEN`` or, for a local development setup, one made for ``demo-user``
with the service's own secret. Exit codes are those of ``bgremover`` (see ``bgremover --help``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bgremover_client import Batch, BgRemoverClientError, Client, Job, collect_images, extract_zip
from bgremover_client._progress import ProgressBar
from bgremover_client.cli import EXIT_CREDITS, EXIT_INVALID, EXIT_OK, EXIT_UNAVAILABLE, exit_code_for, message_for

DEMO_USER = "demo-user"
SAMPLE_COUNT = 4


def dev_token() -> str:
    """A development token for ``demo-user``, signed with this machine's ``JWT_SECRET``."""
    from api.auth import make_token
    from core.settings import get_settings

    return make_token(get_settings(), DEMO_USER)


def make_samples(folder: Path, count: int = SAMPLE_COUNT) -> list[Path]:
    """A few different photos cut from the quokka that ``make models`` installs."""
    from PIL import Image, ImageOps

    source = Path.home() / ".cache" / "bgremover" / "models" / "quokka.jpg"
    if not source.is_file():
        raise FileNotFoundError(f"{source} (run `make models` first, or pass DIR=<folder of photos>)")
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    with Image.open(source) as img:
        rgb = img.convert("RGB")
        for index in range(count):
            dx, dy = index * 20, index * 12
            sample = rgb.crop((dx, dy, rgb.width - 80 + dx, rgb.height - 48 + dy))
            if index % 2:
                sample = ImageOps.mirror(sample)
            sample = sample.resize((sample.width * 2 // 3, sample.height * 2 // 3))
            path = folder / f"quokka-{index + 1}.jpg"
            sample.save(path, quality=90)
            paths.append(path)
    return paths


def say(line: str) -> None:
    print(line, flush=True)


def run(images_dir: Path | None, *, url: str | None, tier: str, out: Path) -> int:
    token = os.environ.get("BGREMOVER_TOKEN") or dev_token()
    with Client(url, token) as bg:
        say(f"1. Is the service at {bg.base_url} ready?")
        ready = bg.ready()
        if not ready.ready:
            for name, (ok, detail) in ready.checks.items():
                say(f"   {'ok ' if ok else 'NO '} {name}: {detail}")
            say("   Not ready. Start everything with `make run` (or a worker with `make worker`) and retry.")
            return EXIT_UNAVAILABLE
        say(f"   yes ({ready.workers} worker(s) running)")

        images = collect_images(images_dir) if images_dir else make_samples(out / "samples")
        if not images:
            say(f"No images (.jpg, .jpeg, .png, .webp) in {images_dir}.")
            return EXIT_INVALID
        source = images_dir or out / "samples"
        say(f"2. {len(images)} image(s) from {source}")

        pricing = bg.pricing()
        balance = bg.balance()
        price = pricing.estimate(tier, len(images))
        discount = pricing.discount_percent(len(images)) if len(images) > 1 else 0
        say(f"3. Balance of {balance.user_id}: {balance.balance} credits")
        tier_price = pricing.tier(tier)
        unit = f"{tier_price.credits} credits per image" if tier_price else "unknown tier"
        say(f"   Price: {price} credits for {len(images)} {tier} image(s) ({unit}, {discount}% volume discount)")
        if price is not None and balance.balance < price:
            say(f"   Not enough credits. Run:  make grant USER={balance.user_id} CREDITS=500")
            return EXIT_CREDITS

        out.mkdir(parents=True, exist_ok=True)
        if len(images) == 1:
            return _single(bg, images[0], tier, out)
        return _batch(bg, images, tier, out)


def _single(bg: Client, image: Path, tier: str, out: Path) -> int:
    job: Job = bg.submit(image, tier=tier)
    say(f"4. Submitted job {job.id}; waiting for a worker…")
    job = bg.wait(job, timeout=600)
    if job.status != "completed":
        say(f"   {job.status}: {job.error_code}: {job.error_message}")
        return 1
    written = bg.download_result(job, str(out) + os.sep)
    say(f"5. Done. The cut-out is {written.resolve()}")
    return EXIT_OK


def _batch(bg: Client, images: list[Path], tier: str, out: Path) -> int:
    batch = bg.submit_batch(images, tier=tier)
    say(f"4. Submitted batch {batch.batch_id} ({batch.credits_charged} credits charged); progress:")
    bar = ProgressBar(batch.total_images, label="   ")

    def show(b: Batch) -> None:
        bar.update(sum(i.is_final for i in b.images or ()), b.failed_images)

    try:
        batch = bg.wait(batch, timeout=1800, on_progress=show)
    finally:
        bar.close()
    for failed in batch.failed:
        say(f"   {failed.filename}: {failed.error_code}: {failed.error_message}")
    if batch.download_url is None:
        say("   No image succeeded; there is nothing to download.")
        return 1
    archive = bg.download_zip(batch, out / f"{batch.batch_id}.zip")
    written = extract_zip(archive, out)
    say(f"5. Done: {batch.succeeded_images} of {batch.total_images} images ({batch.status}).")
    say(f"   ZIP:       {archive.resolve()}")
    say(f"   Cut-outs:  {out.resolve()}/ ({', '.join(p.name for p in written[:3])}{', …' if len(written) > 3 else ''})")
    return EXIT_OK if batch.status == "completed" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", nargs="?", type=Path, help="folder of photos (default: samples from the quokka)")
    parser.add_argument("--url", help="API base URL (default $BGREMOVER_URL or http://127.0.0.1:8000)")
    parser.add_argument("--tier", default="basic", help="tier to use (default basic)")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default ./demo-output)")
    args = parser.parse_args(argv)
    images_dir: Path | None = args.dir if args.dir and str(args.dir).strip() else None
    try:
        return run(images_dir, url=args.url, tier=args.tier, out=args.out)
    except (BgRemoverClientError, FileNotFoundError) as exc:
        say(message_for(exc))
        return exit_code_for(exc)


if __name__ == "__main__":
    sys.exit(main())
