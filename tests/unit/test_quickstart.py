"""The quickstart example runs as documented, and again on the same database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_the_quickstart_runs_twice_on_one_database(tmp_path: Path) -> None:
    database = tmp_path / "quickstart.db"
    outputs = [
        subprocess.run(
            [sys.executable, str(EXAMPLE), str(database)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    for output in outputs:
        assert "a stale writer was refused" in output
        assert "live: order-" in output
    assert "now ends at position 3" in outputs[0]
    assert "now ends at position 6" in outputs[1]


README = EXAMPLE.parents[1] / "README.md"


def _readme_example() -> str:
    """The Python block under the README's "The event store in thirty lines"."""
    text = README.read_text()
    section = text.index("## The event store in thirty lines")
    start = text.index("```python\n", section) + len("```python\n")
    return text[start : text.index("```\n", start)]


def test_the_readme_example_ends_by_itself_and_runs_twice(tmp_path: Path) -> None:
    example = tmp_path / "example.py"
    example.write_text(_readme_example())
    assert len(example.read_text().splitlines()) <= 32  # still about thirty lines
    outputs = [
        subprocess.run(
            [sys.executable, "-W", "error", str(example)],
            cwd=tmp_path,  # it makes orders.db where it runs
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    for output in outputs:
        assert output.splitlines()[-1] == "new: OrderPaid"
    # The second run found the first run's order in the global order, and added its own.
    assert len([line for line in outputs[1].splitlines() if " order-" in line]) == 2
