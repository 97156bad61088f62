"""A small HTTP endpoint for processes without a web framework (the projection daemon).

GET /metrics (Prometheus text), /health/live (200 while the loop runs) and
/health/ready (200, or 503 naming the failed checks). Served on the daemon's own loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from eventbook.observability._health import Readiness

log = logging.getLogger("eventbook.observability")

Metrics = Callable[[], Awaitable[tuple[bytes, str]]]
Ready = Callable[[], Awaitable[Readiness]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


async def serve(host: str, port: int, metrics: Metrics, ready: Ready) -> asyncio.Server:
    """Start serving; close the returned server to stop."""

    async def answer(path: str) -> tuple[int, bytes, str]:
        if path == "/metrics":
            body, content_type = await metrics()
            return 200, body, content_type
        if path == "/health/live":
            return 200, b'{"status":"live"}', "application/json"
        if path == "/health/ready":
            found = await ready()
            code = 200 if found.ready else 503
            return code, json.dumps(found.as_dict()).encode(), "application/json"
        return 404, b"not found\n", "text/plain"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method != "GET":
                code, body, content_type = 405, b"GET only\n", "text/plain"
            else:
                code, body, content_type = await answer(path.partition("?")[0])
            head = (
                f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or spoke something else
        except Exception:
            log.exception("could not answer a metrics or health request")
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
