"""Fair order: arq runs the runnable entries of its sorted set lowest score first, and a score is only
"runnable" once it is not in the future. So images are enqueued with scores in the past, set by
start-time fair queueing (:func:`fair_scores`): each user has one clock that advances by each of their
images' cost (megapixels × tier, :func:`turn_cost_ms`), and a newcomer starts at the head of the queue.
One user's 500-image batch then takes every other turn at most, instead of making everyone else wait
for all of it; :class:`Lane` only orders a user's own work.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from core.tasks import FAIR_OFFSET_MS, QUEUED_FOR, Task, job_arq_id


class Lane(StrEnum):
    """The order of one user's own work: a user's single job takes that user's next turn ahead of their
    own queued batch images. Lanes never add turns: the user has one clock (:func:`fair_scores`)."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


COST_MS_PER_CREDIT_MEGAPIXEL = 1000
"""An image's turn on its user's clock: its tier's price (how much work one megapixel of it is) times
its megapixels."""

MIN_TURN_MEGAPIXELS = 1.0
"""The fewest megapixels a turn is priced at: below about a megapixel the model's fixed input size,
not the image, sets the time (docs/bench.md: 0.5 and 2 MP take about as long), so a thumbnail is no
cheaper a turn than a 1 MP photo."""


_MAX_SWAP_LOOKS = 64
"""How many of a user's recorded batch turns a single job looks at for one it can take (stale records
are dropped as they are looked at)."""


def turn_cost_ms(unit_credits: int, megapixels: float) -> int:
    """How far one image moves its user's clock: the tier's relative cost × the image's megapixels,
    with a floor (:data:`MIN_TURN_MEGAPIXELS`), so a 50 MP image is 50 turns' worth of a 1 MP one."""
    return max(1, round(max(1, unit_credits) * max(megapixels, MIN_TURN_MEGAPIXELS) * COST_MS_PER_CREDIT_MEGAPIXEL))


class FairImage(NamedTuple):
    job_id: uuid.UUID | str
    cost_ms: int
    """:func:`turn_cost_ms` of the image."""


# Start-time fair queueing with one clock per user. KEYS[1] the queue, KEYS[2] the user's clock, KEYS[3] the
# queue's arrival clock, KEYS[4] the user's queued batch turns (arq id -> score); ARGV: now_ms, offset_ms,
# ttl_ms, lane, arq's in-progress key prefix, swap looks, the stride of what follows, arq's job and result key
# prefixes (empty when only scoring), then per image its arq id, cost and, when enqueuing, arq's serialised
# job. The head is the lowest fair score still queued (arq keeps running jobs in the set until they end), the
# "virtual time". A user whose clock is behind the head starts at the head, 1 ms after the last user who did
# (the arrival clock), so newcomers keep their order of arrival instead of tying. Each image takes the user's
# clock and moves it on by its cost, whatever its lane. A single job (INTERACTIVE) swaps with the user's
# earliest batch image that is queued and not started: the single takes that turn, the batch image the new one
# at the end of the user's clock, so the user's own single runs first and the user's total share does not
# change. The swap is of stretches, not of single turns: every batch turn within the single's cost of the
# one it takes moves too, keeping its spacing, so a 49 MP single does not run in a thumbnail's turn. An empty
# queue resets every clock.
_FAIR_START = """
local now = tonumber(ARGV[1])
local offset = tonumber(ARGV[2])
local ttl = ARGV[3]
local interactive = ARGV[4] == 'interactive'
local running = ARGV[5]
local floor = now - offset
local head = redis.call('ZRANGEBYSCORE', KEYS[1], floor - offset / 2, now, 'WITHSCORES', 'LIMIT', 0, 1)
local start = floor
local clock = 0
if head[2] then
  start = math.max(tonumber(head[2]), tonumber(redis.call('GET', KEYS[3]) or '0') + 1)
  clock = tonumber(redis.call('GET', KEYS[2]) or '0')
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. head[2])
else
  redis.call('DEL', KEYS[4])
end
if clock > start then
  start = clock
else
  redis.call('SET', KEYS[3], string.format('%d', start), 'PX', ttl)
end

local function queued_batch_turn()
  local looks = 0
  while looks < tonumber(ARGV[6]) do
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    if not first[1] then return nil end
    looks = looks + 1
    local id, recorded = first[1], tonumber(first[2])
    local score = redis.call('ZSCORE', KEYS[1], id)
    if score and tonumber(score) == recorded and redis.call('EXISTS', running .. id) == 0 then
      return id, recorded
    end
    -- finished, started, or moved by someone else (the sweep, an arq retry): not a turn to take
    redis.call('ZREM', KEYS[4], id)
  end
  return nil
end

local scores = {}
local t = start
for i = 10, #ARGV, tonumber(ARGV[7]) do
  local id, cost = ARGV[i], tonumber(ARGV[i + 1])
  local turn = math.min(t, now - 1)
  if interactive then
    local batch_id, batch_turn = queued_batch_turn()
    if batch_id then
      -- the single's turn is as long as its cost: the batch turns inside [batch_turn, batch_turn + cost)
      -- move, spaced as they were, to where the single would have gone, [turn, turn + cost)
      local window = redis.call('ZRANGEBYSCORE', KEYS[4], batch_turn,
        '(' .. string.format('%d', batch_turn + cost), 'WITHSCORES', 'LIMIT', 0, 1000)
      for j = 1, #window, 2 do
        local wid, wscore = window[j], tonumber(window[j + 1])
        local queued = redis.call('ZSCORE', KEYS[1], wid)
        if queued and tonumber(queued) == wscore and redis.call('EXISTS', running .. wid) == 0 then
          local moved = string.format('%d', math.min(turn + (wscore - batch_turn), now - 1))
          redis.call('ZADD', KEYS[1], 'XX', moved, wid)
          redis.call('ZADD', KEYS[4], moved, wid)
        else
          redis.call('ZREM', KEYS[4], wid)
        end
      end
      turn = batch_turn
    end
  else
    redis.call('ZADD', KEYS[4], turn, id)
  end
  scores[#scores + 1] = string.format('%d', turn)
  t = t + cost
end
redis.call('SET', KEYS[2], string.format('%d', t), 'PX', ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
"""

