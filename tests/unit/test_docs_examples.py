"""Every example of the write-side guide runs, and the guide shows every example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
GUIDE = ROOT / "docs" / "write-side.md"


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(example: Path) -> None:
    finished = subprocess.run(
        [sys.executable, str(example)],
        cwd=example.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert f"{example.stem.replace('_', ' ')}: ok" in finished.stdout


def test_the_guide_links_every_example() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    missing = [e.name for e in EXAMPLES if f"examples/{e.name}" not in guide]
    assert missing == []
