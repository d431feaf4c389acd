"""The explanation page rendered by headless Chromium: a real, non-blank screenshot.

Skipped where no Chromium binary is installed (``scripts/render_explanation.sh`` installs
Debian's ``chromium`` package and does the same rendering by hand).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from serving.explain.page import render_explanation_for
from tests.serving.cdp import FLAGS  # the one set of headless Chromium flags

try:  # tests/serving without __init__.py: pytest put this folder on sys.path
    from test_explain_support import world_for
except ImportError:  # tests/serving as a package
    from tests.serving.test_explain_support import world_for

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for name in BROWSERS if (path := shutil.which(name))), None)
WIDTH, HEIGHT = 1280, 2000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")


def screenshot(html: Path, png: Path) -> subprocess.CompletedProcess[str]:
    """Render ``html`` to ``png`` with headless Chromium (fresh profile, no network use)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={WIDTH},{HEIGHT}",
                html.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def pixels_near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 30) -> int:
    return int((np.abs(image.astype(np.int64) - np.array(rgb)).sum(axis=2) < tolerance).sum())


def test_page_renders_to_a_non_trivial_screenshot(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from PIL import Image  # a matplotlib dependency, so always installed with the project

    ew = world_for(request)
    recent = ew.recent(800)
    scores = ew.scorer.score_frame(
        recent, ew.frames.get("ens_filings"), ew.frames.get("ens_items"), reasons=False
    ).score
    declaration = ew.declaration(str(recent.declaration_id.iloc[int(np.argmax(scores))]))
    html, png = tmp_path / "page.html", tmp_path / "page.png"
    html.write_text(render_explanation_for(declaration, ew.scorer), encoding="utf-8")
    run = screenshot(html, png)
    assert png.is_file(), run.stderr[-2000:]
    assert png.stat().st_size > 40_000  # a blank page compresses to a few kB
    image = np.asarray(Image.open(png).convert("RGB"))
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200  # text, bars, shading
    background = pixels_near(image, (0xEE, 0xF1, 0xF5), 6) + pixels_near(image, (255, 255, 255), 6)
    assert background < 0.97 * HEIGHT * WIDTH
    assert pixels_near(image, (0x1F, 0x4E, 0x79)) > 30_000  # the header band was styled
    assert pixels_near(image, (0xC6, 0x28, 0x28)) > 1_000  # red waterfall bars were drawn
