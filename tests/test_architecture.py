"""The package layering of ARCHITECTURE.md, enforced by import-linter contracts.

The contracts live in pyproject.toml ([tool.importlinter]): canonical depends on no
project package; features imports none of graph, models, training, serving; nothing
but the CLI imports training; serving never imports training.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout
    assert "BROKEN" not in result.stdout
