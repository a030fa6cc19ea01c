"""``build_batch_zip``: once, when a batch's last image is done, pack its results and set its final status."""

from __future__ import annotations

import asyncio
import logging
import uuid
import zipfile
from pathlib import Path
from typing import Any

from core.filenames import batch_entry_name
from core.settings import Settings
from core.storage import LocalStorage, zip_key
from core.tasks import enqueue_webhook
from db import batches

log = logging.getLogger("bgremover.worker")


def write_zip(storage: LocalStorage, images: list[dict[str, Any]], target: Path) -> int:
    """PNG/WebP/JPEG are compressed already, so entries are stored, not deflated again."""
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for image in images:
            key = image["output_key"]
            if image["status"] != "completed" or not key:
                continue
            extension = key.rsplit(".", 1)[-1]
            name = batch_entry_name(image["position"], image["original_filename"], extension)
            archive.write(storage.local_path(key), arcname=name)
            count += 1
    return count


async def build_batch_zip(ctx: dict[str, Any], batch_id: str) -> dict[str, Any]:
    settings: Settings = ctx["settings"]
    storage: LocalStorage = ctx["storage"]
    bid = uuid.UUID(batch_id)
    batch = await batches.get_batch_by_id(bid)
    if batch is None or batch["status"] not in ("pending", "processing"):
        return {"batch": batch_id, "status": "skipped"}
    images = await batches.batch_images(bid)
    key: str | None = None
    if any(i["status"] == "completed" for i in images):
        key = zip_key(bid)
        storage.root.mkdir(parents=True, exist_ok=True)
        # Written beside its final place, then renamed: a download never sees half a ZIP.
        tmp = storage.root / f".tmp-zip-{uuid.uuid4().hex}"
        try:
            entries = await asyncio.to_thread(write_zip, storage, images, tmp)
            await asyncio.to_thread(storage.put_file, key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("batch %s: ZIP with %d entries", bid, entries)
    final = await batches.finalize(bid, key)
    if final is not None and final.get("webhook_url"):
        await enqueue_webhook(ctx["redis"], settings.queue_name, "batch", batch_id)
    return {"batch": batch_id, "status": final["status"] if final else "skipped"}
