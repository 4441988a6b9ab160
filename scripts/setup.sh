#!/usr/bin/env bash
# Create .venv and install everything nofx needs. torch goes first, pinned to the CPU wheel, so that no
# later requirement can pull a multi-GB CUDA build; then the rest; then nofx itself (editable, no deps).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
EXTRA=()
# This machine image keeps the CPU torch wheel on local disk; use it when present.
[ -d /opt/wheels ] && EXTRA+=(--find-links /opt/wheels)
if ! "$VPY" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  "$VPY" -m pip install -q "${EXTRA[@]}" "torch==2.13.0"
fi
# constraints keep every other package from replacing that torch
echo "torch==2.13.0" > .venv/torch-constraint.txt
"$VPY" -m pip install -q "${EXTRA[@]}" -c .venv/torch-constraint.txt -r requirements.txt
"$VPY" -m pip install -q --no-deps --no-build-isolation -e .
# The dashboard's browser tests drive Debian's chromium through Playwright (never `playwright install`,
# which downloads another browser). Install it, with a CJK font for the screenshots, when it is missing and
# apt can be used; without it those tests skip with a message, so a failure here never stops the setup.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  { $SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1; }; } \
    || echo "note: could not install chromium (apt-get); the dashboard's browser tests will skip"
fi
echo "nofx environment ready: $(.venv/bin/nofx --version 2>/dev/null || echo installed)"
