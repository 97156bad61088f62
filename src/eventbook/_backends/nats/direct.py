"""Reads through JetStream's direct get API, never behind this store's own writes.

Direct gets may be answered by any replica, and a follower can lag behind the leader;
servers 2.12+ ignore a request's `min_last_seq` (`leader` says why). So the reader
remembers the last sequence this store wrote on each subject (and overall), and asks
again when an answer falls short of it, unless the leader has nothing that far either:
then those messages were purged (a tombstone, a truncation or an archive, maybe by
another store) and the reader forgets its write. Answers that must also follow removals
and other stores' writes (the id lookups that judge a retry) come from the leader
(`leader`).

Answers arrive on one wildcard inbox subscription; each request gets a token of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import OrderedDict
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventbook._backends.nats.leader import LeaderReader
from eventbook._backends.nats.retry import Retryable

WRITES_REMEMBERED = 10_000
"""Subjects whose last write (and whose last purge) a reader remembers (the most recent)."""


class DirectReader:
    """Batched and single direct gets on one JetStream stream."""

    def __init__(
        self, client: Client, stream: str, everything: str, request_timeout: float
    ) -> None:
        self._client = client
        self._api = f"$JS.API.DIRECT.GET.{stream}"
        self.leader = LeaderReader(client, stream, request_timeout)
        """The same stream's reads answered by its leader."""
        self._timeout = request_timeout
        self._inbox = client.new_inbox()
        self._tokens = itertools.count()
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}
        self._subscription: Subscription | None = None
        self._written: OrderedDict[str, int] = OrderedDict()
        self._everything = everything
        self._written_anywhere = 0
        self._purged: OrderedDict[str, int] = OrderedDict()

    def wrote(self, subject: str, sequence: int) -> None:
        """This store's append ended at `sequence` on `subject`: answers about it, and
        about every message of the stream, must reach that far."""
        self._written[subject] = sequence
        self._written.move_to_end(subject)
        if len(self._written) > WRITES_REMEMBERED:
            self._written.popitem(last=False)
        self._written_anywhere = max(self._written_anywhere, sequence)

    def forget(self, subject: str) -> None:
        """Messages up to this store's last write on `subject` were purged: stop asking
        answers about it to reach that write."""
        self._written.pop(subject, None)
        if subject == self._everything:
            self._written_anywhere = 0

    def purged(self, subject: str, below: int) -> None:
        """This store purged `subject` below sequence `below`. A purge leaves the stream's
        last sequence as it was, so only this tells a replica that has not applied it:
        an answer with a message on `subject` below `below` is asked again."""
        self._purged[subject] = max(below, self._purged.get(subject, 0))
        self._purged.move_to_end(subject)
        if len(self._purged) > WRITES_REMEMBERED:
            self._purged.popitem(last=False)

    def _check_purged(self, message: Msg) -> None:
        below = self._purged.get((message.headers or {}).get("Nats-Subject", ""), 0)
        if below and sequence_of(message) < below:
            raise Retryable(f"a replica answered from before a purge below sequence {below}")

    async def _short_of(self, subject: str, floor: int) -> None:
        """An answer about `subject` fell short of `floor`: raise `Retryable` to ask again,
        unless the leader's last message there lies below it too (purged): then forget."""
        message = await self.leader.last(subject)
        if message is not None and sequence_of(message) >= floor:
            raise Retryable(f"a replica answered from before sequence {floor}")
        self.forget(subject)

    def _floor(self, subject: str) -> int:
        if subject == self._everything:
            return self._written_anywhere
        return self._written.get(subject, 0)

    async def start(self) -> None:
        self._subscription = await self._client.subscribe(f"{self._inbox}.*", cb=self._route)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None

    async def last(self, subject: str) -> Msg | None:
        """The newest message on `subject` (wildcards allowed), or None."""
        found = await self._ask({"last_by_subj": subject}, batch=False)
        floor = self._floor(subject)
        if floor and (not found or sequence_of(found[0]) < floor):
            await self._short_of(subject, floor)
        return found[0] if found else None

    async def at(self, sequence: int) -> Msg | None:
        found = await self._ask({"seq": sequence}, batch=False)
        return found[0] if found else None

    async def first_from(self, subject: str, sequence: int) -> Msg | None:
        """The first message on `subject` at or after `sequence`, or None."""
        found = await self._ask({"seq": sequence, "next_by_subj": subject}, batch=False)
        return found[0] if found else None

    async def page(self, subject: str, sequence: int, count: int) -> list[Msg]:
        """Up to `count` messages on `subject` from `sequence` on: fewer only at the end."""
        got: list[Msg] = []
        start = sequence
        while len(got) < count:
            request = {"seq": sequence, "next_by_subj": subject, "batch": count - len(got)}
            part = await self._ask(request, batch=True)
            got.extend(part)
            if not part or _pending(part[-1]) == 0:
                break  # the server said nothing more matches
            sequence = sequence_of(part[-1]) + 1
        floor = self._floor(subject)
        if len(got) < count and floor >= start and (not got or sequence_of(got[-1]) < floor):
            await self._short_of(subject, floor)
        return got

    async def _ask(self, request: dict[str, Any], *, batch: bool) -> list[Msg]:
        token = str(next(self._tokens))
        answers: asyncio.Queue[Msg] = asyncio.Queue()
        self._waiting[token] = answers
        got: list[Msg] = []
        try:
            await self._client.publish(
                self._api, json.dumps(request).encode(), reply=f"{self._inbox}.{token}"
            )
            async with asyncio.timeout(self._timeout):
                while True:
                    message = await answers.get()
                    status = (message.headers or {}).get("Status")
                    if status is None:
                        if self._purged:
                            self._check_purged(message)
                        got.append(message)
                        if not batch:
                            return got
                    elif status == "404" or (status == "204" and batch):
                        return got  # no such message / end of batch
                    else:  # 503 no responders, 408: ask again later
                        raise Retryable(f"direct get answered {status}")
        except TimeoutError:
            raise Retryable("no answer to a direct get") from None
        finally:
            del self._waiting[token]

    async def _route(self, message: Msg) -> None:
        answers = self._waiting.get(message.subject.rpartition(".")[2])
        if answers is not None:
            answers.put_nowait(message)


def sequence_of(message: Msg) -> int:
    return int((message.headers or {})["Nats-Sequence"])


def _pending(message: Msg) -> int:
    return int((message.headers or {}).get("Nats-Num-Pending", "0"))
