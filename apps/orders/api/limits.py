"""Request bodies larger than `max_bytes` are refused before they are read.

A declared `Content-Length` over the limit is answered `413` at once, without reading a
byte of the body; a body sent without one (chunked) is counted as the endpoint reads it,
and refused with `413` as soon as it passes the limit. Either way the server holds at most
the limit (and the server's own read buffer) in memory, whatever the client sends.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.orders.api.problems import Problem, problem


class BodyTooLarge(Problem):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "body-too-large",
            "Body too large",
            f"this service accepts bodies of at most {limit} bytes",
            limit=limit,
        )


class BodyLimit:
    """ASGI middleware: every request's body is at most `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            refused = BodyTooLarge(self.max_bytes)
            answer = problem(
                refused.status,
                refused.slug,
                refused.title,
                refused.detail,
                headers={"Connection": "close"},
                **refused.extra,
            )
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the endpoint's read: the app's problem handler answers.
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def closing(message: Message) -> None:
            # The rest of a refused body is not worth reading: end the connection.
            if message["type"] == "http.response.start" and message["status"] == 413:
                message.setdefault("headers", []).append((b"connection", b"close"))
            await send(message)

        await self.app(scope, counted, closing)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
