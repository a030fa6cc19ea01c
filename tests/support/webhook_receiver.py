"""A real HTTP receiver for webhook tests: verifies Standard Webhooks signatures, answers a chosen status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from core.webhooks import verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that verifies signatures and answers a chosen status."""

    secret: str
    status: int = 200
    script: list[int] = field(default_factory=list)
    """Statuses to answer first, in order; then ``status``."""
    extra_headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    delay_s: float = 0.0
    """Seconds to wait before answering: a slow receiver."""
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(headers, body, verify(self.secret, headers, body)))
            if self.hang:
                await asyncio.sleep(30)
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            planned = self.script.pop(0) if self.script else self.status
            status = planned if self.requests[-1].signature_valid else 401
            extra = "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n{extra}\r\nok".encode("latin-1")
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def receiving(secret: str, status: int = 200, **kwargs: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(secret=secret, status=status, **kwargs)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()
