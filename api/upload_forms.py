"""Reading an upload route's body with bounds that hold while it arrives.

Litestar's multipart parser keeps every text part whole in memory (a ``bytearray``, then a decoded
``str``: twice its size) and only the route's ``request_max_body_size`` bounds it: a 1 GiB batch body
could be one 1 GiB text field, held twice before any check ran. So the upload routes read their form
here, in the route's ``before_request`` (after authentication and the rate limit, before Litestar
extracts ``data``), and hand the result to Litestar through the request's form cache:

* before a byte of the body is read, the caller's balance must pay for one image of the cheapest
  tier (credits or a subscription's quota left today), else ``402 insufficient_credits``; a batch
  body may be no larger than the images the credits can pay for, at ``MAX_IMAGE_BYTES`` each plus
  form overhead: from ``Content-Length`` at once, and counted as it arrives when there is none;
* a text part longer than ``MAX_FORM_FIELD_BYTES`` (a few KiB) is ``413 form_field_too_large`` the
  moment it passes the bound; file parts are spooled to disk by :class:`UploadFile` as before.
"""

from __future__ import annotations

import contextlib
import enum
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar._multipart import parse_content_header
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException
from litestar.utils.scope.state import ScopeState
from multipart import (
    MultipartSegment,
    ParserError,
    ParserLimitReached,
    PushMultipartParser,
)

from core.errors import FormFieldTooLarge, InsufficientCredits, UnsupportedContentType
from core.pricing import batch_price
from core.settings import Settings
from core.tiers import TIERS
from db import billing

UPLOAD_OPT = "upload"
"""Key of a route handler's ``opt`` that marks it an upload route (value: :class:`UploadRoute`)."""

FORM_OVERHEAD_BYTES = 64 * 1024
"""The text fields of a form and the multipart framing around them."""
PART_OVERHEAD_BYTES = 4 * 1024
"""Each file part's boundary and headers (a long filename included)."""


class Payment(enum.Enum):
    SINGLE = "single"
    """One image: paid by a subscription's quota or in credits."""
    BATCH = "batch"
    """Many images: paid in credits only, so the body is bounded by what they pay for."""


FORM_DATA = "multipart/form-data"


@dataclass(frozen=True)
class UploadRoute:
    payment: Payment
    base64_images: frozenset[str] = frozenset()
    """Text fields that carry an image in base64 (remove.bg's ``image_file_b64``): bounded like an image."""
    media_types: frozenset[str] = frozenset({FORM_DATA})
    """The ``Content-Type`` s the route takes; any other is refused before the body is read. The handler
    reads a type other than ``multipart/form-data`` itself."""


