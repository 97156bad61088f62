"""`eventbook tail` in its own process follows the log live: it shows events appended after
it started (filtered by category), and Ctrl-C (SIGINT) ends it cleanly with exit code 0."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

from eventbook import NewEvent, connect


async def append(url: str, stream: str, kind: str, n: int) -> None:
    store = await connect(url)
    try:
        await store.append(stream, [NewEvent(kind, {"n": n})])
    finally:
        await store.close()


class Lines:
    """The tail's output lines, read on a thread: no wait blocks the test for good."""

    def __init__(self, output: IO[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(output,), daemon=True).start()

    def _read(self, output: IO[str]) -> None:
        for line in output:
            self.queue.put(line)

    def next(self, seconds: float) -> dict[str, Any] | None:
        """The next JSON line, or None if none comes in time."""
        try:
            return json.loads(self.queue.get(timeout=seconds))  # type: ignore[no-any-return]
        except queue.Empty:
            return None


def test_tail_follows_new_events_and_ends_on_ctrl_c(store_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "eventbook.cli", "tail", "--store", store_url]
    tail = subprocess.Popen(
        [*command, "--category", "ping", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stdout is not None
        lines = Lines(tail.stdout)
        # The tail starts from the store's head once it is up: ping until it shows one.
        first, n = None, 0
        deadline = time.monotonic() + 30
        while first is None and time.monotonic() < deadline:
            assert tail.poll() is None, tail.stderr.read() if tail.stderr else ""
            n += 1
            asyncio.run(append(store_url, "ping-1", "Ping", n))
            first = lines.next(0.5)
        assert first is not None, "the tail showed no event appended after it started"
        assert first["stream"] == "ping-1"
        asyncio.run(append(store_url, "pong-1", "Pong", 0))  # another category: not shown
        for k in (1, 2, 3):
            asyncio.run(append(store_url, "ping-2", "After", k))
        shown: list[dict[str, Any]] = []
        while len(shown) < 3:
            line = lines.next(10)
            assert line is not None, f"only {shown} were shown"
            if line["stream"] == "ping-1":  # a ping made while the tail was starting
                continue
            shown.append(line)
        assert [(e["stream"], e["type"], e["data"]["n"]) for e in shown] == [
            ("ping-2", "After", 1),
            ("ping-2", "After", 2),
            ("ping-2", "After", 3),
        ]
        assert [e["version"] for e in shown] == [1, 2, 3]

        tail.send_signal(signal.SIGINT)
        assert tail.wait(timeout=15) == 0
        assert tail.stderr is not None
        assert "Traceback" not in tail.stderr.read()
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
