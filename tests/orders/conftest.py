"""The Orders service, started for real as its own process (and its daemon's, in production).

`embedded_service` runs the README's profile: SQLite events and read models, in-process
projections and feed. `production_service` runs PostgreSQL + Redis with the projection
daemon as a separate process, as an operator would.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PostgresForTests, new_schema_name
from tests.servers.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_KEY = "test-operator-key-0123456789abcdef"
WRITER_KEY = "test-writer-key-0123456789abcdef"
READER_KEY = "test-reader-key-0123456789abcdef"
SEED_ORDERS = 120
MASTER_KEY = base64.b64encode(b"test master key, 32 bytes long!!").decode()


@dataclass(frozen=True)
class RunningService:
    url: str
    writer: dict[str, str]
    reader: dict[str, str]
    operator: dict[str, str]
    pid: int
    log: Path
    env: dict[str, str]
    """The service's ORDERS_* settings (what `python -m apps.orders keys` needs)."""

    def client(self, **options: object) -> httpx.Client:
        """A client that reads: it sends the reader key unless `headers` say otherwise."""
        options.setdefault("headers", self.reader)
        return httpx.Client(base_url=self.url, timeout=30, **options)  # type: ignore[arg-type]

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def _python_path() -> str:
    """This checkout's sources first (not an installed eventbook), then the caller's path."""
    return os.pathsep.join(
        filter(None, [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")])
    )


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": _python_path()},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited:\n{log.read_text()[-3000:]}")
        try:
            answer = httpx.get(
                f"{url}/api/projections", headers={"X-API-Key": OPERATOR_KEY}, timeout=2
            )
            items = answer.json()["items"] if answer.status_code == 200 else []
            if items and all(p["lag_events"] == 0 for p in items):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the service did not become ready:\n{log.read_text()[-3000:]}")


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _service(env: dict[str, str], log_dir: Path) -> Iterator[RunningService]:
    port = free_port()
    env = {
        **env,
        "ORDERS_PORT": str(port),
        "ORDERS_OPERATOR_KEY": OPERATOR_KEY,
        "ORDERS_WRITER_KEY": WRITER_KEY,
        "ORDERS_READER_KEY": READER_KEY,
    }
    processes = []
    if env.get("ORDERS_PROFILE") == "production":
        daemon_args = ["-m", "eventbook.projections", "run", "apps.orders.projections:build"]
        daemon_args += ["--store", env["ORDERS_EVENTS_URL"]]
        processes.append(_start(daemon_args, env, log_dir / "daemon.log"))
    log = log_dir / "service.log"
    processes.append(_start(["-m", "apps.orders"], env, log))
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, processes[-1], log)
        yield RunningService(
            url,
            writer={"X-API-Key": WRITER_KEY},
            reader={"X-API-Key": READER_KEY},
            operator={"X-API-Key": OPERATOR_KEY},
            pid=processes[-1].pid,
            log=log,
            env=env,
        )
    finally:
        _stop(*processes)


@pytest.fixture(scope="session")
def embedded_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    data = tmp_path_factory.mktemp("orders-embedded")
    env = {
        "ORDERS_EVENTS_URL": f"sqlite:///{data}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{data}/read-models.db",
        "ORDERS_SEED_ORDERS": str(SEED_ORDERS),
    }
    yield from _service(env, data)


@pytest.fixture(scope="session")
def production_service(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresForTests, redis_url: str
) -> Iterator[RunningService]:
    logs = tmp_path_factory.mktemp("orders-production")
    schema = new_schema_name()
    env = {
        "ORDERS_PROFILE": "production",
        "ORDERS_EVENTS_URL": postgres.store_url(schema),
        "ORDERS_READ_MODELS_URL": postgres.store_url(f"{schema}_rm"),
        "ORDERS_REDIS_URL": redis_url,
        "ORDERS_SEED_ORDERS": str(SEED_ORDERS),
        "ORDERS_MASTER_KEY": MASTER_KEY,
    }
    yield from _service(env, logs)


@pytest.fixture(params=["embedded", "production"])
def service(request: pytest.FixtureRequest) -> RunningService:
    """Each API test runs against both profiles."""
    running: RunningService = request.getfixturevalue(f"{request.param}_service")
    return running