def upload_route(payment: Payment, *base64_images: str, also_takes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``opt`` of an upload route handler; ``also_takes``: media types besides ``multipart/form-data``."""
    return {UPLOAD_OPT: UploadRoute(payment, frozenset(base64_images), frozenset({FORM_DATA, *also_takes}))}


def base64_image_bound(settings: Settings) -> int:
    """An image of ``max_image_bytes`` in base64, with room for line breaks and a ``data:`` prefix."""
    return settings.max_image_bytes * 4 // 3 + 64 * 1024


def cheapest_image_credits() -> int:
    return min(spec.credits for spec in TIERS.values())


def images_payable(credits: int, unit_credits: int, most: int) -> int:
    """The largest batch (at most ``most`` images) whose discounted price ``credits`` cover; 0 when none.

    Not a division: volume discounts make a batch of 50 cheaper than one of 49.
    """
    return max((n for n in range(1, most + 1) if batch_price(unit_credits, n).total <= credits), default=0)


def batch_body_bound(images: int, settings: Settings) -> int:
    return FORM_OVERHEAD_BYTES + images * (settings.max_image_bytes + PART_OVERHEAD_BYTES)


def _content_length(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


PAYING_POWER = "paying_power"
"""Key in the request's state of the :class:`db.billing.PayingPower` read before the body."""


@dataclass(frozen=True)
class BodyBudget:
    """How many bytes a batch body may have: what the caller's credits pay for."""

    credits: int
    images: int
    bound: int

    def refusal(self, length: int | None) -> InsufficientCredits:
        size = f"{length} bytes" if length is not None else f"more than {self.bound} bytes"
        return InsufficientCredits(
            f"A balance of {self.credits} credits pays for at most {self.images} images, at most {self.bound} "
            f"bytes of upload; this body has {size} and was not read.",
            balance=self.credits,
            imagesPayable=self.images,
            maxBytes=self.bound,
        )


async def body_budget(request: Request[Any, Any, Any], route: UploadRoute, settings: Settings) -> BodyBudget | None:
    """Refuse, from ``Content-Length`` alone, a body the caller's balance could not pay for; return the
    bound to hold while reading (None: the route's own body limit is the bound)."""
    unit = cheapest_image_credits()
    power = await billing.paying_power(request.user.user_id)
    # the submission's own money check reads it from here instead of asking the database again
    request.state[PAYING_POWER] = power
    credits = power.balance
    if route.payment is Payment.SINGLE:
        if credits < unit and not power.quota_left:
            raise InsufficientCredits(
                f"The cheapest image costs {unit} credits but the balance is {credits} and no subscription "
                "quota is left today; the upload was not read.",
                required=unit,
                balance=credits,
            )
        return None
    payable = images_payable(credits, unit, settings.batch_max_images)
    if payable == 0:
        raise InsufficientCredits(
            f"The cheapest image costs {unit} credits but the balance is {credits}; the upload was not read.",
            required=unit,
            balance=credits,
        )
    budget = BodyBudget(credits, payable, batch_body_bound(payable, settings))
    length = _content_length(request)
    if length is not None and length > budget.bound:
        raise budget.refusal(length)
    return budget


async def _counted(stream: AsyncIterator[bytes], budget: BodyBudget | None) -> AsyncGenerator[bytes, None]:
    """The body's chunks, refused once they pass the budget (a chunked body announces no length)."""
    seen = 0
    async for chunk in stream:
        if not chunk:
            continue  # an empty chunk would read as the end to the parser
        seen += len(chunk)
        if budget is not None and seen > budget.bound:
            raise budget.refusal(None)
        yield chunk
    yield b""  # the end, for the parser


class _FormReader:
    """Litestar's multipart parsing (same result shape), with every text part bounded as it arrives."""

    def __init__(self, route: UploadRoute, settings: Settings) -> None:
        self.route = route
        self.max_field_bytes = settings.max_form_field_bytes
        self.image_field_bytes = base64_image_bound(settings)
        self.fields: defaultdict[str, list[Any]] = defaultdict(list)
        self.data: UploadFile | bytearray = bytearray()
        self.limit = self.max_field_bytes
        self.segment: MultipartSegment | None = None

    async def feed(self, part: MultipartSegment | bytearray | None) -> None:
        if isinstance(part, MultipartSegment):
            self.segment = part
            if part.filename:
                self.data = UploadFile(
                    content_type=part.content_type or "text/plain",
                    filename=part.filename,
                    headers=dict(part.headerlist),
                )
            else:
                self.data = bytearray()
                base64_image = part.name in self.route.base64_images
                self.limit = self.image_field_bytes if base64_image else self.max_field_bytes
        elif part:
            if isinstance(self.data, UploadFile):
                await self.data.write(part)
            elif len(self.data) + len(part) > self.limit:
                name = self.segment.name[:64] if self.segment else ""
                raise FormFieldTooLarge(
                    f"The form field {name!r} is longer than {self.limit} bytes; text fields are short "
                    "(images go in file parts). Nothing was read further.",
                    field=name,
                    maxBytes=self.limit,
                )
            else:
                self.data.extend(part)
        else:
            if self.segment is None:
                raise ClientException("Unexpected eof in multipart/form-data")
            if isinstance(self.data, UploadFile):
                await self.data.seek(0)
                self.fields[self.segment.name].append(self.data)
            else:
                self.fields[self.segment.name].append(self.data.decode(self.segment.charset or "utf-8"))
            self.data = bytearray()
            self.segment = None

    async def close(self) -> None:
        if isinstance(self.data, UploadFile):
            await self.data.close()
        for values in self.fields.values():
            for value in values:
                if isinstance(value, UploadFile):
                    await value.close()

    def result(self) -> dict[str, Any]:
        return {k: v if len(v) > 1 else v[0] for k, v in self.fields.items()}


async def parse_bounded_form(
    request: Request[Any, Any, Any], route: UploadRoute, settings: Settings, budget: BodyBudget | None
) -> dict[str, Any]:
    boundary = request.content_type[1].get("boundary")
    if not boundary:
        raise ClientException("multipart boundary missing in Content-Type")
    reader = _FormReader(route, settings)
    try:
        parser = PushMultipartParser(boundary.encode(), max_segment_count=request.app.multipart_form_part_limit)
        # The body's generator is closed here, not left to the loop's finaliser for abandoned async
        # generators, which would cost every upload a task and a wake-up through the loop's self-pipe.
        async with contextlib.aclosing(_counted(request.stream(), budget)) as body:
            with parser:
                first = True
                async for chunk in body:
                    if first and not chunk:
                        return {}
                    first = False
                    for part in parser.parse(chunk):
                        await reader.feed(part)
                    if parser.closed:
                        break
    except ParserError as exc:
        await reader.close()
        raise ClientException("Invalid multipart/form-data") from exc
    except ParserLimitReached:
        await reader.close()
        raise ClientException("Too many parts in multipart/form-data") from None
    except BaseException:
        await reader.close()
        raise
    return reader.result()


async def read_upload_form(request: Request[Any, Any, Any], settings: Settings) -> None:
    """The upload routes' ``before_request`` step: money first, then the bounded parse into the form cache."""
    route = request.route_handler.opt.get(UPLOAD_OPT)
    if not isinstance(route, UploadRoute) or request.method != "POST":
        return
    media_type, _ = parse_content_header(request.headers.get("content-type", ""))
    if media_type not in route.media_types:
        # Litestar parses any body with a ``boundary`` as multipart, unbounded: ``multipart/mixed`` or
        # ``text/plain; boundary=…`` would have bypassed the bounded parse below
        raise UnsupportedContentType(
            f"send {' or '.join(sorted(route.media_types))}, not {media_type or 'no Content-Type'!r}; "
            "the body was not read"
        )
    budget = await body_budget(request, route, settings)
    if media_type != FORM_DATA:
        return
    form = await parse_bounded_form(request, route, settings, budget)
    ScopeState.from_scope(request.scope).form = form
