"""Sending one atomic batch (ADR-50) and reading the server's verdict on it.

Every write of the store is one: an append, and each lifecycle change (its marks, its
fence and its system event). Each message may carry `Nats-Expected-Last-Subject-Sequence`
for its own subject; the server stores all of the batch, contiguously, or none of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nats.aio.client import Client

from eventbook._backends.nats.retry import Retryable
from eventbook._errors import UnavailableError
from eventbook._store.ids import uuid7

EXPECT_LAST = "Nats-Expected-Last-Subject-Sequence"

Message = tuple[str, bytes, dict[str, str]]
"""Subject, body and headers of one message of a batch."""


class Conflict(Exception):
    """The batch was refused: an id marker exists already, or a subject moved on."""


def expecting(last_sequence: int, **headers: str) -> dict[str, str]:
    return {EXPECT_LAST: str(last_sequence), **headers}


async def send_batch(client: Client, messages: Sequence[Message], timeout: float) -> int:
    """Store `messages` as one atomic batch; the stream sequence of the last one."""
    batch_id = uuid7().hex
    last = len(messages)
    for number, (subject, body, headers) in enumerate(messages, start=1):
        sent = {**headers, "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)}
        if number < last:
            await client.publish(subject, body, headers=sent)
            continue
        sent["Nats-Batch-Commit"] = "1"
        reply = await client.request(subject, body, timeout=timeout, headers=sent)
        answer = json.loads(reply.data) if reply.data else {}
        error = answer.get("error")
        if error is not None:
            _raise_refusal(error)
        return int(answer["seq"])
    raise ValueError("an atomic batch needs at least one message")


def _raise_refusal(error: dict[str, Any]) -> None:
    code, description = error.get("err_code"), str(error.get("description", ""))
    # Wrong last sequence: an id is taken, or a subject moved on (10071), or a message on
    # one of its subjects is still being committed (10164): either may be the batch this
    # one retries, which the leader shows whole once it has applied it (`leader`).
    if code in (10071, 10164):
        raise Conflict(description)
    if error.get("code") == 503 or "batch" in description.lower():
        raise Retryable(f"the write was refused for now: {description}")
    raise UnavailableError(f"the NATS server refused the write: {description} ({code})")
