"""Shared machinery for the benchmarks: repeated runs, medians, ratios, JSON output.

Every benchmark measures eventbook and its baseline (the raw driver, or a peer) in the
same run, repeats the run, and reports medians and the ratios the targets are set on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Figures = dict[str, float]
"""One run's measurements, by name (rates in operations per second, times in seconds)."""


@dataclass(frozen=True)
class Target:
    """`numerator / denominator` must reach `at_least` (or stay within `at_most`)."""

    name: str
    numerator: str
    denominator: str
    at_least: float | None = None
    at_most: float | None = None

    def judge(self, medians: Figures) -> dict[str, Any]:
        missing = [key for key in (self.numerator, self.denominator) if key not in medians]
        if missing:  # an optional contestant that is not installed
            return {"target": self.name, "skipped": f"not measured: {', '.join(missing)}"}
        ratio = medians[self.numerator] / medians[self.denominator]
        met = (self.at_least is None or ratio >= self.at_least) and (
            self.at_most is None or ratio <= self.at_most
        )
        bound = f">= {self.at_least}" if self.at_least is not None else f"<= {self.at_most}"
        return {
            "target": self.name,
            "ratio": round(ratio, 3),
            "required": bound,
            "met": met,
            "of": f"{self.numerator} / {self.denominator}",
        }


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` gives the seconds taken."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


async def repeat(
    runs: int, one_run: Callable[[], Awaitable[Figures]], *, progress: bool = True
) -> list[Figures]:
    results = []
    for index in range(runs):
        results.append(await one_run())
        if progress:
            print(f"run {index + 1}/{runs} done", file=sys.stderr)
    return results


def summarise(name: str, runs: list[Figures], targets: Sequence[Target]) -> dict[str, Any]:
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return {
        "benchmark": name,
        "runs": len(runs),
        "medians": {key: round(value, 6) for key, value in medians.items()},
        "targets": [target.judge(medians) for target in targets],
        "all_runs": runs,
    }


def report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['benchmark']}: medians of {result['runs']} runs")
    for key, value in result["medians"].items():
        print(f"  {key:<40} {value:>14,.3f}")
    for target in result["targets"]:
        if "skipped" in target:
            print(f"  {target['target']:<40} skipped ({target['skipped']})")
            continue
        verdict = "met" if target["met"] else "MISSED"
        print(
            f"  {target['target']:<40} {target['ratio']:>8.3f}"
            f" (needs {target['required']}) {verdict}"
        )


def arguments(doc: str | None, backends: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The options every benchmark takes (`--backend` when it has several), to add its own to."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    if backends:
        parser.add_argument("--backend", choices=backends, default=backends[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the workload sizes (0.1 for a smoke run)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser
