"""How to run ``targeting`` again from here, for the hints the commands print.

``targeting`` is on PATH only inside an activated virtual environment; run as
``.venv/bin/targeting`` (as ``scripts/demo`` does), a hint saying ``targeting runs`` would
fail as written. The hint names the command the way that works: ``targeting`` when PATH
finds this very program, else its path (relative to the working directory when inside it).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def command_name(argv0: str | None = None, path: str | None = None) -> str:
    """``targeting`` if PATH leads to the running program, else its (relative) path."""
    program = Path(argv0 if argv0 is not None else sys.argv[0])
    if program.name != "targeting":  # run another way (python -m, a test runner)
        return "targeting"
    found = shutil.which("targeting", path=path if path is not None else os.environ.get("PATH"))
    if found is not None and Path(found).resolve() == program.resolve():
        return "targeting"
    try:
        return str(program.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(program.resolve())
