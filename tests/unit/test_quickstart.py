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
