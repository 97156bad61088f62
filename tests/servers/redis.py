"""A throwaway Redis server: `redis-server` on a free port in a temporary directory.

    with RedisServer() as server:
        url = server.url()          # redis://127.0.0.1:PORT/0

Nothing is persisted (no RDB snapshots, no AOF); the directory is removed afterwards.
Debian's `redis-server` package provides the binary (`apt-get install redis-server`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.base import ThrowawayServer
from tests.servers.postgres import free_port


def find_redis_server() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        raise RuntimeError(
            "redis-server not found; install Debian's 'redis-server' package"
            " or set EVENTBOOK_TEST_REDIS_URL"
        )
    return found


class RedisServer(ThrowawayServer):
    """One redis-server process in a temporary directory, owned by this object."""

    def __init__(self) -> None:
        self.binary = find_redis_server()
        self.port = 0
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="eventbook-redis-"))
        for attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            if self._launch():
                return
            self._kill()
            if attempt == 2:
                log = self._root / "server.log"
                text = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{text}")

    def stop_keeping_data(self) -> None:
        """Shut the server down, its data saved to its directory (clients are refused)."""
        assert self._process is not None, "the server is not running"
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(b"SHUTDOWN SAVE\r\n")
        self._process.wait(30)
        self._process = None

    def start_again(self) -> None:
        """Start a server stopped by `stop_keeping_data` on its port, with its data."""
        if not self._launch():
            self._kill()
            raise RuntimeError(f"redis-server did not start again on port {self.port}")

    def _launch(self) -> bool:
        assert self._root is not None
        log = self._root / "server.log"
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self._root),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self._wait_until_ready(10.0)

    def _wait_until_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None

    def cleanup(self) -> None:
        self._kill()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def stop(self) -> None:
        self.cleanup()
