"""``build_batch_zip``: once, when a batch's last image is done, pack its results and set its final status."""

from __future__ import annotations

import asyncio
import logging
import uuid
import zipfile
from pathlib import Path
from typing import Any

from core.filenames import batch_entry_name
from core.rows import BatchImageRow
from core.statuses import JobStatus
from core.storage import LocalStorage, zip_key
from core.tasks import enqueue_webhook, signal_final
from db import batches
from worker.context import context

log = logging.getLogger("bgremover.worker")


def write_zip(storage: LocalStorage, images: list[BatchImageRow], target: Path) -> int:
    """PNG/WebP/JPEG are compressed already, so entries are stored, not deflated again."""
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for image in images:
            key = image.output_key
            if image.status is not JobStatus.COMPLETED or not key:
                continue
            extension = key.rsplit(".", 1)[-1]
            name = batch_entry_name(image.position, image.original_filename, extension)
            archive.write(storage.local_path(key), arcname=name)
            count += 1
    return count


async def build_batch_zip(ctx: dict[str, Any], batch_id: str) -> dict[str, Any]:
    worker = context(ctx)
    storage = worker.storage
    bid = uuid.UUID(batch_id)
    batch = await batches.get_batch_by_id(bid)
    if batch is None or not batch.unfinished:
        return {"batch": batch_id, "status": "skipped"}
    images = await batches.batch_images(bid)
    key: str | None = None
    if any(i.status is JobStatus.COMPLETED for i in images):
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
    if final is not None:
        try:
            await signal_final(worker.redis, worker.settings.queue_name, "batch", batch_id)
        except Exception as exc:  # a waiter also re-reads the batch now and then
            log.warning("batch %s: could not signal its end: %r", bid, exc)
    if final is not None and final.webhook_url:
        await enqueue_webhook(worker.redis, worker.settings.queue_name, "batch", batch_id)
    return {"batch": batch_id, "status": final.status if final else "skipped"}
