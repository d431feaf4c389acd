#!/usr/bin/env bash
# Render the officer explanation page of one declaration and screenshot it in headless
# Chromium, to check the layout by eye.
#
#   scripts/render_explanation.sh [OUT_DIR]          (default OUT_DIR: /tmp/explanation)
#
# Environment (all optional):
#   BUNDLE       model bundle directory; default: train a small one on a generated world
#                (about 30 s, kept in OUT_DIR/train and reused by later runs)
#   DATA         canonical tables directory BUNDLE was trained on (required with BUNDLE)
#   DECLARATION  declaration id; default: the highest score among the latest 2,000
#   HEIGHT       screenshot height in pixels (default 2000; the whole page is ~3,800)
#
# Writes OUT_DIR/explanation.html and OUT_DIR/explanation.png. Installs Debian's
# chromium package with apt-get when no Chromium binary is found.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$(mkdir -p "${1:-/tmp/explanation}" && cd "${1:-/tmp/explanation}" && pwd)"
PY=.venv/bin/python
[ -x "$PY" ] || scripts/setup

find_chromium() {
  local name
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$name" && return 0
  done
  return 1
}
CHROMIUM="$(find_chromium || true)"
if [ -z "$CHROMIUM" ]; then
  echo "no Chromium found: installing Debian's chromium with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  CHROMIUM="$(find_chromium)"
fi

if [ -z "${BUNDLE:-}" ]; then
  DATA="$OUT/world"
  BUNDLE="$OUT/train/bundle"
  if [ ! -f "$BUNDLE/manifest.json" ]; then
    echo "training a small bundle in $OUT/train ..." >&2
    "$PY" - "$OUT" <<'PYTHON'
import logging
import sys
import warnings
from pathlib import Path

from models.lgbm import TreeConfig
from models.train_network import NetworkConfig
from synth import WorldConfig, generate_world, write_world
from training.sources import canonical_frames
from training.train import TrainConfig, train

warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
out = Path(sys.argv[1])
write_world(generate_world(WorldConfig(seed=3, days=120, declarations_per_day=400)), out / "world")
config = TrainConfig(
    tree=TreeConfig(max_rounds=120), network=NetworkConfig(epochs=3, patience=1)
)
result = train(canonical_frames(out / "world"), out / "mlruns", config, work_dir=out / "train")
print(f"bundle: {result.bundle}", file=sys.stderr)
PYTHON
  fi
fi
: "${DATA:?set DATA to the canonical tables directory BUNDLE was trained on}"

"$PY" -m serving.explain --bundle "$BUNDLE" --data "$DATA" --out "$OUT/explanation.html" \
  ${DECLARATION:+--declaration "$DECLARATION"}

PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$PROFILE" --screenshot="$OUT/explanation.png" \
  --window-size=1280,"${HEIGHT:-2000}" "file://$OUT/explanation.html" 2>"$OUT/chromium.log"
echo "page:       $OUT/explanation.html"
echo "screenshot: $OUT/explanation.png ($(stat -c %s "$OUT/explanation.png") bytes)"
