#!/usr/bin/env bash
# Set up InpaintBench from nothing on a fresh machine: a venv in .venv, torch 2.13.0 (CPU) first, then the project.
#   bash scripts/setup.sh          # to run the generator
#   bash scripts/setup.sh test     # plus test tools and Debian's chromium for the browser test
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
# torch first and pinned: with no torch installed, a bare "torch" requirement pulls gigabytes of CUDA wheels.
$PIP install -q torch==2.13.0

# bubblewrap (both modes): the OS sandbox submitted detectors run in (harness/isolation.py); without it they run
# as a plain subprocess, with a warning and "isolated": false in their results.
if ! command -v bwrap >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap >/dev/null; } || \
        echo "warning: could not install bubblewrap; submitted detectors will run WITHOUT isolation" >&2
fi

if [ "${1:-}" = "test" ]; then
    $PIP install -q -e ".[test]"
    # The end-to-end browser test drives Debian's chromium through playwright (never `playwright install`).
    if ! command -v chromium >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null || \
            echo "warning: could not install chromium; the browser test will be skipped" >&2
    fi
    # The learned inpainter's training photos (docs/learned_inpainter.md) are opencv-doc's sample images; its
    # tests check them against the listed hashes and train a few steps on them.
    if [ ! -d /usr/share/doc/opencv-doc/examples/data ]; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq opencv-doc >/dev/null || \
            echo "warning: could not install opencv-doc; the learned inpainter's training tests will fail" >&2
    fi
else
    $PIP install -q -e .
fi
echo "InpaintBench is set up in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
