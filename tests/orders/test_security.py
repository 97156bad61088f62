"""Keys on every endpoint, keys issued and revoked while the service runs (over HTTP and
from the command line, in other processes), feed tokens, body limits, errors without
tracebacks, and a taken port: against the real service processes."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apps.orders.api.operations import parked_item
from apps.orders.api.problems import public_error
from apps.orders.api.schemas import PARKED_EVENT

from eventbook import Position
from eventbook.projections import ParkedEvent, ParkedStatus
from tests.orders.conftest import (
    ROOT,
    RunningService,
    _python_path,
    _service,
)

MIB = 1024 * 1024
OPEN = {"/health/live", "/health/ready"}
"""Open to orchestrators: no order data."""


def refused_within(seconds: float, check: Callable[[], int]) -> float:
    """How long until `check()` answers 401 (fails after `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check() == 401:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail(f"still accepted after {seconds} s")


def keys_cli(service: RunningService, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m apps.orders keys …` in a process of its own, with the service's settings."""
    return subprocess.run(
        [sys.executable, "-m", "apps.orders", "keys", *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, **service.env, "PYTHONPATH": _python_path()},
        capture_output=True,
        text=True,
        timeout=60,
    )


def operations(service: RunningService) -> list[tuple[str, str]]:
    with service.anonymous() as client:
        paths = client.get("/openapi.json").json()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def concrete(path: str) -> str:
    return (
        path.replace("{order_id}", "0123456789abcdef")
        .replace("{customer}", "Ada")
        .replace("{name}", "orders")
        .replace("{event_id}", "0190a000-0000-7000-8000-000000000000")
        .replace("{key_id}", "0123456789ab")
    )


def test_every_operation_needs_a_key_of_the_right_role(embedded_service: RunningService) -> None:
    service = embedded_service
    found = operations(service)
    assert len(found) >= 25
    with service.anonymous() as anonymous, service.client() as reader:
        for method, path in found:
            if path in OPEN:
                assert anonymous.request(method, path).status_code == 200, path
                continue
            answer = anonymous.request(method, concrete(path))
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            wrong = anonymous.request(method, concrete(path), headers={"X-API-Key": "nope"})
            assert wrong.status_code == 401, (method, path)
            operator_only = path.startswith(("/api/projections", "/api/keys", "/metrics"))
            reads = method == "GET" or path == "/api/feed/token"
            if operator_only or not reads:  # (a reader's GET /api/feed never ends)
                by_reader = reader.request(method, concrete(path))
                assert by_reader.status_code == 403, (method, path, by_reader.text)
        # Pages and documentation hold no data: open.
        for path in ("/", "/docs", "/openapi.json", "/static/app.js"):
            assert anonymous.get(path).status_code == 200, path
        writer_rebuild = anonymous.post("/api/projections/orders/rebuild", headers=service.writer)
        assert writer_rebuild.json()["type"] == "/problems/operator-role-required"
        metrics = anonymous.get(
            "/metrics", headers={"Authorization": f"Bearer {service.operator['X-API-Key']}"}
        )
        assert metrics.status_code == 200
        assert "eventbook_" in metrics.text


def test_keys_issued_listed_and_revoked_over_http(service: RunningService) -> None:
    with service.client(headers=service.operator) as operator:
        issued = operator.post("/api/keys", json={"role": "writer", "name": "http test"})
        assert issued.status_code == 201, issued.text
        key, key_id = issued.json()["key"], issued.json()["id"]
        listed = operator.get("/api/keys").json()["items"]
        mine = next(k for k in listed if k["id"] == key_id)
        assert mine == {name: v for name, v in issued.json().items() if name != "key"}
        assert mine["revoked_at"] is None
        assert key not in json.dumps(listed)
        with service.anonymous() as client:
            assert client.get("/api/whoami", headers={"X-API-Key": key}).json() == {
                "role": "writer"
            }
            revoked = operator.delete(f"/api/keys/{key_id}")
            assert revoked.status_code == 200
            assert revoked.json()["revoked_at"]
            # Refused at once: the very next request.
            again = client.get("/api/orders", headers={"X-API-Key": key})
            assert again.status_code == 401
            assert operator.delete(f"/api/keys/{key_id}").status_code == 409
            assert operator.delete("/api/keys/ffffffffffff").status_code == 404


def test_keys_from_the_command_line_reach_the_running_service(service: RunningService) -> None:
    """The CLI is another process (on PostgreSQL, the service too has its own): what it
    issues works and what it revokes is refused, without a restart."""
    issued = keys_cli(service, "issue", "--role", "reader", "--name", "cli test", "--json")
    assert issued.returncode == 0, issued.stderr
    record = json.loads(issued.stdout)
    key = record["key"]
    with service.anonymous() as client:

        def status() -> int:
            return client.get("/api/orders", headers={"X-API-Key": key}).status_code

        deadline = time.monotonic() + 5
        while status() != 200:
            assert time.monotonic() < deadline, "the issued key was never accepted"
            time.sleep(0.02)
        listed = keys_cli(service, "list", "--json")
        assert record["id"] in {k["id"] for k in json.loads(listed.stdout)}
        assert key not in listed.stdout
        table = keys_cli(service, "list").stdout
        assert "cli test" in table
        assert "active" in table
        revoked = keys_cli(service, "revoke", record["id"])
        assert revoked.returncode == 0, revoked.stderr
        assert refused_within(1.5, status) < 1.5
    again = keys_cli(service, "revoke", record["id"])
    assert (again.returncode, again.stderr.strip()) == (
        1,
        f"error: the key {record['id']} was already revoked",
    )
    assert keys_cli(service, "issue", "--role", "boss", "--name", "x").returncode == 2


def test_the_feed_opens_with_a_token_and_ends_when_its_key_is_revoked(
    embedded_service: RunningService,
) -> None:
    service = embedded_service
    with service.client(headers=service.operator) as operator:
        key = operator.post("/api/keys", json={"role": "reader", "name": "feed"}).json()
    with service.anonymous() as client:
        assert client.post("/api/feed/token").status_code == 401
        token = client.post("/api/feed/token", headers={"X-API-Key": key["key"]}).json()
        assert token["expires_in"] == 60
        forged = token["token"][:-1] + ("0" if token["token"][-1] != "0" else "1")
        assert client.get("/api/feed", params={"token": forged}).status_code == 401
        with client.stream("GET", "/api/feed", params={"token": token["token"]}) as feed:
            assert feed.status_code == 200
            lines = feed.iter_lines()
            assert next(lines) == "retry: 2000"
            with service.client(headers=service.operator) as operator:
                assert operator.delete(f"/api/keys/{key['id']}").status_code == 200
            started = time.monotonic()
            for _ in lines:  # the stream ends once the key is found revoked
                assert time.monotonic() - started < 5
        assert time.monotonic() - started < 3
        after = client.get("/api/feed", params={"token": token["token"]})
        assert after.status_code == 401


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_huge(url: str, key: str, *, chunked: bool, size: int) -> tuple[int, dict[str, Any]]:
    """POST a `size`-byte command body, streamed 1 MiB at a time until the service
    answers; the answer's status and problem."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        sock.sendall(
            f"POST /api/orders HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\n{length}\r\n\r\n".encode()
        )
        piece = b" " * MIB
        framed = f"{MIB:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
        sent = 0
        try:
            while sent < size and not select.select([sock], [], [], 0)[0]:
                sock.sendall(framed)
                sent += MIB
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service answered and closed: the answer is waiting to be read
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_big_bodies_are_refused_before_they_are_read(
    embedded_service: RunningService, chunked: bool
) -> None:
    service = embedded_service
    key = service.writer["X-API-Key"]
    _send_huge(service.url, key, chunked=chunked, size=4 * MIB)  # warm the code path
    before = _rss_kib(service.pid)
    for _ in range(20):
        status, problem = _send_huge(service.url, key, chunked=chunked, size=200 * MIB)
        assert (status, problem["type"]) == (413, "/problems/body-too-large")
        assert problem["limit"] == 64 * 1024
    grown = _rss_kib(service.pid) - before
    assert grown < 20 * 1024, f"RSS grew by {grown} KiB"
    with service.client() as client:  # and the service still answers
        assert client.get("/api/orders", params={"page_size": 1}).status_code == 200


def test_errors_served_to_callers_hold_type_and_message_only() -> None:
    try:
        open("/home/someone/.venv/lib/python3.11/site-packages/secret.db")  # noqa: SIM115
    except OSError as error:
        stored = f"{type(error).__name__}: {error}\n" + "".join(traceback.format_exception(error))
    served = public_error(stored)
    assert served == "FileNotFoundError: [Errno 2] No such file or directory: '…/secret.db'"
    assert public_error("ValueError: bad\n  File x") == "ValueError: bad"
    assert public_error("KeyError: see https://example.com/a/b") == (
        "KeyError: see https://example.com/a/b"
    )
    assert public_error(None) is None


@pytest.fixture(scope="module")
def open_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """Anonymous reads and open metrics on, as their settings document (unsafe)."""
    data = tmp_path_factory.mktemp("orders-open")
    env = {
        "ORDERS_EVENTS_URL": f"sqlite:///{data}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{data}/read-models.db",
        "ORDERS_SEED_ORDERS": "0",
        "ORDERS_ANONYMOUS_READS": "1",
        "ORDERS_METRICS_ACCESS": "open",
        "ORDERS_MAX_BODY_BYTES": "1000",
    }
    yield from _service(env, data)


def test_anonymous_reads_only_when_configured(open_service: RunningService) -> None:
    with open_service.anonymous() as client:
        assert client.get("/api/orders").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/orders", headers={"X-API-Key": "nope"}).status_code == 401
        assert client.get("/api/projections").status_code == 401
        assert client.post("/api/orders", json={}).status_code == 401
        big = client.post("/api/orders", content=b" " * 1001, headers=open_service.writer)
        assert (big.status_code, big.json()["limit"]) == (413, 1000)
    assert "WARNING: ORDERS_ANONYMOUS_READS=1" in open_service.log.read_text()


def test_a_taken_port_is_one_line_before_any_key(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, "-m", "apps.orders"],
            check=False,
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": _python_path(),
                "ORDERS_PORT": str(port),
                "ORDERS_EVENTS_URL": f"sqlite:///{tmp_path}/orders.db",
                "ORDERS_READ_MODELS_URL": f"sqlite:///{tmp_path}/read-models.db",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ran.returncode == 1
    assert ran.stdout == ""
    assert ran.stderr == (
        f"error: 127.0.0.1:{port} is already in use (another Orders service?); "
        "stop it or choose another port with ORDERS_PORT\n"
    )
    # Refused before anything started: no database was created, nothing seeded (a timing
    # bound would only measure the machine's load).
    assert not (tmp_path / "orders.db").exists()


def test_a_parked_event_is_served_with_its_position_as_a_string() -> None:
    parked = ParkedEvent(
        name="orders",
        version=1,
        event_id=uuid.uuid4(),
        position=Position(3, 7),
        stream="order-1",
        type="OrderPlaced",
        error='ValueError: bad\nTraceback (most recent call last):\n  File "/venv/x.py"',
        attempts=3,
        parked_at=1.0,
        status=ParkedStatus.PARKED,
    )
    served = parked_item(parked)
    assert served["position"] == "3:7"  # as the feed, the events and the projections give it
    assert served["error"] == "ValueError: bad"
    assert set(PARKED_EVENT["required"]) <= set(served)