_FAIR_SCORES = _FAIR_START + "return scores\n"

# The rest of arq's enqueue_job, in the same script: a job whose id arq still knows (queued, running or
# kept as a result) is not enqueued again; a new one is stored for ttl_ms and joins the queue at its score.
_FAIR_ENQUEUE = (
    _FAIR_START
    + """
local accepted = 0
local k = 0
for i = 10, #ARGV, 3 do
  k = k + 1
  local id = ARGV[i]
  if redis.call('EXISTS', ARGV[8] .. id, ARGV[9] .. id) == 0 then
    redis.call('PSETEX', ARGV[8] .. id, ttl, ARGV[i + 2])
    redis.call('ZADD', KEYS[1], scores[k], id)
    accepted = accepted + 1
  end
end
return accepted
"""
)


def fair_clock_key(queue_name: str, user_id: str) -> str:
    return f"{queue_name}:fair:clock:{user_id}"


def fair_batch_turns_key(queue_name: str, user_id: str) -> str:
    return f"{queue_name}:fair:batch:{user_id}"


def _keys(queue_name: str, user_id: str) -> tuple[str, ...]:
    return (
        queue_name,
        fair_clock_key(queue_name, user_id),
        f"{queue_name}:fair:arrivals",
        fair_batch_turns_key(queue_name, user_id),
    )


def _head_args(now_ms: int, lane: Lane, stride: int, job_prefix: str = "", result_prefix: str = "") -> list[object]:
    ttl_ms = int(QUEUED_FOR.total_seconds() * 1000)
    return [
        now_ms,
        FAIR_OFFSET_MS,
        ttl_ms,
        lane,
        in_progress_key_prefix,
        _MAX_SWAP_LOOKS,
        stride,
        job_prefix,
        result_prefix,
    ]


_SHA1 = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_FAIR_SCORES, _FAIR_ENQUEUE)}


async def _run(redis: Redis, script: str, keys: Sequence[str], values: Sequence[object]) -> Any:
    """``EVALSHA``, and ``EVAL`` once after Redis lost the script (restart, ``SCRIPT FLUSH``): a script is
    sent once per Redis, not with every submission. Bytes go as they are, anything else as text."""
    args = [v if isinstance(v, bytes) else str(v) for v in values]
    try:
        return await redis.evalsha(_SHA1[script], len(keys), *keys, *args)  # type: ignore[misc, arg-type]
    except NoScriptError:
        return await redis.eval(script, len(keys), *keys, *args)  # type: ignore[misc, arg-type]


async def fair_scores(
    redis: Redis, queue_name: str, user_id: str, lane: Lane, images: Sequence[FairImage]
) -> list[int]:
    """Scores for one submission of one user's images, reserved atomically (one round trip). A single
    job (:attr:`Lane.INTERACTIVE`) may move one of the same user's queued batch images to the end of
    that user's clock, taking its turn."""
    args = _head_args(int(time.time() * 1000), lane, 2)
    for image in images:
        args += [job_arq_id(image.job_id), image.cost_ms]
    raw = await _run(redis, _FAIR_SCORES, _keys(queue_name, user_id), args)
    return [int(score) for score in raw]


async def enqueue_fairly(
    redis: ArqRedis, queue_name: str, user_id: str, lane: Lane, images: Sequence[FairImage]
) -> int:
    """Enqueue one user's images in fair order, scores and arq's jobs in one round trip (a 500-image batch
    too); returns how many arq accepted. The jobs are arq's own (:func:`arq.jobs.serialize_job`), as
    ``enqueue_job`` writes them."""
    now = int(time.time() * 1000)
    args: list[object] = _head_args(now, lane, 3, job_key_prefix, result_key_prefix)
    for image in images:
        job = serialize_job(Task.PROCESS_JOB, (str(image.job_id),), {}, None, now, serializer=redis.job_serializer)
        args += [job_arq_id(image.job_id), image.cost_ms, job]
    return int(await _run(redis, _FAIR_ENQUEUE, _keys(queue_name, user_id), args))
