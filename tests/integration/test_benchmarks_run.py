"""Every store, write-side, projection, copy and observability benchmark runs end to end, at
a tenth of its size, and reports each of its targets. The figures are not judged here:
timings belong to `benchmarks/`, not to tests. (The HTTP load benchmark has a fixed
10-second load; it is left to manual runs.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PostgresForTests
from tests.servers.nats import NatsCluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("benchmark", ["store", "write_side", "projections", "observability"])
def test_a_benchmark_runs_and_reports_its_targets(
    benchmark: str, backend: str, postgres: PostgresForTests
) -> None:
    command = [sys.executable, "-m", f"benchmarks.{benchmark}", "--backend", backend]
    environment = {**os.environ, "EVENTBOOK_BENCH_POSTGRES_URL": postgres.url}
    finished = subprocess.run(
        [*command, "--runs", "1", "--scale", "0.1", "--json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout)
    assert report["targets"], report
    for target in report["targets"]:
        assert target["ratio"] > 0, target


def test_the_copy_benchmark_runs_and_reports_its_targets(postgres: PostgresForTests) -> None:
    environment = {**os.environ, "EVENTBOOK_BENCH_POSTGRES_URL": postgres.url}
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.copy", "--runs", "1", "--scale", "0.1", "--json"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout)
    assert len(report["targets"]) == 2, report
    for target in report["targets"]:
        assert target["ratio"] > 0, target


def test_the_nats_store_benchmark_runs_and_reports_its_targets(nats_cluster: NatsCluster) -> None:
    command = [sys.executable, "-m", "benchmarks.store", "--backend", "nats"]
    finished = subprocess.run(
        [*command, "--runs", "1", "--scale", "0.1", "--json"],
        cwd=ROOT,
        env={**os.environ, "EVENTBOOK_BENCH_NATS_URL": nats_cluster.url()},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout)
    assert len(report["targets"]) == 6, report
    for target in report["targets"]:
        assert target["ratio"] > 0, target
