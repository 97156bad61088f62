"""Event-store throughput against the raw driver, measured in the same run.

    python -m benchmarks.store --backend sqlite --runs 3 --json
    python -m benchmarks.store --backend postgres --runs 3 --json
    python -m benchmarks.store --backend nats --runs 3 --json

Each backend's measurements live in `benchmarks/store_<backend>.py`, which provides
`TARGETS` and `async def one_run(scale: float) -> Figures`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib

from benchmarks.common import repeat, report, summarise

BACKENDS = ("sqlite", "postgres", "nats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the workload sizes (0.1 for a smoke run)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    module = importlib.import_module(f"benchmarks.store_{args.backend}")
    runs = asyncio.run(repeat(args.runs, lambda: module.one_run(args.scale)))
    report(summarise(f"store/{args.backend}", runs, module.TARGETS), args.json)


if __name__ == "__main__":
    main()
