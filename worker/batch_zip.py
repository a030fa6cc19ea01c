"""``build_batch_zip``: once, when a batch's last image is done, pack its results and set its final status."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import zipfile
from typing import Any

from core.filenames import batch_entry_name
from core.final_channel import signal_final
from core.rows import BatchImageRow
from core.statuses import JobStatus
from core.storage import Storage, zip_key
from core.tasks import enqueue_webhook
from db import batches
from worker.context import context

log = logging.getLogger("bgremover.worker")


def write_zip(storage: Storage, images: list[BatchImageRow], key: str) -> int:
    """Streams every result into the ZIP and the ZIP into the store (a multipart upload on S3): at most
    a chunk of each is in memory, whatever the batch's size. PNG/WebP/JPEG are compressed already, so
    entries are stored, not deflated again; no entry is ZIP64 (every result is far below 2 GiB, and some
    unzip libraries read no ZIP64). The ZIP appears only when complete: a download never sees half of
    one, and a failed build leaves none."""
    count = 0
    now = time.localtime()[:6]
    with (
        storage.writer_blocking(key) as out,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive,
    ):
        for image in images:
            source = image.output_key
            if image.status is not JobStatus.COMPLETED or not source:
                continue
            extension = source.rsplit(".", 1)[-1]
            entry = zipfile.ZipInfo(batch_entry_name(image.position, image.original_filename, extension), now)
            with archive.open(entry, "w") as dst:
                for chunk in storage.chunks_blocking(source):
                    dst.write(chunk)
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
        entries = await asyncio.to_thread(write_zip, storage, images, key)
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
