"""One Redis subscription per API process, fanned out to every request waiting for a job or batch.

The worker publishes ``job:<id>`` / ``batch:<id>`` on :func:`core.final_channel.final_channel` when one becomes
final. A waiter registers a future here *before* it reads the row, so a signal between the read and the
wait is not lost; a hundred waiting requests cost a hundred futures, not a hundred Redis connections.
Redis is a hint, never the truth: waiters re-read the row every :attr:`FinalSignals.recheck_s`, often
while the subscription is down (Redis restarted) and rarely while it is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from redis.asyncio import Redis

from core.final_channel import final_channel, final_message
from core.settings import Settings

log = logging.getLogger("bgremover.api")

RECHECK_CONNECTED_S = 5.0
"""How often a waiter re-reads its row while signals arrive: only catches what ends without a signal."""

RECHECK_DISCONNECTED_S = 1.0
"""... and while the subscription is down, as the synchronous routes did before it existed."""

_RECONNECT_S = 1.0


class FinalSignals:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channel = final_channel(settings.queue_name)
        self._waiters: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._subscribed: asyncio.Event | None = None

    @property
    def connected(self) -> bool:
        return self._subscribed is not None and self._subscribed.is_set()

    @property
    def recheck_s(self) -> float:
        return RECHECK_CONNECTED_S if self.connected else RECHECK_DISCONNECTED_S

    async def register(self, kind: str, object_id: object) -> asyncio.Future[None]:
        """A future resolved when ``kind:object_id`` is announced; pass it to :meth:`release` when done."""
        if self._task is None or self._task.done():
            self._subscribed = asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="final-signals")
            # the first waiter gives the subscription a moment, so the signal it waits for is not missed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), timeout=RECHECK_DISCONNECTED_S)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[final_message(kind, str(object_id))].add(future)
        return future

    def release(self, kind: str, object_id: object, future: asyncio.Future[None]) -> None:
        key = final_message(kind, str(object_id))
        waiting = self._waiters.get(key)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiters[key]

    @staticmethod
    async def wait(future: asyncio.Future[None], timeout_s: float) -> None:
        """Until the signal or ``timeout_s``, whichever comes first (the future is never cancelled)."""
        await asyncio.wait([future], timeout=max(0.0, timeout_s))

    def _announce(self, message: str) -> None:
        for future in self._waiters.pop(message, ()):
            if not future.done():
                future.set_result(None)

    async def _listen(self) -> None:
        assert self._subscribed is not None
        while True:
            redis = Redis.from_url(self._settings.redis_url, socket_connect_timeout=2.0, socket_keepalive=True)
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message["type"] == "subscribe":
                            self._subscribed.set()
                        elif message["type"] == "message":
                            data = message["data"]
                            self._announce(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: waiters fall back to reading their rows every second
                log.warning("final-state signals unavailable (%r); retrying in %g s", exc, _RECONNECT_S)
            finally:
                self._subscribed.clear()
                await redis.aclose()
            await asyncio.sleep(_RECONNECT_S)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for waiting in self._waiters.values():
            for future in waiting:
                if not future.done():
                    future.cancel()
        self._waiters.clear()
