"""Where torch keeps its compiler cache: the user's cache folder, not the temp folder.

torch creates ``$TMPDIR/torchinductor_<user>`` the first time its compiler stack loads
(the optimiser's first step, the ONNX exporter) and never removes it, so every training
run would leave it under ``/tmp``. Unless ``TORCHINDUCTOR_CACHE_DIR`` is set, it goes to
``$XDG_CACHE_HOME/torchinductor`` (``~/.cache/torchinductor``), where caches belong.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "TORCHINDUCTOR_CACHE_DIR"


def use_user_cache() -> None:
    """Set torch's compiler cache folder to the user's cache folder, unless chosen."""
    if CACHE_VARIABLE in os.environ:
        return
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    os.environ[CACHE_VARIABLE] = str(Path(base) / "torchinductor")
