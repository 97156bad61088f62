"""Event-store throughput against the raw driver, measured in the same run.

    python -m benchmarks.store --backend sqlite --runs 3 --json
    python -m benchmarks.store --backend postgres --runs 3 --json
    python -m benchmarks.store --backend nats --runs 3 --json

Each backend's measurements live in `benchmarks/store_<backend>.py`, which provides
`TARGETS` and `async def one_run(scale: float) -> Figures`.
"""

from __future__ import annotations

import asyncio
import importlib

from benchmarks.common import arguments, repeat, report, summarise

BACKENDS = ("sqlite", "postgres", "nats")


def main() -> None:
    parser = arguments(__doc__, BACKENDS)
    args = parser.parse_args()
    module = importlib.import_module(f"benchmarks.store_{args.backend}")
    runs = asyncio.run(repeat(args.runs, lambda: module.one_run(args.scale)))
    report(summarise(f"store/{args.backend}", runs, module.TARGETS), args.json)


if __name__ == "__main__":
    main()
