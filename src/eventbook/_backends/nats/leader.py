"""Single reads from the stream's leader, for answers that must follow every acknowledged
write and removal.

A direct get may be answered by any replica, and a follower serves them from 90% caught
up on and never stops when it falls behind later (ADR-31: direct gets give no
read-after-write coherency). Servers 2.12+ ignore the `min_last_seq` of a direct get
request: the read-after-write check was taken out before 2.12.0 (nats-server commit
3c152a3, "Remove Read-after-Write fully for now"). A purge does not even move the stream's
last sequence, so no sequence a client could ask for tells a replica that applied it
from one that did not. `$JS.API.STREAM.MSG.GET` is answered by the leader only, which
acknowledges a write or a purge once it has applied it, and which applies an atomic batch
whole before it answers a read (the batch holds the stream's read isolation lock).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from eventbook._backends.nats.retry import Retryable

NO_MESSAGE = 10037
"""The JetStream API's error code for "no message found"."""


class LeaderReader:
    """`last` and `at` of `DirectReader`, answered by the stream's leader."""

    def __init__(self, client: Client, stream: str, request_timeout: float) -> None:
        self._client = client
        self._api = f"$JS.API.STREAM.MSG.GET.{stream}"
        self._timeout = request_timeout

    async def last(self, subject: str) -> Msg | None:
        """The newest message on `subject` (wildcards allowed), or None."""
        return await self._get({"last_by_subj": subject})

    async def at(self, sequence: int) -> Msg | None:
        return await self._get({"seq": sequence})

    async def _get(self, request: dict[str, Any]) -> Msg | None:
        reply = await self._client.request(
            self._api, json.dumps(request).encode(), timeout=self._timeout
        )
        answer = json.loads(reply.data) if reply.data else {}
        found, error = answer.get("message"), answer.get("error") or {}
        if found is None:
            if error.get("err_code") == NO_MESSAGE:
                return None
            raise Retryable(f"the stream leader did not answer: {error}")
        return _as_direct_answer(self._client, found)


def _as_direct_answer(client: Client, found: dict[str, Any]) -> Msg:
    """The leader's JSON answer as the message a direct get brings (the headers `codec`
    reads: the stored ones, `Nats-Sequence`, `Nats-Time-Stamp`, `Nats-Subject`)."""
    headers = _parse_headers(base64.b64decode(found["hdrs"])) if found.get("hdrs") else {}
    headers.update(
        {
            "Nats-Subject": found["subject"],
            "Nats-Sequence": str(found["seq"]),
            "Nats-Time-Stamp": found["time"],
        }
    )
    data = base64.b64decode(found["data"]) if found.get("data") else b""
    return Msg(client, subject=found["subject"], data=data, headers=headers)


def _parse_headers(block: bytes) -> dict[str, str]:
    """`NATS/1.0\\r\\nName: value\\r\\n...\\r\\n\\r\\n` as a dict (the first of a repeated name)."""
    headers: dict[str, str] = {}
    for line in block.decode().split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip() not in headers:
            headers[name.strip()] = value.strip()
    return headers
